/**
 * The host owns outbound scheduling: every request a plugin makes waits for a slot of its
 * (source, host) rate limit, and a 429 or 503 with Retry-After holds further requests to that host
 * until then. A request whose slot would start after the call's deadline is refused at once, and the
 * call returns the typed `rate-limited` error instead of waiting for nothing.
 */
import { MemoryRateLimitStore, type RateLimitStore, type RateRule } from './rate-limit.js';

/** Time as the scheduler sees it; tests pass a fake one. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted || ms <= 0) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** The host a request goes to, as matched against allowed_hosts. */
export interface ScheduleTarget {
  scheme: string;
  host: string;
  port: number;
}

export type Admission = { ok: true; waitedMs: number } | { ok: false; retryAfterSeconds: number; reason: string };

export interface SchedulerStats {
  /** requests given a slot */
  admitted: number;
  /** of those, the ones that had to wait for it */
  delayed: number;
  /** requests refused because no slot started before the call's deadline */
  refused: number;
  /** Retry-After answers that held a host */
  holds: number;
}

export interface HostSchedulerOptions {
  /** where bucket state lives (default: in this process) */
  store?: RateLimitStore;
  clock?: Clock;
  /**
   * Operator overrides of the manifests' requests_per_second: host name (lowercase) -> requests per
   * second, and "*" for every host without its own entry.
   */
  overrides?: Record<string, number>;
  /** Longest Retry-After honoured, in seconds (default 3600); longer ones are cut to it. */
  maxRetryAfterSeconds?: number;
}

/** requests_per_second bounds, as in the manifest. */
export const MIN_REQUESTS_PER_SECOND = 0.1;
export const MAX_REQUESTS_PER_SECOND = 1000;

/** Checks an override table; throws an Error naming the bad entry. */
export function checkRateOverrides(overrides: Record<string, number>): void {
  for (const [host, rps] of Object.entries(overrides)) {
    if (host !== '*' && !/^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/.test(host)) {
      throw new Error(`rate limit override '${host}' must be a lowercase host name or "*"`);
    }
    if (typeof rps !== 'number' || !(rps >= MIN_REQUESTS_PER_SECOND && rps <= MAX_REQUESTS_PER_SECOND)) {
      throw new Error(
        `rate limit override '${host}' must be ${MIN_REQUESTS_PER_SECOND} to ${MAX_REQUESTS_PER_SECOND} requests per second, got ${rps}`,
      );
    }
  }
}

/**
 * Parses a Retry-After value (delay-seconds or an HTTP-date) into an epoch-ms time, or undefined
 * when it is neither.
 */
export function parseRetryAfter(value: string, now: number): number | undefined {
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return now + Number(text) * 1000;
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(now, at) : undefined;
}

/** Shared by every source of a runner: the store, the clock and the operator's overrides. */
export class HostScheduler {
  readonly clock: Clock;
  private readonly store: RateLimitStore;
  private readonly overrides: ReadonlyMap<string, number>;
  private readonly maxRetryAfterMs: number;

  constructor(options: HostSchedulerOptions = {}) {
    this.store = options.store ?? new MemoryRateLimitStore();
    this.clock = options.clock ?? systemClock;
    checkRateOverrides(options.overrides ?? {});
    this.overrides = new Map(Object.entries(options.overrides ?? {}));
    this.maxRetryAfterMs = (options.maxRetryAfterSeconds ?? 3600) * 1000;
  }

  /**
   * The rate a source's requests to `host` get: the operator's override, else the manifest's;
   * undefined (no limit) when neither gives one.
   */
  rateFor(host: string, manifestRate: number | undefined): number | undefined {
    return this.overrides.get(host) ?? this.overrides.get('*') ?? manifestRate;
  }

  /** The scheduler of one source, with its manifest's requests_per_second (undefined: no limit of its own). */
  forSource(sourceId: string, requestsPerSecond: number | undefined): SourceScheduler {
    return new SourceScheduler(this, sourceId, requestsPerSecond);
  }

  /** @internal */
  reserve(key: string, rule: RateRule, latestStart: number) {
    return this.store.reserve(key, rule, this.clock.now(), latestStart);
  }

  /** @internal */
  hold(key: string, rule: RateRule, until: number): Promise<void> {
    const now = this.clock.now();
    return this.store.holdUntil(key, rule, Math.min(until, now + this.maxRetryAfterMs), now);
  }
}

/** The rate of a source with no limit: a bucket that never runs dry, which a Retry-After can still hold. */
const UNLIMITED = 1e9;

function rule(requestsPerSecond: number): RateRule {
  return { requestsPerSecond, burst: Math.max(1, Math.floor(requestsPerSecond)) };
}

/** One source's view of the scheduler: buckets are per (source, scheme://host:port). */
export class SourceScheduler {
  readonly stats: SchedulerStats = { admitted: 0, delayed: 0, refused: 0, holds: 0 };

  constructor(
    private readonly scheduler: HostScheduler,
    readonly sourceId: string,
    private readonly requestsPerSecond: number | undefined,
  ) {}

  private key(target: ScheduleTarget): string {
    return `${this.sourceId}\n${target.scheme}://${target.host}:${target.port}`;
  }

  rateFor(host: string): number | undefined {
    return this.scheduler.rateFor(host, this.requestsPerSecond);
  }

  /**
   * Waits for the request's slot. Refuses at once, without waiting, when the slot would start after
   * `deadline` (epoch ms); `retryAfterSeconds` says when one would be free.
   */
  async admit(target: ScheduleTarget, deadline: number, signal?: AbortSignal): Promise<Admission> {
    // without a rate, no limit in effect, but Retry-After still holds
    const rps = this.rateFor(target.host) ?? UNLIMITED;
    const reservation = await this.scheduler.reserve(this.key(target), rule(rps), deadline);
    const now = this.scheduler.clock.now();
    if (!reservation.ok) {
      this.stats.refused++;
      const retryAfterSeconds = Math.max(1, Math.ceil((reservation.retryAt - now) / 1000));
      return {
        ok: false,
        retryAfterSeconds,
        reason: `rate limited: the next request to ${target.host} may start in ${retryAfterSeconds} s, after the call's deadline (${rps} requests per second)`,
      };
    }
    const wait = reservation.startAt - now;
    this.stats.admitted++;
    if (wait > 0) {
      this.stats.delayed++;
      await this.scheduler.clock.sleep(wait, signal);
    }
    return { ok: true, waitedMs: Math.max(0, wait) };
  }

  /**
   * Looks at a response: a 429 or 503 with a Retry-After holds this source's requests to the host
   * until then. Returns the hold's end (epoch ms) when there is one.
   */
  async observe(target: ScheduleTarget, status: number, retryAfter: string | undefined): Promise<number | undefined> {
    if ((status !== 429 && status !== 503) || retryAfter === undefined) return undefined;
    const until = parseRetryAfter(retryAfter, this.scheduler.clock.now());
    if (until === undefined) return undefined;
    this.stats.holds++;
    // a host without a rate limit is still held; afterwards it is free again (no rate to resume at)
    await this.scheduler.hold(this.key(target), rule(this.rateFor(target.host) ?? UNLIMITED), until);
    return until;
  }
}
