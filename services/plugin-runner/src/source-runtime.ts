import { PluginCallError, type SourceHealth, type SourceOp } from '@awasm/runner-api';
import { callOutcome } from './call-outcome.js';
import { type CircuitBreaker, verdictOf } from './circuit-breaker.js';
import type { SourceHttp } from './http-host.js';
import type { BudgetClient, InstanceBudget } from './instance-budget.js';
import type { Logger } from './logger.js';
import { argumentProblem, normaliseArgs } from './ops.js';
import { instanceBytes, type SourceSpec } from './source-spec.js';
import { type CallObserver, newSourceStats, reportCall, type SourceStats } from './source-stats.js';
import { type CoreModules, SourceWorker, type SpareWorkers, type SpinGate, type WorkerReply } from './source-worker.js';
import { HANDLES_TO_RECYCLE, type TranspiledComponent } from './transpile-cache.js';

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

/** What all the sources of one runner share: its settings (RunnerOptions, checked) and services. */
export interface RunnerContext {
  instancesPerSource: number;
  recycleAfterCalls: number;
  idleTimeoutMs: number;
  spares: SpareWorkers;
  spin: SpinGate;
  logger: Logger;
  /** told about every settled call (metrics) */
  observer: CallObserver | undefined;
  budget: InstanceBudget;
}

/** What the runner builds for one source at load. */
export interface SourceParts {
  spec: SourceSpec;
  entry: TranspiledComponent;
  /** the compiled core modules, or a promise of them: the first instance starts meanwhile */
  modules: CoreModules | Promise<CoreModules>;
  http: SourceHttp;
  breaker: CircuitBreaker;
}

/**
 * One loaded source: its compiled component, HTTP policy, a warm pool of instances and a call
 * queue. Instances are started on demand up to min(limits.maxConcurrency, instancesPerSource),
 * each slot taken from the runner-wide budget; one is kept warm, others stop after idleTimeoutMs.
 * An instance that traps or times out is stopped; one that has served recycleAfterCalls calls is
 * replaced by a fresh one.
 */
export class SourceRuntime implements BudgetClient {
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

  readonly spec: SourceSpec;
  readonly http: SourceHttp;
  readonly breaker: CircuitBreaker;
  private readonly entry: TranspiledComponent;
  private modules: CoreModules | Promise<CoreModules>;
  private settings: Record<string, string>;
  private readonly logger: Logger;
  private readonly observer: CallObserver | undefined;
  private readonly budget: InstanceBudget;

  constructor(
    parts: SourceParts,
    private readonly runner: RunnerContext,
  ) {
    const { spec, http, breaker, entry, modules } = parts;
    this.spec = spec;
    this.http = http;
    this.breaker = breaker;
    this.entry = entry;
    this.modules = modules;
    this.settings = { ...spec.settings };
    this.logger = runner.logger;
    this.observer = runner.observer;
    this.budget = runner.budget;
    this.stats = newSourceStats(http.stats, http.scheduler.stats);
    this.instanceBytes = instanceBytes(spec.limits);
    runner.budget.register(this);
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
    return Math.max(1, Math.min(this.spec.limits.maxConcurrency, this.runner.instancesPerSource));
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
        spin: this.runner.spin,
      },
      this.runner.spares,
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
      inst.calls >= this.runner.recycleAfterCalls
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
      }, this.runner.idleTimeoutMs);
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
    reportCall(this.observer, this.logger, this.id, op, durationMs, err);
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
    const outcome = callOutcome(this.id, call.op, reply, call.rateLimited);
    if (outcome.ok) {
      this.stats.ok++;
      call.resolve(outcome.value);
      return;
    }
    if (outcome.counts) this.stats[outcome.counts]++;
    if (outcome.trapped !== undefined) this.replaceTrapped(inst, outcome.trapped);
    call.reject(outcome.error);
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
