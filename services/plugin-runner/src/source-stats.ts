import type { PluginCallError, SourceOp } from '@awasm/runner-api';
import type { SchedulerStats } from './host-scheduler.js';
import type { HttpStats } from './http-host.js';
import type { Logger } from './logger.js';

/** Counters of one loaded source, as RunnerPool.stats reports them. */
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

/** Zeroed counters around the live HTTP and scheduling counters of a source. */
export function newSourceStats(http: HttpStats, scheduler: SchedulerStats): SourceStats {
  return {
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
    http,
    scheduler,
  };
}

/** A copy a caller may keep: later calls do not change it. */
export function snapshotStats(s: SourceStats): SourceStats {
  return { ...s, http: { ...s.http }, scheduler: { ...s.scheduler } };
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

/** Tells `observer` how a call settled; an observer that throws is logged, never the call's problem. */
export function reportCall(
  observer: CallObserver | undefined,
  logger: Logger,
  sourceId: string,
  op: SourceOp,
  durationMs: number,
  err: PluginCallError | undefined,
): void {
  if (!observer) return;
  const outcome = err ? err.kind : 'ok';
  const errorType = err ? (err.kind === 'source-error' ? (err.sourceError?.tag ?? 'internal') : err.kind) : undefined;
  try {
    observer.callSettled({ sourceId, op, outcome, durationMs, ...(errorType ? { errorType } : {}) });
  } catch (e) {
    logger.error({ source: sourceId, err: (e as Error).message }, 'call observer failed');
  }
}
