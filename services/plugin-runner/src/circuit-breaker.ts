/**
 * Circuit breaking per source: a source whose calls keep failing (network errors, timeouts, traps,
 * parse errors; not answers such as not-found) is marked unhealthy with the reason, its calls fail
 * fast while it is, and after a cool-down one call is let through to probe it. A good probe makes it
 * healthy again; a bad one opens the circuit for twice as long (up to a maximum).
 */
import type { HealthState, PluginCallError, SourceHealth } from '@awasm/runner-api';

export interface CircuitBreakerOptions {
  /** failures in a row that open the circuit (default 5) */
  failureThreshold?: number;
  /** first cool-down before a probe, ms (default 30 s); doubled after each failed probe */
  openMs?: number;
  /** longest cool-down, ms (default 5 min) */
  maxOpenMs?: number;
}

/** How a call's outcome counts for the source's health. */
export type Verdict = { kind: 'success' } | { kind: 'failure'; reason: string } | { kind: 'neutral' };

/** source-error tags that say the source is broken rather than that it answered */
const FAILING_TAGS = new Set(['network', 'internal', 'parse']);

/** Reasons are shown through the API; a plugin's text in them is cut to this length. */
const MAX_REASON = 300;

function cut(text: string): string {
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON)}…` : text;
}

/**
 * Classifies a call's outcome. `started` is false for a call whose deadline passed while it was
 * still queued, which says nothing about the source. `cutShortByCaller` is true when the call had
 * its caller's deadline, shorter than the manifest's call timeout, and failed once it had passed:
 * a failure then is the caller's doing (its deadline), not the source's. A call its caller
 * cancelled is neutral too. Only what is the source's own counts: traps, timeouts under the
 * manifest's own call timeout, and network, parse and internal errors.
 */
export function verdictOf(error: PluginCallError | undefined, started: boolean, cutShortByCaller = false): Verdict {
  if (!error) return { kind: 'success' };
  if (cutShortByCaller || error.kind === 'cancelled') return { kind: 'neutral' };
  switch (error.kind) {
    case 'trap':
      return { kind: 'failure', reason: cut(`trap: ${error.message}`) };
    case 'deadline-exceeded':
      return started ? { kind: 'failure', reason: cut(`timeout: ${error.message}`) } : { kind: 'neutral' };
    case 'source-error': {
      const tag = error.sourceError?.tag ?? 'internal';
      if (tag === 'rate-limited') return { kind: 'neutral' };
      if (!FAILING_TAGS.has(tag)) return { kind: 'success' };
      const val = error.sourceError?.val;
      return { kind: 'failure', reason: cut(`${tag} error${typeof val === 'string' && val ? `: ${val}` : ''}`) };
    }
    default:
      return { kind: 'neutral' };
  }
}

/** Throws a RangeError naming the first option that is out of its range. */
export function checkCircuitBreakerOptions(options: CircuitBreakerOptions): void {
  const { failureThreshold, openMs, maxOpenMs } = options;
  if (failureThreshold !== undefined && !(Number.isInteger(failureThreshold) && failureThreshold >= 1)) {
    throw new RangeError(`circuitBreaker.failureThreshold must be an integer of at least 1, not ${failureThreshold}`);
  }
  for (const [name, value] of [
    ['openMs', openMs],
    ['maxOpenMs', maxOpenMs],
  ] as const) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new RangeError(`circuitBreaker.${name} must be a finite number of ms, 0 or more, not ${value}`);
    }
  }
}

export type Gate = { ok: true; probe: boolean } | { ok: false; message: string; retryAfterMs: number };

export class CircuitBreaker {
  private readonly threshold: number;
  private readonly baseOpenMs: number;
  private readonly maxOpenMs: number;
  private state: HealthState = 'healthy';
  private reason = '';
  private since: number;
  private failures = 0;
  private openMs: number;
  private retryAt = 0;
  private probeInFlight = false;

  constructor(
    private readonly sourceId: string,
    private readonly now: () => number,
    options: CircuitBreakerOptions = {},
  ) {
    checkCircuitBreakerOptions(options);
    this.threshold = options.failureThreshold ?? 5;
    this.baseOpenMs = options.openMs ?? 30_000;
    this.maxOpenMs = Math.max(this.baseOpenMs, options.maxOpenMs ?? 300_000);
    this.openMs = this.baseOpenMs;
    this.since = now();
  }

  /** Whether a call may run now; a call let through while unhealthy is the probe. */
  admit(): Gate {
    if (this.state === 'healthy') return { ok: true, probe: false };
    const now = this.now();
    if (this.state === 'unhealthy' && now >= this.retryAt) {
      this.enter('probing', this.reason, now);
    }
    if (this.state === 'probing' && !this.probeInFlight) {
      this.probeInFlight = true;
      return { ok: true, probe: true };
    }
    const retryAfterMs = Math.max(0, this.retryAt - now);
    const when =
      this.state === 'probing' ? 'a probe call is in progress' : `retrying in ${Math.ceil(retryAfterMs / 1000)} s`;
    return {
      ok: false,
      retryAfterMs,
      message: `source '${this.sourceId}' is unhealthy since ${new Date(this.since).toISOString()} (${this.reason}); ${when}`,
    };
  }

  /** Records the outcome of a call admitted with `probe`. */
  record(verdict: Verdict, probe: boolean): void {
    const now = this.now();
    if (probe) this.probeInFlight = false;
    if (verdict.kind === 'neutral') return;
    if (verdict.kind === 'success') {
      this.failures = 0;
      if (this.state !== 'healthy' && (probe || this.state === 'probing')) {
        this.openMs = this.baseOpenMs;
        this.enter('healthy', '', now);
      }
      return;
    }
    if (this.state === 'healthy') {
      this.failures++;
      if (this.failures >= this.threshold) {
        this.openMs = this.baseOpenMs;
        this.open(`${this.failures} failures in a row, the last: ${verdict.reason}`, now);
      }
      return;
    }
    if (probe) {
      this.openMs = Math.min(this.openMs * 2, this.maxOpenMs);
      this.open(`the probe call failed: ${verdict.reason}`, now);
    }
  }

  private open(reason: string, now: number): void {
    this.retryAt = now + this.openMs;
    this.enter('unhealthy', reason, now);
  }

  private enter(state: HealthState, reason: string, now: number): void {
    // `since` is when the source stopped (or started again) being healthy; probes do not move it
    if ((state === 'healthy') !== (this.state === 'healthy')) this.since = now;
    this.state = state;
    this.reason = reason;
  }

  health(): SourceHealth {
    // an expired cool-down shows as probing even before a call arrives
    const state = this.state === 'unhealthy' && this.now() >= this.retryAt ? 'probing' : this.state;
    return {
      state,
      reason: this.reason,
      since: this.since,
      consecutiveFailures: this.failures,
      ...(this.state === 'healthy' ? {} : { retryAt: this.retryAt }),
    };
  }
}
