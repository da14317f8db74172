import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../test/support/redis.js';
import { type Clock, HostScheduler } from './host-scheduler.js';
import { rateLimitStoreContract } from './rate-limit.contract.js';
import { RedisRateLimitStore } from './redis-rate-limit.js';

// A real redis-server on a free port; the tests fail (not skip) when it is not installed.
let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await startRedis();
  admin = new Redis(server.url);
});
afterAll(async () => {
  await admin?.quit();
  await server?.stop();
});

// Each open is its own connection, as another runner's would be; a name is a key prefix.
rateLimitStoreContract('Redis', async (name) =>
  RedisRateLimitStore.connect(server.url, { prefix: `contract:${name}:` }),
);

const frozenClock = (now: number): Clock => ({ now: () => now, sleep: async () => {} });

describe('RedisRateLimitStore', () => {
  it('lets two runners (two schedulers, two connections) admit one burst between them', async () => {
    const now = 1_700_000_000_000;
    const stores = [0, 1].map(() => RedisRateLimitStore.connect(server.url, { prefix: 'runners:' }));
    const sources = stores.map((store) => new HostScheduler({ store, clock: frozenClock(now) }).forSource('s', 3));
    const target = { scheme: 'https', host: 'site.example', port: 443 };
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (sources[i % 2] as (typeof sources)[0]).admit(target, now)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(sources.map((s) => s.stats.admitted + s.stats.refused)).toEqual([15, 15]);
    for (const store of stores) await store.close();
  });

  it('keeps a key only until its bucket would be full again', async () => {
    const store = RedisRateLimitStore.connect(server.url, { prefix: 'ttl:' });
    const slow = { requestsPerSecond: 0.01, burst: 1 }; // 100 s per request
    const t = 1_000_000;
    await store.reserve('k', slow, t, t);
    const ttl = await admin.pttl(store.keyOf('k'));
    expect(ttl).toBeGreaterThan(90_000);
    expect(ttl).toBeLessThanOrEqual(100_000);
    // a refusal does not extend it
    expect((await store.reserve('k', slow, t, t)).ok).toBe(false);
    expect(await admin.pttl(store.keyOf('k'))).toBeLessThanOrEqual(ttl);
    // a hold keeps the key until the hold's end plus the burst's refill
    await store.holdUntil('held', { requestsPerSecond: 1, burst: 3 }, t + 600_000, t);
    const held = await admin.pttl(store.keyOf('held'));
    expect(held).toBeGreaterThan(590_000);
    expect(held).toBeLessThanOrEqual(602_000);
    // a hold that is already over leaves nothing behind
    await store.holdUntil('over', slow, t - 1, t);
    expect(await admin.exists(store.keyOf('over'))).toBe(0);
    await store.close();
  });

  it('expires every key it writes', async () => {
    const store = RedisRateLimitStore.connect(server.url, { prefix: 'many:' });
    const rule = { requestsPerSecond: 0.01, burst: 1 };
    for (let i = 0; i < 200; i++) await store.reserve(`host-${i}`, rule, i, i);
    const keys = await admin.keys('many:*');
    expect(keys).toHaveLength(200);
    const ttls = await Promise.all(keys.map((key) => admin.pttl(key)));
    expect(ttls.every((ttl) => ttl > 0 && ttl <= 100_000)).toBe(true);
    await store.close();
  });

  it('runs its scripts by EVALSHA and loads them again with EVAL after a SCRIPT FLUSH', async () => {
    const store = RedisRateLimitStore.connect(server.url, { prefix: 'flush:' });
    const rule = { requestsPerSecond: 1, burst: 1 };
    await store.reserve('warm', rule, 0, 0);
    await admin.script('FLUSH');
    await admin.config('RESETSTAT');
    const t = 1_000_000;
    expect(await store.reserve('k', rule, t, t)).toEqual({ ok: true, startAt: t });
    expect(await store.reserve('k', rule, t, t)).toEqual({ ok: false, retryAt: t + 1000 });
    await store.holdUntil('k', rule, t + 5000, t);
    await store.holdUntil('k', rule, t + 6000, t);
    const stats = (await admin.info('commandstats')) as string;
    const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    // one EVAL per script after the flush, EVALSHA for everything else
    expect(calls('eval')).toBe(2);
    expect(calls('evalsha')).toBeGreaterThanOrEqual(2);
    await store.close();
  });
});
