// the runner seam's definition, re-exported so importers of the runner see one API
export {
  ARG_LIMITS,
  clip,
  type HealthState,
  type LoadRequest,
  MAX_PLUGIN_CURSOR_BYTES,
  MAX_PLUGIN_TEXT_CHARS,
  type PackageSource,
  PluginCallError,
  type PluginCallErrorKind,
  PluginLoadError,
  retryAfterSeconds,
  SOURCE_OPS,
  type SourceCall,
  type SourceCallOptions,
  type SourceErrorVariant,
  type SourceHealth,
  type SourceOp,
  type SourceOpArgs,
  type SourceOpResults,
  type SourceRunner,
  sourceErrorMessage,
  sourceErrorText,
} from '@awasm/runner-api';
export { nonPublicReason } from './address-policy.js';
export { HostAllowlist, type HostRule, parseHostRule, parseRequestTarget, type RequestTarget } from './allowlist.js';
export { CircuitBreaker, type CircuitBreakerOptions, verdictOf } from './circuit-breaker.js';
export {
  type Clock,
  checkRateOverrides,
  HostScheduler,
  type HostSchedulerOptions,
  MAX_REQUESTS_PER_SECOND,
  MIN_REQUESTS_PER_SECOND,
  parseRetryAfter,
  type SchedulerStats,
  SourceScheduler,
  systemClock,
} from './host-scheduler.js';
export type { HttpStats, LookupFn } from './http-host.js';
export { checkImports, providedInterfaces } from './import-policy.js';
export { LocalSourceRunner } from './local-source-runner.js';
export type { Logger } from './logger.js';
export { PluginOutputError } from './plugin-output.js';
export {
  type BudgetStats,
  CANCEL_GRACE_MS,
  type CallEvent,
  type CallObserver,
  GROWN_MEMORY_RECYCLE_BYTES,
  INSTANCE_OVERHEAD_MB,
  type InstanceInfo,
  type LoadInfo,
  MAX_SPIN_WAIT_MICROS,
  MAX_TABLES_PER_COMPONENT,
  POOL_DEFAULTS,
  type RunnerOptions,
  RunnerPool,
  type SourceLimits,
  type SourceSpec,
  type SourceStats,
} from './pool.js';
export { MemoryRateLimitStore, type RateLimitStore, type RateRule, type Reservation } from './rate-limit.js';
export { RedisRateLimitStore, type RedisRateLimitStoreOptions } from './redis-rate-limit.js';
export { type RunnerView, ServerMetrics } from './server-metrics.js';
export { sha256Hex, TranspileCache } from './transpile-cache.js';
export {
  capLimits,
  capMemories,
  capTables,
  componentImportNames,
  MAX_TABLES_PER_MODULE,
  MemoryLimitError,
  pagesForMiB,
  TableLimitError,
} from './wasm-binary.js';
