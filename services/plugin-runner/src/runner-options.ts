import type { CircuitBreakerOptions } from './circuit-breaker.js';
import type { HostScheduler } from './host-scheduler.js';
import { type LookupFn, parseConnectTo } from './http-host.js';
import type { Logger } from './logger.js';
import { MIB } from './source-spec.js';
import type { CallObserver } from './source-stats.js';

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
   * 200; 0: never). Waking a sleeping thread is slow on a virtual machine, and a request hands
   * off twice. Only while fewer calls are running than the machine has cores besides the
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

/** The numbers of RunnerOptions, checked, with their defaults filled in. */
export interface RunnerLimits {
  maxInstances: number;
  memoryBudgetBytes: number;
  spareWorkers: number;
  spinWaitMicros: number;
  maxTableEntries: number;
  connectTo: ReturnType<typeof parseConnectTo>;
  instancesPerSource: number;
  recycleAfterCalls: number;
  idleTimeoutMs: number;
}

/** Checks `opts`, throwing an Error that names the first option out of range. */
export function runnerLimits(opts: RunnerOptions): RunnerLimits {
  const count = (name: keyof typeof POOL_DEFAULTS) => {
    const v = opts[name] ?? POOL_DEFAULTS[name];
    if (!Number.isInteger(v) || v < 1) throw new Error(`RunnerOptions.${name} must be a positive integer, got ${v}`);
    return v;
  };
  const maxInstances = count('maxInstances');
  const memoryBudgetBytes = count('memoryBudgetMb') * MIB;
  const spareWorkers = opts.spareWorkers ?? POOL_DEFAULTS.spareWorkers;
  if (!Number.isInteger(spareWorkers) || spareWorkers < 0 || spareWorkers > 16) {
    throw new Error(`RunnerOptions.spareWorkers must be a whole number from 0 to 16, got ${spareWorkers}`);
  }
  const spinWaitMicros = opts.spinWaitMicros ?? POOL_DEFAULTS.spinWaitMicros;
  if (!Number.isInteger(spinWaitMicros) || spinWaitMicros < 0 || spinWaitMicros > MAX_SPIN_WAIT_MICROS) {
    throw new Error(
      `RunnerOptions.spinWaitMicros must be a whole number from 0 to ${MAX_SPIN_WAIT_MICROS}, got ${spinWaitMicros}`,
    );
  }
  const maxTableEntries = count('maxTableEntries');
  const connectTo = parseConnectTo(opts.connectTo);
  return {
    maxInstances,
    memoryBudgetBytes,
    spareWorkers,
    spinWaitMicros,
    maxTableEntries,
    connectTo,
    instancesPerSource: count('instancesPerSource'),
    recycleAfterCalls: count('recycleAfterCalls'),
    idleTimeoutMs: count('idleTimeoutMs'),
  };
}
