import { HostAllowlist } from './allowlist.js';
import { CircuitBreaker, type CircuitBreakerOptions, type SourceHealth, verdictOf } from './circuit-breaker.js';
import { PluginCallError, PluginLoadError } from './errors.js';
import {
  HostScheduler,
  MAX_REQUESTS_PER_SECOND,
  MIN_REQUESTS_PER_SECOND,
  type SchedulerStats,
} from './host-scheduler.js';
import { type HttpStats, type LookupFn, parseConnectTo, SourceHttp } from './http-host.js';
import { checkImports, providedInterfaces, REQUIRED_EXPORT } from './import-policy.js';
import { type BudgetClient, InstanceBudget } from './instance-budget.js';
import { type Logger, silentLogger } from './logger.js';
import { argumentProblem, normaliseArgs, type SourceOp } from './ops.js';
import {
  type CoreModules,
  type EngineCoreModule,
  SourceWorker,
  SpareWorkers,
  type SpinGate,
  spinGate,
  type WorkerReply,
} from './source-worker.js';
import {
  DigestMismatchError,
  EngineDamagedError,
  HANDLES_TO_RECYCLE,
  SHA256_HEX,
  TranspileCache,
  type TranspiledComponent,
} from './transpile-cache.js';
import {
  capLimits,
  componentImportNames,
  MemoryLimitError,
  memoryLimitMessage,
  pagesForMiB,
  TableLimitError,
  WasmFormatError,
} from './wasm-binary.js';

export interface SourceLimits {
  memoryMb: number;
  callTimeoutMs: number;
  maxResponseBytes: number;
  maxConcurrency: number;
  /** the manifest's requests_per_second, per host this source calls (none: no limit of its own) */
  requestsPerSecond?: number;
}

export interface SourceSpec {
  id: string;
  /** sha256 hex of `component` */
  digest: string;
  component: Uint8Array;
  allowedHosts: string[];
  limits: SourceLimits;
  settings: Record<string, string>;
}

export interface RunnerOptions {
  /** where transpiled components are kept, one folder per sha256 */
  cacheDir: string;
  /** "host:port" -> "ip:port", like curl --connect-to; a mapped target may be a loopback/private address */
  connectTo?: Record<string, string>;
  /** let plugins reach loopback, private and link-local addresses (never in production) */
  allowPrivateAddresses?: boolean;
  logger?: Logger;
  /** DNS resolution for plugin requests (default: the system resolver); the address policy applies to its answers */
  lookup?: LookupFn;
  /** outbound scheduling (rate limits, Retry-After); default: in memory with the system clock, no overrides */
  scheduler?: HostScheduler;
  /** when a source counts as unhealthy and when it is probed again */
  circuitBreaker?: CircuitBreakerOptions;
  /** told about every settled call (metrics) */
  observer?: CallObserver;
  /** instances one source may run at once, also capped by its limits.maxConcurrency (default 4) */
  instancesPerSource?: number;
  /** instances of all sources together; sources share it round-robin (default 16) */
  maxInstances?: number;
  /**
   * MiB that the memory maxima of all instances running or starting must fit in together (default
   * 2560): each counts its source's limits.memoryMb plus INSTANCE_OVERHEAD_MB. Past it, idle
   * instances are stopped first, else the source waits in the round-robin line; a source whose one
   * instance would not fit is refused at load.
   */
  memoryBudgetMb?: number;
  /** an instance is replaced by a fresh one after this many calls (default 1000) */
  recycleAfterCalls?: number;
  /** an idle instance beyond a source's first is stopped after this long (default 30 s) */
  idleTimeoutMs?: number;
  /**
   * the most entries any WebAssembly table of a plugin may have (default 100,000): tables get it as
   * their maximum, so a table.grow past it fails; a table that starts larger is refused at load
   */
  maxTableEntries?: number;
  /**
   * worker threads kept booted for the next instance start (default 1; 0: boot each on demand), so
   * a load or a replacement does not wait for a thread to boot
   */
  spareWorkers?: number;
  /**
   * how long (µs) a plugin's worker keeps checking for an HTTP answer before it sleeps (default
   * 200; 0: never). Waking a sleeping thread costs tens of µs per hand-off on a virtual machine,
   * twice per request. Only while fewer calls are running than the machine has cores besides the
   * main thread, so under load no worker spins; bounded per wait, so a slow upstream costs at most
   * this much CPU per request.
   */
  spinWaitMicros?: number;
}

export const POOL_DEFAULTS = {
  instancesPerSource: 4,
  maxInstances: 16,
  // a small home server: maxInstances instances of the manifests' default memory_mb (128) fit, so
  // the instance count binds first for them, and so does one instance of the largest memory_mb a
  // manifest may ask for (2048); bigger plugins run fewer instances at once
  memoryBudgetMb: 2560,
  recycleAfterCalls: 1000,
  idleTimeoutMs: 30_000,
  // componentize-js (StarlingMonkey) components have a fixed 7,780-entry table and jco's shim one of
  // 70; V8 would let a table grow to 10,000,000 entries (~270 MB host memory)
  maxTableEntries: 100_000,
  spareWorkers: 1,
  spinWaitMicros: 200,
} as const;
/** Largest RunnerOptions.spinWaitMicros. */
export const MAX_SPIN_WAIT_MICROS = 2000;
/**
 * What an instance costs the host besides its wasm memory (its thread's V8 isolate and Node
 * environment), counted against RunnerOptions.memoryBudgetMb with its limits.memoryMb.
 */
export const INSTANCE_OVERHEAD_MB = 8;
/**
 * How long the guest of a call its caller gave up on (cancelled, or past the caller's shorter
 * deadline) has to return after its requests were aborted, before its worker is terminated and
 * replaced. Never past the call's own deadline.
 */
export const CANCEL_GRACE_MS = 250;
/**
 * A source's last warm instance whose wasm memory grew by this much since its first call is
 * replaced by a fresh one once idle for idleTimeoutMs: wasm memory never shrinks, and the one
 * instance kept warm would hold a call's peak for as long as the source stays loaded.
 */
export const GROWN_MEMORY_RECYCLE_BYTES = 32 * 1024 * 1024;
const MIB = 1024 * 1024;

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

/** What one instance of a source counts against the runner's memory budget (bytes). */
function instanceBytes(limits: SourceLimits): number {
  return (limits.memoryMb + INSTANCE_OVERHEAD_MB) * MIB;
}

/** A settled call, as the observer (metrics) sees it. */
export interface CallEvent {
  sourceId: string;
  op: SourceOp;
  /** 'ok', or the PluginCallError kind */
  outcome: 'ok' | PluginCallError['kind'];
  /** the source-error tag for source errors, else the kind; undefined when ok */
  errorType?: string;
  durationMs: number;
}

export interface CallObserver {
  callSettled(event: CallEvent): void;
}

export interface SourceStats {
  calls: number;
  ok: number;
  sourceErrors: number;
  traps: number;
  deadlineExceeded: number;
  /** calls their caller cancelled (AbortSignal) before they settled */
  cancelled: number;
  /** instances started, the first one included */
  instancesStarted: number;
  /** instances running or starting now */
  instancesLive: number;
  /** instances replaced after recycleAfterCalls calls, or holding HANDLES_TO_RECYCLE handles of one type */
  instancesRecycled: number;
  /** bytes of stdout/stderr/log a plugin wrote past its per-call budget */
  droppedOutputBytes: number;
  /** bytes of wasm memory of the instance that served the last call, after it (0 before the first) */
  memoryBytes: number;
  /** calls refused because the source was unhealthy */
  unavailable: number;
  http: HttpStats;
  scheduler: SchedulerStats;
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

interface CompiledComponent {
  modules: CoreModules;
  users: number;
  /** the shared engines its split modules use (see RunnerPool.engines) */
  engines: HeldEngine[];
}

/** A shared engine in RunnerPool.engines and how many compiled components use it. */
interface HeldEngine {
  digest: string;
  compiled: Promise<CompiledEngine>;
  users: number;
}

/** A shared engine compiled once for every source whose split core module uses it. */
interface CompiledEngine {
  module: WebAssembly.Module;
  /** tables it defines */
  tables: number;
}

/** Why a core module is refused, without the source's name (an engine is shared by sources). */
class ModuleRefusal extends Error {}

interface PendingCall {
  op: SourceOp;
  /** set when the call reaches an instance */
  started?: boolean;
  /** set when the host refused one of its requests for want of a rate-limit slot: seconds to wait */
  rateLimited?: number;
  args: unknown[];
  deadline: number;
  /** the deadline is the caller's, shorter than the manifest's call timeout */
  callerDeadline: boolean;
  /** the manifest's call timeout counted from when the call arrived (epoch ms) */
  ownDeadline: number;
  timer: NodeJS.Timeout;
  /** set once the caller's promise is settled while an instance still runs the call (cancelled) */
  givenUp?: boolean;
  resolve: (value: unknown) => void;
  reject: (err: PluginCallError) => void;
}

/** One instance of a source: a worker thread and what it is doing. */
interface Instance {
  /** numbered from 1 per source, in the order instances were started */
  readonly id: number;
  worker: SourceWorker;
  ready: boolean;
  /** calls started on this instance */
  calls: number;
  /** the most handles of one resource type the instance has held (its last reply says) */
  handleSlots: number;
  /** why to retire it once free: its last reply said it holds too much in the host */
  retireReason: string | undefined;
  call: PendingCall | undefined;
  /** ends a given-up call's grace: the worker is terminated if the guest has not returned by then */
  graceTimer: NodeJS.Timeout | undefined;
  /** wasm memory after its first call, and after its last one (bytes; 0 before the first) */
  firstMemoryBytes: number;
  memoryBytes: number;
  /** performance.now() when it last became idle */
  idleAt: number;
  idleTimer: NodeJS.Timeout | undefined;
}

/** What `RunnerPool.instances` reports of one instance. */
export interface InstanceInfo {
  id: number;
  calls: number;
  state: 'starting' | 'idle' | 'busy';
}

interface PoolSettings {
  instancesPerSource: number;
  recycleAfterCalls: number;
  idleTimeoutMs: number;
  spares: SpareWorkers;
  spin: SpinGate;
}

/**
 * One loaded source: its compiled component, HTTP policy, a warm pool of instances and a call
 * queue. Instances are started on demand up to min(limits.maxConcurrency, instancesPerSource),
 * each slot taken from the runner-wide budget; one is kept warm, others stop after idleTimeoutMs.
 * An instance that traps or times out is stopped; one that has served recycleAfterCalls calls is
 * replaced by a fresh one.
 */
class SourceRuntime implements BudgetClient {
  readonly stats: SourceStats;
  private readonly instances = new Set<Instance>();
  /** idle instances, most recently used last */
  private readonly idle: Instance[] = [];
  private startingCount = 0;
  private nextInstanceId = 1;
  private readonly queue: PendingCall[] = [];
  private closed = false;
  /** while a load waits for the memory of its first instance: settles that wait */
  private firstWait: { resolve: () => void; reject: (err: Error) => void } | undefined;
  readonly instanceBytes: number;

  constructor(
    readonly spec: SourceSpec,
    private readonly entry: TranspiledComponent,
    private modules: CoreModules | Promise<CoreModules>,
    readonly http: SourceHttp,
    private settings: Record<string, string>,
    private readonly logger: Logger,
    readonly breaker: CircuitBreaker,
    private readonly observer: CallObserver | undefined,
    private readonly budget: InstanceBudget,
    private readonly pool: PoolSettings,
  ) {
    this.stats = {
      calls: 0,
      ok: 0,
      sourceErrors: 0,
      traps: 0,
      deadlineExceeded: 0,
      cancelled: 0,
      instancesStarted: 0,
      instancesLive: 0,
      instancesRecycled: 0,
      droppedOutputBytes: 0,
      memoryBytes: 0,
      unavailable: 0,
      http: http.stats,
      scheduler: http.scheduler.stats,
    };
    this.instanceBytes = instanceBytes(spec.limits);
    budget.register(this);
    if (modules instanceof Promise) {
      modules.then(
        (m) => {
          this.modules = m;
        },
        () => {},
      );
    }
  }

  get id(): string {
    return this.spec.id;
  }

  /** The most instances this source may run at once. */
  get cap(): number {
    return Math.max(1, Math.min(this.spec.limits.maxConcurrency, this.pool.instancesPerSource));
  }

  get instanceCount(): number {
    return this.instances.size;
  }

  get loading(): boolean {
    return this.firstWait !== undefined;
  }

  wantsInstance(): boolean {
    if (this.closed || this.instances.size >= this.cap) return false;
    return this.queue.length > this.startingCount || (this.firstWait !== undefined && this.instances.size === 0);
  }

  grant(): void {
    if (this.closed) {
      this.budget.release(this);
      return;
    }
    const inst = this.startInstance();
    const wait = this.firstWait;
    if (wait) {
      this.firstWait = undefined;
      inst.worker.ready.then(wait.resolve, wait.reject);
    }
  }

  idleTimes(): number[] {
    return this.idle.map((i) => i.idleAt);
  }

  evictIdle(): void {
    const inst = this.idle[0];
    if (inst) this.retire(inst, 'stopped to make room for another source', false);
  }

  /**
   * Starts the first instance (at load, even past the instance count, waiting for memory when the
   * budget's bytes are taken by busy instances) and waits until it is ready.
   */
  async start(): Promise<void> {
    if (this.budget.acquireFirst(this)) {
      await this.startInstance().worker.ready;
      return;
    }
    this.logger.info(
      { source: this.id, memoryBudgetBytes: this.budget.maxBytes, inUseBytes: this.budget.bytesInUse },
      'load waits for room in the runner memory budget',
    );
    await new Promise<void>((resolve, reject) => {
      this.firstWait = { resolve, reject };
    });
  }

  instanceInfo(): InstanceInfo[] {
    return [...this.instances]
      .map((i) => ({
        id: i.id,
        calls: i.calls,
        state: (i.call ? 'busy' : i.ready ? 'idle' : 'starting') as InstanceInfo['state'],
      }))
      .sort((a, b) => a.id - b.id);
  }

  /** Starts an instance in a slot the caller holds. */
  private startInstance(): Instance {
    const inst: Instance = {
      id: this.nextInstanceId++,
      worker: undefined as unknown as SourceWorker,
      ready: false,
      calls: 0,
      handleSlots: 0,
      retireReason: undefined,
      call: undefined,
      graceTimer: undefined,
      firstMemoryBytes: 0,
      memoryBytes: 0,
      idleAt: 0,
      idleTimer: undefined,
    };
    inst.worker = new SourceWorker(
      {
        sourceId: this.id,
        generation: inst.id,
        componentUrl: this.entry.componentUrl,
        modules: this.modules,
        settings: this.settings,
        maxRequestBodyBytes: this.spec.limits.maxResponseBytes,
        http: this.http,
        deadline: () => inst.call?.deadline ?? Date.now() + this.spec.limits.callTimeoutMs,
        onRateLimited: (seconds) => {
          const call = inst.call;
          if (call) call.rateLimited = Math.max(call.rateLimited ?? 0, seconds);
        },
        logger: this.logger,
        spin: this.pool.spin,
      },
      this.pool.spares,
    );
    this.instances.add(inst);
    this.startingCount++;
    this.stats.instancesStarted++;
    this.stats.instancesLive = this.instances.size;
    inst.worker.ready.then(
      () => {
        this.startingCount--;
        if (!this.instances.has(inst)) return;
        inst.ready = true;
        this.free(inst);
      },
      (err: Error) => {
        this.startingCount--;
        if (!this.instances.has(inst)) return;
        this.logger.error({ source: this.id, err: err.message }, 'instance failed to start');
        this.retire(inst, err.message, true);
        // without a working instance the queued calls would wait for one that cannot start
        if (![...this.instances].some((i) => i.ready)) {
          for (const call of this.queue.splice(0)) {
            clearTimeout(call.timer);
            this.stats.traps++;
            call.reject(new PluginCallError('trap', this.id, err.message));
          }
        }
      },
    );
    return inst;
  }

  /** Stops an instance; `release` gives its slot back to the budget (else the caller reuses it). */
  private retire(inst: Instance, reason: string, release: boolean): void {
    if (!this.instances.delete(inst)) return;
    this.stats.instancesLive = this.instances.size;
    const at = this.idle.indexOf(inst);
    if (at >= 0) this.idle.splice(at, 1);
    if (inst.idleTimer) clearTimeout(inst.idleTimer);
    if (inst.graceTimer) clearTimeout(inst.graceTimer);
    inst.worker.kill(reason);
    if (release) this.budget.release(this);
  }

  /** After a trap, a timeout or a recycle: keep one instance warm if the budget has room. */
  private keepWarm(): void {
    if (this.closed || this.instances.size > 0) return;
    if (this.budget.acquire(this, { wait: false })) this.startInstance();
  }

  /** Places queued calls on idle instances, and asks for more instances when none is idle. */
  private dispatch(): void {
    while (!this.closed && this.queue.length > 0) {
      const inst = this.idle.pop();
      if (inst) {
        this.run(inst, this.queue.shift() as PendingCall);
        continue;
      }
      if (!this.wantsInstance() || !this.budget.acquire(this)) return;
      this.startInstance();
    }
  }

  /** An instance is ready or has finished a call: recycle it, hand it over, give it work, or idle it. */
  private free(inst: Instance): void {
    if (this.closed || !this.instances.has(inst)) return;
    // an instance whose guest keeps handles it no longer uses is retired before the cap traps a call
    const recycle =
      inst.calls >= this.pool.recycleAfterCalls
        ? `recycled after ${inst.calls} calls`
        : inst.handleSlots > HANDLES_TO_RECYCLE
          ? `recycled holding ${inst.handleSlots} handles of one resource type`
          : inst.retireReason && `recycled: ${inst.retireReason}`;
    if (recycle) {
      this.stats.instancesRecycled++;
      this.retire(inst, recycle, true);
      this.dispatch();
      this.keepWarm();
      return;
    }
    // a fresh instance serves at least one call before it can be handed to another source
    const after = inst.calls > 0 ? this.budget.afterCall(this, this.queue.length > 0) : undefined;
    if (after === 'release') {
      this.retire(inst, 'stopped to make room for a waiting source', true);
      this.dispatch();
      return;
    }
    if (after) {
      this.retire(inst, 'handed over to another source', false);
      this.budget.handOver(this, after.handOver);
      this.dispatch();
      return;
    }
    const next = this.queue.shift();
    if (next) {
      this.run(inst, next);
      return;
    }
    inst.idleAt = performance.now();
    this.idle.push(inst);
    const grown = inst.memoryBytes - inst.firstMemoryBytes >= GROWN_MEMORY_RECYCLE_BYTES;
    if (this.instances.size > 1 || grown) {
      inst.idleTimer = setTimeout(() => {
        inst.idleTimer = undefined;
        if (!this.idle.includes(inst)) return;
        if (this.instances.size > 1) this.retire(inst, 'idle', true);
        else if (grown) {
          this.stats.instancesRecycled++;
          this.retire(inst, `recycled: idle holding ${inst.memoryBytes} bytes of wasm memory`, true);
          this.keepWarm();
        }
      }, this.pool.idleTimeoutMs);
      inst.idleTimer.unref();
    }
    this.budget.instanceIdle();
  }

  private run(inst: Instance, call: PendingCall): void {
    if (inst.idleTimer) {
      clearTimeout(inst.idleTimer);
      inst.idleTimer = undefined;
    }
    inst.call = call;
    call.started = true;
    inst.calls++;
    void inst.worker.run(call.op, call.args).then((reply) => {
      if (inst.call !== call) return; // expired or unloaded meanwhile: already settled
      inst.call = undefined;
      clearTimeout(call.timer);
      if (inst.graceTimer) {
        clearTimeout(inst.graceTimer);
        inst.graceTimer = undefined;
      }
      this.settle(call, reply, inst);
      this.free(inst);
    });
  }

  setSettings(settings: Record<string, string>): void {
    this.settings = { ...settings };
    for (const inst of this.instances) inst.worker.setSettings(this.settings);
  }

  call(op: SourceOp, args: unknown[], timeoutMs: number | undefined, signal?: AbortSignal): Promise<unknown> {
    if (this.closed)
      return Promise.reject(new PluginCallError('not-loaded', this.id, `source '${this.id}' is not loaded`));
    const problem = argumentProblem(op, args);
    if (problem) return Promise.reject(new PluginCallError('refused', this.id, problem));
    const cap = this.spec.limits.callTimeoutMs;
    const budget = timeoutMs === undefined ? cap : Math.min(timeoutMs, cap);
    if (!(budget > 0)) {
      return Promise.reject(new PluginCallError('deadline-exceeded', this.id, `no time left for ${this.id}.${op}`));
    }
    if (signal?.aborted) {
      this.stats.cancelled++;
      const err = new PluginCallError('cancelled', this.id, `${this.id}.${op} was cancelled by its caller`);
      this.observe(op, 0, err);
      return Promise.reject(err);
    }
    const gate = this.breaker.admit();
    if (!gate.ok) {
      this.stats.unavailable++;
      const err = new PluginCallError('unavailable', this.id, gate.message);
      this.observe(op, 0, err);
      return Promise.reject(err);
    }
    this.stats.calls++;
    const t0 = performance.now();
    let pending: PendingCall | undefined;
    let onAbort: (() => void) | undefined;
    const settled = new Promise<unknown>((resolve, reject) => {
      const now = Date.now();
      const call: PendingCall = {
        op,
        args: normaliseArgs(op, args),
        deadline: now + budget,
        callerDeadline: budget < cap,
        ownDeadline: now + cap,
        resolve,
        reject,
        timer: setTimeout(() => this.expire(call, budget), budget),
      };
      pending = call;
      if (signal) {
        onAbort = () => this.cancel(call);
        signal.addEventListener('abort', onAbort, { once: true });
      }
      this.queue.push(call);
      this.dispatch();
    });
    return settled.then(
      (value) => {
        if (onAbort) signal?.removeEventListener('abort', onAbort);
        this.breaker.record(verdictOf(undefined, true), gate.probe);
        this.observe(op, performance.now() - t0, undefined);
        return value;
      },
      (err: PluginCallError) => {
        if (onAbort) signal?.removeEventListener('abort', onAbort);
        const call = pending as PendingCall;
        // a failure that came when the caller's shorter deadline had passed is the caller's doing
        const cutShort = call.callerDeadline && Date.now() >= call.deadline;
        this.breaker.record(verdictOf(err, call.started === true, cutShort), gate.probe);
        this.observe(op, performance.now() - t0, err);
        throw err;
      },
    );
  }

  /**
   * The caller gave up on `call` (its AbortSignal fired): a queued call leaves the queue; a running
   * one is answered 'cancelled' at once and its instance is told (see giveUp).
   */
  private cancel(call: PendingCall): void {
    const message = `${this.id}.${call.op} was cancelled by its caller`;
    const queued = this.queue.indexOf(call);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      clearTimeout(call.timer);
      this.stats.cancelled++;
      call.reject(new PluginCallError('cancelled', this.id, message));
      return;
    }
    if (call.givenUp) return;
    const inst = [...this.instances].find((i) => i.call === call);
    if (!inst) return; // settled already
    clearTimeout(call.timer);
    this.stats.cancelled++;
    call.reject(new PluginCallError('cancelled', this.id, message));
    this.giveUp(inst, call, call.deadline);
  }

  /**
   * `call`, already answered, keeps `inst` busy until its guest returns: its requests are aborted
   * (the guest sees them fail) and new ones refused; a guest that has not returned within
   * CANCEL_GRACE_MS (or by `limit`, epoch ms, if sooner) has its worker terminated and replaced.
   */
  private giveUp(inst: Instance, call: PendingCall, limit: number): void {
    call.givenUp = true;
    inst.worker.cancel();
    const stop = () => {
      inst.graceTimer = undefined;
      if (inst.call !== call) return;
      inst.call = undefined;
      this.retire(
        inst,
        `${this.id}.${call.op} did not return after its caller gave up; the instance was terminated`,
        true,
      );
      this.dispatch();
      this.keepWarm();
    };
    const graceMs = Math.min(CANCEL_GRACE_MS, limit - Date.now());
    if (graceMs <= 0) {
      stop();
      return;
    }
    inst.graceTimer = setTimeout(stop, graceMs);
    inst.graceTimer.unref();
  }

  private observe(op: SourceOp, durationMs: number, err: PluginCallError | undefined): void {
    if (!this.observer) return;
    const outcome = err ? err.kind : 'ok';
    const errorType = err ? (err.kind === 'source-error' ? (err.sourceError?.tag ?? 'internal') : err.kind) : undefined;
    try {
      this.observer.callSettled({ sourceId: this.id, op, outcome, durationMs, ...(errorType ? { errorType } : {}) });
    } catch (e) {
      this.logger.error({ source: this.id, err: (e as Error).message }, 'call observer failed');
    }
  }

  health(): SourceHealth {
    return this.breaker.health();
  }

  private expire(call: PendingCall, budget: number): void {
    this.stats.deadlineExceeded++;
    const queued = this.queue.indexOf(call);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      call.reject(
        new PluginCallError(
          'deadline-exceeded',
          this.id,
          `${this.id}.${call.op} did not start within its ${budget} ms deadline`,
        ),
      );
      return;
    }
    const inst = [...this.instances].find((i) => i.call === call);
    if (!inst || call.givenUp) return;
    if (call.callerDeadline) {
      // the caller's shorter deadline: the guest may still return within the manifest's own timeout
      call.reject(
        new PluginCallError(
          'deadline-exceeded',
          this.id,
          `${this.id}.${call.op} exceeded its ${budget} ms deadline (its caller's, shorter than the source's own)`,
        ),
      );
      this.giveUp(inst, call, call.ownDeadline);
      return;
    }
    inst.call = undefined;
    const message = `${this.id}.${call.op} exceeded its ${budget} ms deadline; the instance was terminated`;
    this.logger.warn({ source: this.id, op: call.op, budgetMs: budget }, 'plugin call deadline exceeded');
    call.reject(new PluginCallError('deadline-exceeded', this.id, message));
    this.retire(inst, message, true);
    this.dispatch();
    this.keepWarm();
  }

  private settle(call: PendingCall, reply: WorkerReply, inst: Instance): void {
    if (reply.dropped > 0) {
      this.stats.droppedOutputBytes += reply.dropped;
      this.logger.warn(
        { source: this.id, op: call.op, droppedBytes: reply.dropped },
        'plugin output over the per-call budget was dropped',
      );
    }
    if (reply.memoryBytes !== undefined) {
      this.stats.memoryBytes = reply.memoryBytes;
      inst.memoryBytes = reply.memoryBytes;
      if (inst.firstMemoryBytes === 0) inst.firstMemoryBytes = reply.memoryBytes;
    }
    if (reply.handleSlots !== undefined) inst.handleSlots = reply.handleSlots;
    inst.retireReason = reply.retire;
    if (call.givenUp) {
      // answered already (cancelled, or past its caller's deadline); a trapped instance still goes
      if (!reply.ok && reply.error.kind === 'trap') {
        this.stats.traps++;
        this.replaceTrapped(inst, reply.error.message);
      }
      return;
    }
    if (call.rateLimited !== undefined && (reply.ok || reply.error.kind !== 'refused')) {
      // The host refused one of the call's requests: no rate-limit slot started before its deadline.
      // Whatever the plugin made of that, the call's answer is the typed rate-limited error.
      this.stats.sourceErrors++;
      if (!reply.ok && reply.error.kind === 'trap') this.replaceTrapped(inst, reply.error.message);
      call.reject(
        new PluginCallError(
          'source-error',
          this.id,
          `${this.id}.${call.op} is rate limited: no request slot before its deadline; retry after ${call.rateLimited} s`,
          { tag: 'rate-limited', val: call.rateLimited },
        ),
      );
      return;
    }
    if (reply.ok) {
      this.stats.ok++;
      call.resolve(reply.value);
      return;
    }
    const { kind, message, sourceError } = reply.error;
    if (kind === 'source-error') {
      this.stats.sourceErrors++;
      call.reject(
        new PluginCallError('source-error', this.id, `${this.id}.${call.op} failed: ${message}`, sourceError),
      );
      return;
    }
    if (kind === 'refused') {
      call.reject(new PluginCallError('refused', this.id, message));
      return;
    }
    this.stats.traps++;
    this.replaceTrapped(inst, message);
    call.reject(new PluginCallError('trap', this.id, `${this.id}.${call.op} trapped: ${message}`));
  }

  /** A trapped instance may not be entered again: stop it (a fresh one is started when needed). */
  private replaceTrapped(inst: Instance, message: string): void {
    this.logger.warn({ source: this.id, reason: message }, 'plugin trapped; replacing its instance');
    this.retire(inst, message, true);
    this.keepWarm();
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.budget.unregister(this);
    const calls = [...this.queue.splice(0)];
    for (const inst of this.instances) if (inst.call && !inst.call.givenUp) calls.push(inst.call);
    const wait = this.firstWait;
    this.firstWait = undefined;
    wait?.reject(new Error(`source ${reason} while its load waited for room in the memory budget`));
    for (const call of calls) {
      clearTimeout(call.timer);
      call.reject(new PluginCallError('not-loaded', this.id, `source '${this.id}' ${reason}`));
    }
    for (const inst of [...this.instances]) {
      inst.call = undefined;
      this.retire(inst, `source ${reason}`, true);
    }
    this.http.close();
  }
}

function checkSpec(spec: SourceSpec): void {
  const fail = (msg: string): never => {
    throw new PluginLoadError(String(spec?.id), msg);
  };
  if (typeof spec.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(spec.id)) {
    fail('id must be 1-128 letters, digits, ".", "_" or "-"');
  }
  if (typeof spec.digest !== 'string' || !SHA256_HEX.test(spec.digest))
    fail('digest must be a lowercase sha256 hex string');
  if (!(spec.component instanceof Uint8Array)) fail('component must be a Uint8Array');
  const l = spec.limits;
  if (!l) fail('limits are required');
  const positiveInt = (name: Exclude<keyof SourceLimits, 'requestsPerSecond'>, max: number) => {
    const v = l[name];
    if (!Number.isInteger(v) || v < 1 || v > max) fail(`limits.${name} must be an integer from 1 to ${max}, got ${v}`);
  };
  positiveInt('memoryMb', 4096);
  positiveInt('callTimeoutMs', 24 * 3600 * 1000);
  positiveInt('maxResponseBytes', 1024 * 1024 * 1024);
  positiveInt('maxConcurrency', 1024);
  const rps = l.requestsPerSecond;
  if (
    rps !== undefined &&
    !(typeof rps === 'number' && rps >= MIN_REQUESTS_PER_SECOND && rps <= MAX_REQUESTS_PER_SECOND)
  ) {
    fail(`limits.requestsPerSecond must be from ${MIN_REQUESTS_PER_SECOND} to ${MAX_REQUESTS_PER_SECOND}, got ${rps}`);
  }
  if (!Array.isArray(spec.allowedHosts)) fail('allowedHosts must be an array');
  for (const [k, v] of Object.entries(spec.settings ?? {})) {
    if (typeof v !== 'string') fail(`setting '${k}' must be a string`);
  }
}

/**
 * Tables the core modules of one component may define in all (each capped at maxTableEntries); a
 * component built by componentize-js defines 3, a C one 3. Together with one memory per component,
 * this keeps a component of many core modules from multiplying the caps that hold for one.
 */
export const MAX_TABLES_PER_COMPONENT = 32;

/** What each core module of a component defines (not imports), by module name. */
type ComponentCensus = Map<string, { memories: number; tables: number }>;

/** Core modules up to this size are compiled on the calling thread, at once. */
const SYNC_COMPILE_MAX = 256 * 1024;

function compileCapped(capped: Uint8Array): Promise<WebAssembly.Module> {
  // a small module compiles in well under a millisecond here, where V8's background compile of it
  // waited 10-15 ms for a thread while a worker was booting
  if (capped.length <= SYNC_COMPILE_MAX) {
    try {
      return Promise.resolve(new WebAssembly.Module(capped));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return WebAssembly.compile(capped);
}

/**
 * Refuses a component whose core modules define more than one memory (memory_mb caps each memory,
 * so a second one would double what an instance may take) or more than MAX_TABLES_PER_COMPONENT
 * tables, naming the modules.
 */
function checkCensus(id: string, census: ComponentCensus): void {
  const withMemory = [...census].filter(([, c]) => c.memories > 0);
  const memories = withMemory.reduce((n, [, c]) => n + c.memories, 0);
  if (memories > 1) {
    throw new PluginLoadError(
      id,
      `refused: the component's core modules define ${memories} memories (${withMemory.map(([name, c]) => `${name}: ${c.memories}`).join(', ')}); a component may define one, which limits.memoryMb caps`,
    );
  }
  const tables = [...census.values()].reduce((n, c) => n + c.tables, 0);
  if (tables > MAX_TABLES_PER_COMPONENT) {
    throw new PluginLoadError(
      id,
      `refused: the component's core modules define ${tables} tables, over the ${MAX_TABLES_PER_COMPONENT} a component may have`,
    );
  }
}

/**
 * Runs sources, each instance in its own worker thread with an import object the runner builds
 * itself: a warm pool of instances per source, under a runner-wide instance budget.
 */
export class RunnerPool {
  private readonly sources = new Map<string, SourceRuntime>();
  private readonly compiled = new Map<string, Promise<CompiledComponent>>();
  /** shared engines by digest, and how many compiled components use each */
  private readonly engines = new Map<string, HeldEngine>();
  private readonly cache: TranspileCache;
  private readonly logger: Logger;
  private readonly connectTo: ReturnType<typeof parseConnectTo>;
  private readonly lastLoad = new Map<string, LoadInfo>();
  /** bumped by every load and unload of an id: a load finishing after a newer request does not install */
  private readonly tokens = new Map<string, number>();
  private nextToken = 1;
  private closed = false;
  private readonly scheduler: HostScheduler;
  private readonly budget: InstanceBudget;
  private readonly poolSettings: PoolSettings;
  private readonly maxTableEntries: number;

  constructor(private readonly opts: RunnerOptions) {
    const count = (name: keyof typeof POOL_DEFAULTS) => {
      const v = opts[name] ?? POOL_DEFAULTS[name];
      if (!Number.isInteger(v) || v < 1) throw new Error(`RunnerOptions.${name} must be a positive integer, got ${v}`);
      return v;
    };
    this.budget = new InstanceBudget(count('maxInstances'), count('memoryBudgetMb') * MIB);
    const spares = opts.spareWorkers ?? POOL_DEFAULTS.spareWorkers;
    if (!Number.isInteger(spares) || spares < 0 || spares > 16) {
      throw new Error(`RunnerOptions.spareWorkers must be a whole number from 0 to 16, got ${spares}`);
    }
    const spinMicros = opts.spinWaitMicros ?? POOL_DEFAULTS.spinWaitMicros;
    if (!Number.isInteger(spinMicros) || spinMicros < 0 || spinMicros > MAX_SPIN_WAIT_MICROS) {
      throw new Error(
        `RunnerOptions.spinWaitMicros must be a whole number from 0 to ${MAX_SPIN_WAIT_MICROS}, got ${spinMicros}`,
      );
    }
    this.maxTableEntries = count('maxTableEntries');
    this.cache = new TranspileCache(opts.cacheDir);
    this.logger = opts.logger ?? silentLogger;
    this.connectTo = parseConnectTo(opts.connectTo);
    this.scheduler = opts.scheduler ?? new HostScheduler();
    // last: the spares start booting threads at once
    this.poolSettings = {
      instancesPerSource: count('instancesPerSource'),
      recycleAfterCalls: count('recycleAfterCalls'),
      idleTimeoutMs: count('idleTimeoutMs'),
      spares: new SpareWorkers(spares),
      spin: spinGate(spinMicros),
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
      await this.cache.forget(spec.digest);
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

    let importNames: string[];
    try {
      importNames = componentImportNames(spec.component);
    } catch (err) {
      if (err instanceof WasmFormatError) throw new PluginLoadError(id, `not a WebAssembly component: ${err.message}`);
      throw err;
    }
    const problems = checkImports(importNames);
    if (problems.length > 0) throw new PluginLoadError(id, `refused: the component ${problems.join('; ')}`);

    let allowlist: HostAllowlist;
    try {
      allowlist = new HostAllowlist(spec.allowedHosts);
    } catch (err) {
      throw new PluginLoadError(id, (err as Error).message);
    }

    const key = `${spec.digest}:${spec.limits.memoryMb}`;
    const census: ComponentCensus = new Map();
    // a component not compiled yet is compiled while the cache checks its files (see PrepareFn)
    const prepare = this.compiled.has(key)
      ? undefined
      : (name: string, bytes: Uint8Array) => this.compileModule(id, name, bytes, spec.limits.memoryMb, census);
    let entry: TranspiledComponent;
    let hit: boolean;
    let prepared: Map<string, WebAssembly.Module> | undefined;
    try {
      ({ entry, hit, prepared } = await this.cache.get(spec.digest, spec.component, prepare));
    } catch (err) {
      if (err instanceof DigestMismatchError || err instanceof PluginLoadError) {
        throw err instanceof PluginLoadError ? err : new PluginLoadError(id, err.message);
      }
      throw new PluginLoadError(id, `the component could not be transpiled: ${(err as Error).message}`, { cause: err });
    }
    const t1 = performance.now();
    const provided = new Set(providedInterfaces);
    const missing = entry.imports.filter((name) => !provided.has(name));
    if (missing.length > 0) {
      throw new PluginLoadError(
        id,
        `refused: the component imports ${missing.join(', ')}, which the host does not provide`,
      );
    }
    if (!entry.exports.some((name) => REQUIRED_EXPORT.test(name))) {
      throw new PluginLoadError(id, 'the component does not export awasm:source/source-api@0.1.x');
    }

    let compiled = this.compiled.get(key);
    if (!compiled) {
      const split = this.splitModules(id, entry, spec.limits.memoryMb, census);
      compiled = Promise.all([
        prepared
          ? Promise.resolve(Object.fromEntries(prepared))
          : this.compile(id, entry, spec.limits.memoryMb, census),
        split,
      ]).then(([whole, engines]) => {
        checkCensus(id, census);
        return { modules: { ...whole, ...engines.modules }, users: 0, engines: engines.held };
      });
      // the engines taken are given back when the component fails to compile or its last user goes
      compiled.catch(() => {
        this.compiled.delete(key);
        void split.then(
          (e) => {
            for (const held of e.held) this.dropEngine(held);
          },
          () => {},
        );
      });
      this.compiled.set(key, compiled);
    }
    const http = new SourceHttp({
      sourceId: id,
      allowlist,
      maxResponseBytes: spec.limits.maxResponseBytes,
      maxConcurrency: spec.limits.maxConcurrency,
      connectTo: this.connectTo,
      allowPrivateAddresses: this.opts.allowPrivateAddresses ?? false,
      logger: this.logger,
      scheduler: this.scheduler.forSource(id, spec.limits.requestsPerSecond),
      ...(this.opts.lookup ? { lookup: this.opts.lookup } : {}),
    });
    const breaker = new CircuitBreaker(id, () => this.scheduler.clock.now(), this.opts.circuitBreaker);
    // the first instance starts (and loads the glue) while the core modules compile
    const runtime = new SourceRuntime(
      spec,
      entry,
      compiled.then((c) => c.modules),
      http,
      { ...spec.settings },
      this.logger,
      breaker,
      this.opts.observer,
      this.budget,
      this.poolSettings,
    );
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
    owner.users++;
    try {
      await started;
    } catch (err) {
      runtime.close('failed to load');
      owner.users--;
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
      cacheHit: hit,
      transpileMs: t1 - t0,
      compileMs: t2 - t1,
      startMs: t3 - t2,
      totalMs: t3 - t0,
    };
    this.lastLoad.set(id, info);
    this.logger.info({ source: id, digest: spec.digest, ...info }, 'source loaded');
  }

  private async compile(
    id: string,
    entry: TranspiledComponent,
    memoryMb: number,
    census: ComponentCensus,
  ): Promise<Record<string, WebAssembly.Module>> {
    const modules: Record<string, WebAssembly.Module> = {};
    for (const [name, bytes] of entry.coreModules) {
      modules[name] = await this.compileModule(id, name, bytes, memoryMb, census);
    }
    return modules;
  }

  /** Caps the module's memories and tables, then compiles it; what it defines goes in `census`. */
  private compileModule(
    id: string,
    name: string,
    bytes: Uint8Array,
    memoryMb: number,
    census: ComponentCensus,
  ): Promise<WebAssembly.Module> {
    try {
      const { capped, defines } = this.capModule(name, bytes, memoryMb);
      census.set(name, defines);
      return compileCapped(capped);
    } catch (err) {
      if (err instanceof ModuleRefusal) return Promise.reject(new PluginLoadError(id, err.message));
      return Promise.reject(err);
    }
  }

  /**
   * A core module with its memories (unless `memoryMb` is undefined) and tables capped, and what it
   * defines. Throws a ModuleRefusal saying why a module is refused.
   */
  private capModule(
    name: string,
    bytes: Uint8Array,
    memoryMb: number | undefined,
  ): { capped: Uint8Array; defines: { memories: number; tables: number } } {
    try {
      const result = capLimits(bytes, {
        ...(memoryMb !== undefined ? { maxMemoryPages: pagesForMiB(memoryMb) } : {}),
        maxTableEntries: this.maxTableEntries,
      });
      return {
        capped: result.bytes,
        defines: {
          memories: result.memories.filter((m) => m.importedFrom === undefined).length,
          tables: result.tables.filter((t) => t.importedFrom === undefined).length,
        },
      };
    } catch (err) {
      if (err instanceof MemoryLimitError) {
        throw new ModuleRefusal(`refused: ${name}: ${err.message} (limits.memoryMb is ${memoryMb})`);
      }
      if (err instanceof TableLimitError) {
        throw new ModuleRefusal(
          `refused: ${name}: ${err.message}${err.reason === 'entries' ? ' (maxTableEntries)' : ''}`,
        );
      }
      throw new ModuleRefusal(`core module ${name} could not be read: ${(err as Error).message}`);
    }
  }

  /**
   * The split core modules of a component (TranspiledComponent.splitModules) with their engines,
   * each compiled once for all the sources that use it, and the engines, taken (dropEngine gives
   * them back). The memory the worker makes for one is capped by this source's memoryMb.
   */
  private async splitModules(
    id: string,
    entry: TranspiledComponent,
    memoryMb: number,
    census: ComponentCensus,
  ): Promise<{ modules: Record<string, EngineCoreModule>; held: HeldEngine[] }> {
    const limit = pagesForMiB(memoryMb);
    const split = [...entry.splitModules];
    for (const [name, s] of split) {
      if (s.initialPages > limit) {
        throw new PluginLoadError(
          id,
          `refused: ${name}: ${memoryLimitMessage('memory 0', s.initialPages, limit)} (limits.memoryMb is ${memoryMb})`,
        );
      }
    }
    // taken before the first await, so a failure below gives back exactly these
    const held = split.map(([name, s]) => this.takeEngine(name, s.engineDigest));
    const modules: Record<string, EngineCoreModule> = {};
    try {
      for (const [i, [name, s]] of split.entries()) {
        const { module, tables } = await (held[i] as HeldEngine).compiled;
        census.set(name, { memories: 1, tables });
        // on shared memory, so the instances of a source do not each get a copy
        const data = new Uint8Array(new SharedArrayBuffer(s.data.length));
        data.set(s.data);
        modules[name] = {
          engine: module,
          initialPages: s.initialPages,
          maximumPages: Math.min(s.maximumPages ?? limit, limit),
          data,
        };
      }
    } catch (err) {
      for (const h of held) this.dropEngine(h);
      if (err instanceof ModuleRefusal) throw new PluginLoadError(id, err.message);
      if (err instanceof EngineDamagedError) throw new PluginLoadError(id, err.message, { cause: err });
      throw err;
    }
    return { modules, held };
  }

  /** The compiled engine `digest` (compiling it if no source uses it yet), counted as one more use. */
  private takeEngine(name: string, digest: string): HeldEngine {
    let held = this.engines.get(digest);
    if (!held) {
      const compiled = this.cache.engineBytes(digest).then((bytes) => {
        // its memory is imported without a maximum: the worker makes it, capped per source
        const { capped, defines } = this.capModule(name, bytes, undefined);
        return compileCapped(capped).then((module) => ({ module, tables: defines.tables }));
      });
      const entry: HeldEngine = { digest, compiled, users: 0 };
      held = entry;
      this.engines.set(digest, entry);
      compiled.catch(() => {
        if (this.engines.get(digest) === entry) this.engines.delete(digest);
      });
    }
    held.users++;
    return held;
  }

  /** One use of `held` fewer; the last one lets it go (an engine that failed is already gone). */
  private dropEngine(held: HeldEngine): void {
    held.users--;
    if (held.users <= 0 && this.engines.get(held.digest) === held) this.engines.delete(held.digest);
  }

  /** Shared engines compiled in this runner (for tests and metrics). */
  enginesCompiled(): number {
    return this.engines.size;
  }

  private release(runtime: SourceRuntime, reason: string): void {
    runtime.close(reason);
    const key = `${runtime.spec.digest}:${runtime.spec.limits.memoryMb}`;
    const compiled = this.compiled.get(key);
    void compiled?.then((c) => {
      c.users--;
      if (c.users <= 0 && this.compiled.get(key) === compiled) {
        this.compiled.delete(key);
        for (const held of c.engines) this.dropEngine(held);
      }
    });
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
    return s ? { ...s, http: { ...s.http }, scheduler: { ...s.scheduler } } : undefined;
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
    return Atomics.load(new Int32Array(this.poolSettings.spin.running), 0);
  }

  /** Booted workers waiting for the next instance start (see RunnerOptions.spareWorkers). */
  sparesReady(): number {
    return this.poolSettings.spares.available;
  }

  /** Timings of the last load of a source. */
  loadInfo(id: string): LoadInfo | undefined {
    return this.lastLoad.get(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.poolSettings.spares.close();
    for (const id of [...this.sources.keys()]) await this.unload(id);
  }
}
