/**
 * Rate-limit state in Redis, shared by every runner connected to it: the same GCRA as
 * MemoryRateLimitStore (one timestamp per key), with each reservation and each hold one Lua script,
 * so Redis runs it atomically and runners that reserve at the same moment never admit more than the
 * bucket allows between them.
 *
 * Time is the caller's clock (the `now` the scheduler passes), not Redis TIME: the scheduler's clock
 * is the one it sleeps on, and tests drive it. Runners sharing a Redis therefore need synchronised
 * clocks (NTP); a runner whose clock is d ms ahead sees each bucket d ms fuller than it is.
 *
 * Numbers cross into Lua as JavaScript's shortest round-trip decimal and come back as `%.17g`, so a
 * fractional interval (3 requests per second: 333.33... ms) gives exactly the memory store's times.
 * A key expires when its bucket would be full again (its timestamp, measured on the caller's
 * clock), so Redis holds state only for buckets that are in use.
 */
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { params, type RateLimitStore, type RateRule, type Reservation } from './rate-limit.js';

/** `exact`: a number as a decimal that converts back to the same double (Lua's own is %.14g). */
const LUA_PRELUDE = `
local function exact(x) return string.format('%.17g', x) end
local stored = redis.call('GET', KEYS[1])
`;

/**
 * KEYS[1] the bucket; ARGV interval, tolerance, now, latestStart (ms).
 * Returns {1, startAt} for a granted slot, {0, retryAt} for a refusal (which changes nothing).
 */
const RESERVE = `${LUA_PRELUDE}
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local latest = tonumber(ARGV[4])
local tat = now
if stored then tat = math.max(tonumber(stored), now) end
local start = math.max(now, tat - tolerance)
if start > latest then return {0, exact(start)} end
local next_tat = tat + interval
redis.call('SET', KEYS[1], exact(next_tat), 'PX', string.format('%d', math.max(1, math.ceil(next_tat - now))))
return {1, exact(start)}
`;

/**
 * KEYS[1] the bucket; ARGV tolerance, until, now (ms). Moves the timestamp to at least
 * until + tolerance: no slot before `until`, and no burst after it.
 */
const HOLD = `${LUA_PRELUDE}
local tolerance = tonumber(ARGV[1])
local hold_until = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tat = hold_until + tolerance
if stored then tat = math.max(tonumber(stored), tat) end
local ttl = math.ceil(tat - now)
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], exact(tat), 'PX', string.format('%d', ttl))
return 1
`;

interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const scripts = { reserve: script(RESERVE), hold: script(HOLD) };

export interface RedisRateLimitStoreOptions {
  /** prepended to every bucket key (default "awasm:rate:") */
  prefix?: string;
}

/** Rate-limit state in Redis, for runners that share their limits. */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly prefix: string;
  private ownsClient = false;

  /**
   * Over an ioredis client the caller owns (and closes); `close()` closes only a client that
   * `connect` made.
   */
  constructor(
    readonly redis: Redis,
    options: RedisRateLimitStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'awasm:rate:';
  }

  /** A store over its own connection to `url` (redis://host:port/db). */
  static connect(
    url: string,
    options: RedisRateLimitStoreOptions & { redis?: RedisOptions } = {},
  ): RedisRateLimitStore {
    const store = new RedisRateLimitStore(new Redis(url, options.redis ?? {}), options);
    store.ownsClient = true;
    return store;
  }

  /** The Redis key of a bucket. */
  keyOf(key: string): string {
    return this.prefix + key;
  }

  async reserve(key: string, rule: RateRule, now: number, latestStart: number): Promise<Reservation> {
    const { interval, tolerance } = params(rule);
    const reply = await this.run(scripts.reserve, this.keyOf(key), [interval, tolerance, now, latestStart]);
    if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`unexpected rate-limit script reply: ${reply}`);
    const at = Number(reply[1]);
    return reply[0] === 1 ? { ok: true, startAt: at } : { ok: false, retryAt: at };
  }

  async holdUntil(key: string, rule: RateRule, until: number, now: number): Promise<void> {
    const { tolerance } = params(rule);
    await this.run(scripts.hold, this.keyOf(key), [tolerance, until, now]);
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit();
  }

  /** EVALSHA, and EVAL (which caches the script again) when Redis does not know the script. */
  private async run(s: Script, key: string, args: number[]): Promise<unknown> {
    const argv = args.map(String);
    try {
      return await this.redis.evalsha(s.sha, 1, key, ...argv);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.redis.eval(s.source, 1, key, ...argv);
    }
  }
}
