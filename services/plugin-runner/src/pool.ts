import { PluginCallError, PluginLoadError, type SourceHealth, type SourceOp } from '@awasm/runner-api';
import { HostAllowlist } from './allowlist.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { type CompiledComponent, ComponentCompiler } from './component-compiler.js';
import { HostScheduler } from './host-scheduler.js';
import { SourceHttp } from './http-host.js';
import { InstanceBudget } from './instance-budget.js';
import { type Logger, silentLogger } from './logger.js';
import { type RunnerLimits, type RunnerOptions, runnerLimits } from './runner-options.js';
import { type InstanceInfo, type RunnerContext, SourceRuntime } from './source-runtime.js';
import { checkSpec, INSTANCE_OVERHEAD_MB, instanceBytes, MIB, type SourceSpec } from './source-spec.js';
import { type SourceStats, snapshotStats } from './source-stats.js';
import { SpareWorkers, spinGate } from './source-worker.js';
import { EngineDamagedError, TranspileCache } from './transpile-cache.js';

export { MAX_TABLES_PER_COMPONENT } from './component-compiler.js';
export { MAX_SPIN_WAIT_MICROS, POOL_DEFAULTS, type RunnerOptions } from './runner-options.js';
export { CANCEL_GRACE_MS, GROWN_MEMORY_RECYCLE_BYTES, type InstanceInfo } from './source-runtime.js';
export { INSTANCE_OVERHEAD_MB, type SourceLimits, type SourceSpec } from './source-spec.js';
export type { CallEvent, CallObserver, SourceStats } from './source-stats.js';

/** What RunnerPool.budgetStats reports. */
export interface BudgetStats {
  /** instance slots (maxInstances) and slots in use */
  max: number;
  inUse: number;
  /** memoryBudgetMb in bytes, and what the instances running or starting count against it */
  memoryBudgetBytes: number;
  memoryInUseBytes: number;
  /** sources waiting in line for an instance */
  waiting: number;
  /** idle instances stopped to make room, instances handed from one source to another after a call */
  evictions: number;
  handovers: number;
}

export interface LoadInfo {
  /** the transpiled component came from the on-disk cache */
  cacheHit: boolean;
  /**
   * ms spent transpiling or reading and checking the cache; a component not compiled yet in this
   * runner is compiled meanwhile (its modules compile while the cached files' hashes are checked)
   */
  transpileMs: number;
  /** ms then waiting for compiled modules (0 when they were compiled with the cache read) */
  compileMs: number;
  /** ms from the core modules being compiled to the first instance being ready (it starts while they compile) */
  startMs: number;
  totalMs: number;
}

/**
 * Runs sources, each instance in its own worker thread with an import object the runner builds
 * itself: a warm pool of instances per source (SourceRuntime), under a runner-wide instance budget
 * (InstanceBudget), from components compiled once per digest (ComponentCompiler).
 */
export class RunnerPool {
  private readonly sources = new Map<string, SourceRuntime>();
  private readonly compiler: ComponentCompiler;
  private readonly logger: Logger;
  private readonly limits: RunnerLimits;
  private readonly lastLoad = new Map<string, LoadInfo>();
  /** bumped by every load and unload of an id: a load finishing after a newer request does not install */
  private readonly tokens = new Map<string, number>();
  private nextToken = 1;
  private closed = false;
  private readonly scheduler: HostScheduler;
  private readonly budget: InstanceBudget;
  private readonly context: RunnerContext;

  constructor(private readonly opts: RunnerOptions) {
    this.limits = runnerLimits(opts);
    this.budget = new InstanceBudget(this.limits.maxInstances, this.limits.memoryBudgetBytes);
    this.compiler = new ComponentCompiler(new TranspileCache(opts.cacheDir), this.limits.maxTableEntries);
    this.logger = opts.logger ?? silentLogger;
    this.scheduler = opts.scheduler ?? new HostScheduler();
    // last: the spares start booting threads at once
    this.context = {
      instancesPerSource: this.limits.instancesPerSource,
      recycleAfterCalls: this.limits.recycleAfterCalls,
      idleTimeoutMs: this.limits.idleTimeoutMs,
      spares: new SpareWorkers(this.limits.spareWorkers),
      spin: spinGate(this.limits.spinWaitMicros),
      logger: this.logger,
      observer: opts.observer,
      budget: this.budget,
    };
  }

  /**
   * Verifies, transpiles (once per digest), caps and compiles the component, then starts its first
   * instance. Loading an id that is already loaded replaces it once the new one is ready.
   */
  async load(spec: SourceSpec): Promise<void> {
    try {
      return await this.loadOnce(spec);
    } catch (err) {
      if (!(err instanceof PluginLoadError && err.cause instanceof EngineDamagedError)) throw err;
      // a damaged shared engine was removed: transpiling the component again writes it anew
      this.logger.warn({ source: spec.id, err: err.message }, 'cached engine damaged; transpiling again');
      await this.compiler.forget(spec.digest);
      return this.loadOnce(spec);
    }
  }

  private async loadOnce(spec: SourceSpec): Promise<void> {
    if (this.closed) throw new PluginLoadError(String(spec?.id), 'the runner is closed');
    checkSpec(spec);
    if (instanceBytes(spec.limits) > this.budget.maxBytes) {
      throw new PluginLoadError(
        spec.id,
        `refused: limits.memoryMb is ${spec.limits.memoryMb} MiB, which with the ${INSTANCE_OVERHEAD_MB} MiB every instance costs the host is more than the runner's whole memory budget of ${this.budget.maxBytes / MIB} MiB (memoryBudgetMb, runner.memory_budget_mb)`,
      );
    }
    const t0 = performance.now();
    const { id } = spec;
    const token = this.nextToken++;
    this.tokens.set(id, token);

    this.compiler.checkImports(id, spec.component);
    let allowlist: HostAllowlist;
    try {
      allowlist = new HostAllowlist(spec.allowedHosts);
    } catch (err) {
      throw new PluginLoadError(id, (err as Error).message);
    }
    const transpiled = await this.compiler.transpile(spec);
    const t1 = performance.now();
    const compiled = transpiled.compile();

    const runtime = new SourceRuntime(
      {
        spec,
        entry: transpiled.entry,
        modules: compiled.then((c) => c.modules),
        http: this.sourceHttp(spec, allowlist),
        breaker: new CircuitBreaker(id, () => this.scheduler.clock.now(), this.opts.circuitBreaker),
      },
      this.context,
    );
    // the first instance starts (and loads the glue) while the core modules compile
    const started = runtime.start();
    let owner: CompiledComponent;
    try {
      owner = await compiled;
    } catch (err) {
      started.catch(() => {});
      runtime.close('failed to load');
      throw err;
    }
    const t2 = performance.now();
    this.compiler.retain(owner);
    try {
      await started;
    } catch (err) {
      runtime.close('failed to load');
      this.compiler.unretain(owner);
      throw new PluginLoadError(id, (err as Error).message, { cause: err });
    }
    const t3 = performance.now();
    if (this.closed || this.tokens.get(id) !== token) {
      this.release(runtime, 'was superseded while loading');
      throw new PluginLoadError(
        id,
        this.closed ? 'the runner closed while loading' : 'was unloaded or loaded again while loading',
      );
    }
    const previous = this.sources.get(id);
    this.sources.set(id, runtime);
    if (previous) this.release(previous, 'was replaced by a new load');
    const info: LoadInfo = {
      cacheHit: transpiled.hit,
      transpileMs: t1 - t0,
      compileMs: t2 - t1,
      startMs: t3 - t2,
      totalMs: t3 - t0,
    };
    this.lastLoad.set(id, info);
    this.logger.info({ source: id, digest: spec.digest, ...info }, 'source loaded');
  }

  /** The HTTP host of one source: its allowlist and limits, the runner's address policy and scheduler. */
  private sourceHttp(spec: SourceSpec, allowlist: HostAllowlist): SourceHttp {
    return new SourceHttp({
      sourceId: spec.id,
      allowlist,
      maxResponseBytes: spec.limits.maxResponseBytes,
      maxConcurrency: spec.limits.maxConcurrency,
      connectTo: this.limits.connectTo,
      allowPrivateAddresses: this.opts.allowPrivateAddresses ?? false,
      logger: this.logger,
      scheduler: this.scheduler.forSource(spec.id, spec.limits.requestsPerSecond),
      ...(this.opts.lookup ? { lookup: this.opts.lookup } : {}),
    });
  }

  /** Shared engines compiled in this runner (for tests and metrics). */
  enginesCompiled(): number {
    return this.compiler.enginesCompiled;
  }

  private release(runtime: SourceRuntime, reason: string): void {
    runtime.close(reason);
    this.compiler.release(runtime.spec);
  }

  async unload(id: string): Promise<void> {
    this.tokens.set(id, this.nextToken++);
    const runtime = this.sources.get(id);
    if (!runtime) return;
    this.sources.delete(id);
    this.lastLoad.delete(id);
    this.release(runtime, 'was unloaded');
  }

  setSettings(id: string, settings: Record<string, string>): void {
    const runtime = this.sources.get(id);
    if (!runtime) throw new PluginCallError('not-loaded', id, `source '${id}' is not loaded`);
    runtime.setSettings(settings);
  }

  /**
   * Runs `op` on source `id`. `timeoutMs` shortens the manifest's call timeout for this call (a
   * timeout that short never counts against the source's health); `signal` cancels it: a queued
   * call is dropped, a running one rejects with 'cancelled' at once while its instance's requests
   * are aborted and its guest is given CANCEL_GRACE_MS to return before its worker is replaced.
   */
  call(
    id: string,
    op: SourceOp,
    args: unknown[],
    opts: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    const runtime = this.sources.get(id);
    if (!runtime) return Promise.reject(new PluginCallError('not-loaded', id, `source '${id}' is not loaded`));
    return runtime.call(op, args, opts.timeoutMs, opts.signal);
  }

  loaded(): string[] {
    return [...this.sources.keys()];
  }

  /** Counters of a loaded source (calls, errors by kind, instances started, HTTP, scheduling). */
  stats(id: string): SourceStats | undefined {
    const s = this.sources.get(id)?.stats;
    return s ? snapshotStats(s) : undefined;
  }

  /** Health of a loaded source: healthy, unhealthy (calls fail fast, with the reason) or probing. */
  health(id: string): SourceHealth | undefined {
    return this.sources.get(id)?.health();
  }

  /** The instances of a loaded source, in the order they were started. */
  instances(id: string): InstanceInfo[] | undefined {
    return this.sources.get(id)?.instanceInfo();
  }

  /**
   * The runner-wide instance budget: slots in use, the memory maxima of the instances running or
   * starting against the memory budget (bytes), sources waiting, instances moved between sources.
   */
  budgetStats(): BudgetStats {
    const b = this.budget;
    return {
      max: b.max,
      inUse: b.inUse,
      memoryBudgetBytes: b.maxBytes,
      memoryInUseBytes: b.bytesInUse,
      waiting: b.waitingCount,
      evictions: b.evictions,
      handovers: b.handovers,
    };
  }

  /** Calls running in instances now, all sources together (what decides whether a worker may spin). */
  callsRunning(): number {
    return Atomics.load(new Int32Array(this.context.spin.running), 0);
  }

  /** Booted workers waiting for the next instance start (see RunnerOptions.spareWorkers). */
  sparesReady(): number {
    return this.context.spares.available;
  }

  /** Timings of the last load of a source. */
  loadInfo(id: string): LoadInfo | undefined {
    return this.lastLoad.get(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.context.spares.close();
    for (const id of [...this.sources.keys()]) await this.unload(id);
  }
}
