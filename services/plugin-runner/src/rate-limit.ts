/**
 * Rate-limit state for outgoing plugin requests: one generic cell rate algorithm (GCRA, a token
 * bucket kept as one timestamp) per key. The store is the seam: this in-memory implementation
 * serves one runner; RedisRateLimitStore (redis-rate-limit.ts, one script per reservation) serves
 * many runners with the same contract (rate-limit.contract.ts).
 */

export interface RateRule {
  /** steady rate, requests per second (> 0) */
  requestsPerSecond: number;
  /** requests that may start back to back after an idle period (>= 1) */
  burst: number;
}

/** A granted slot (start at `startAt`, epoch ms) or a refusal (the next slot is at `retryAt`). */
export type Reservation = { ok: true; startAt: number } | { ok: false; retryAt: number };

/** Where rate-limit state lives. Every method is atomic per key. */
export interface RateLimitStore {
  /**
   * Reserves the next slot for `key` under `rule` if it starts no later than `latestStart`
   * (epoch ms); a refused reservation changes nothing.
   */
  reserve(key: string, rule: RateRule, now: number, latestStart: number): Promise<Reservation>;
  /**
   * No slot for `key` starts before `until` (epoch ms), and the bucket is empty then (Retry-After).
   * `now` is the caller's clock, as in `reserve` (a shared store uses it for how long to keep the key).
   */
  holdUntil(key: string, rule: RateRule, until: number, now: number): Promise<void>;
}

/** The GCRA parameters of a rule, in ms: the emission interval and how far ahead a burst may run. */
export function params(rule: RateRule): { interval: number; tolerance: number } {
  const interval = 1000 / rule.requestsPerSecond;
  return { interval, tolerance: (Math.max(1, rule.burst) - 1) * interval };
}

/** Keys above this count trigger a sweep of the ones that are back to a full bucket. */
const SWEEP_AT = 4096;

/** Rate-limit state in this process. */
export class MemoryRateLimitStore implements RateLimitStore {
  /** key -> theoretical arrival time of the next request (epoch ms) */
  private readonly cells = new Map<string, { tat: number }>();

  async reserve(key: string, rule: RateRule, now: number, latestStart: number): Promise<Reservation> {
    const { interval, tolerance } = params(rule);
    const tat = Math.max(this.cells.get(key)?.tat ?? now, now);
    const startAt = Math.max(now, tat - tolerance);
    if (startAt > latestStart) return { ok: false, retryAt: startAt };
    this.cells.set(key, { tat: tat + interval });
    if (this.cells.size > SWEEP_AT) this.sweep(now);
    return { ok: true, startAt };
  }

  async holdUntil(key: string, rule: RateRule, until: number, _now: number): Promise<void> {
    const { tolerance } = params(rule);
    const tat = this.cells.get(key)?.tat ?? 0;
    // tat - tolerance is the earliest start: no slot before `until`, then one per interval (no burst)
    this.cells.set(key, { tat: Math.max(tat, until + tolerance) });
  }

  /** Keys whose bucket is full again hold no information. */
  private sweep(now: number): void {
    for (const [key, cell] of this.cells) if (cell.tat <= now) this.cells.delete(key);
  }

  /** Keys with state (for tests). */
  get size(): number {
    return this.cells.size;
  }
}
