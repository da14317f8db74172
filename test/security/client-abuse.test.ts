import { PluginCallError, PluginLoadError, type RunnerPool } from '@awasm/plugin-runner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, fixtureServer } from '../support/fixture-server.js';
import { rejection } from '../support/rejection.js';
import { type Built, newPool, spec } from '../support/runner.js';
import { buildPlugin } from './helpers.js';

// The fetcher plugin's search(url) fetches url. /slow never answers, so a call on it runs until its
// caller gives up; /fast answers at once. The breaker is on (failureThreshold 5) where a test says.
const HOST = 'slow.awasm.test';
let fetcher: Built;
let upstream: Fixture;
const pools: RunnerPool[] = [];

beforeAll(async () => {
  fetcher = await buildPlugin('fetcher');
  upstream = await fixtureServer((req, res) => {
    if (req.url !== '/slow') res.end('fast');
  });
}, 120_000);

afterAll(async () => {
  for (const pool of pools) await pool.close();
  await upstream.close();
});

function pool(options: Parameters<typeof newPool>[0] = {}): RunnerPool {
  const p = newPool({ connectTo: { [`${HOST}:80`]: `127.0.0.1:${upstream.port}` }, ...options });
  pools.push(p);
  return p;
}

const source = (id: string, limits = {}) => spec(id, fetcher, { allowedHosts: [`http://${HOST}`], limits });
const slow = [`http://${HOST}/slow`, [], undefined];
const fast = [`http://${HOST}/fast`, [], undefined];

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

describe('a caller cannot degrade a source for everyone', () => {
  it('20 cancelled calls abort their upstream requests, free their instances, and the next caller answers', async () => {
    const p = pool({ circuitBreaker: { failureThreshold: 5 } });
    await p.load(source('cancelled', { callTimeoutMs: 20_000, maxConcurrency: 4 }));
    const before = upstream.requests.length;
    const abandonedBefore = upstream.abandoned;
    const controllers = Array.from({ length: 20 }, () => new AbortController());
    const calls = controllers.map((c) => p.call('cancelled', 'search', slow, { signal: c.signal }));
    // four run (their requests reach the upstream), sixteen wait in the queue
    await until(() => upstream.requests.length - before >= 4);
    for (const c of controllers) c.abort();
    for (const call of calls) expect((await rejection(call, PluginCallError)).kind).toBe('cancelled');
    await until(() => p.callsRunning() === 0);
    await until(() => upstream.abandoned - abandonedBefore >= 4);
    // only the running ones sent a request, and every one of them was aborted
    expect(upstream.requests.length - before).toBe(4);
    expect(p.instances('cancelled')?.every((i) => i.state !== 'busy')).toBe(true);
    const t0 = performance.now();
    expect(await p.call('cancelled', 'search', fast)).toMatchObject({ items: [{ title: 'fast' }] });
    console.log(`next caller after 20 cancelled calls answered in ${(performance.now() - t0).toFixed(1)} ms`);
    expect(p.stats('cancelled')).toMatchObject({ cancelled: 20 });
    expect(p.health('cancelled')?.state).toBe('healthy');
  }, 60_000);

  it('calls with a tiny client deadline or cancelled ones leave the source healthy', async () => {
    const p = pool({ circuitBreaker: { failureThreshold: 5 } });
    await p.load(source('abused', { callTimeoutMs: 20_000, maxConcurrency: 1 }));
    for (let i = 0; i < 6; i++) {
      expect((await rejection(p.call('abused', 'search', slow, { timeoutMs: 50 }), PluginCallError)).kind).toBe(
        'deadline-exceeded',
      );
    }
    for (let i = 0; i < 6; i++) {
      const c = new AbortController();
      const call = p.call('abused', 'search', slow, { signal: c.signal });
      await until(() => p.callsRunning() === 1);
      c.abort();
      expect((await rejection(call, PluginCallError)).kind).toBe('cancelled');
    }
    await until(() => p.callsRunning() === 0);
    expect(p.health('abused')).toMatchObject({ state: 'healthy', consecutiveFailures: 0 });
    expect(await p.call('abused', 'search', fast)).toMatchObject({ items: [{ title: 'fast' }] });
    // the source's own timeout still counts
    const own = pool({ circuitBreaker: { failureThreshold: 2 } });
    await own.load(source('own', { callTimeoutMs: 200, maxConcurrency: 1 }));
    for (let i = 0; i < 2; i++) await rejection(own.call('own', 'search', slow), PluginCallError);
    expect(own.health('own')?.state).toBe('unhealthy');
  }, 60_000);
});

describe('runner memory budget', () => {
  it('keeps the memory maxima of many big sources within the budget, evicting idle ones; calls still answer', async () => {
    const p = pool({ memoryBudgetMb: 600 });
    let peak = 0;
    const watch = () => {
      peak = Math.max(peak, p.budgetStats().memoryInUseBytes);
    };
    for (let i = 0; i < 7; i++) {
      await p.load(source(`big${i}`, { memoryMb: 256 }));
      watch();
    }
    for (let round = 0; round < 2; round++) {
      const answers = await Promise.all(
        Array.from({ length: 7 }, (_, i) => {
          watch();
          return p.call(`big${i}`, 'list', ['popular']).finally(watch);
        }),
      );
      expect(answers).toHaveLength(7);
    }
    const stats = p.budgetStats();
    console.log(`7 sources at 256 MiB under 600 MiB: peak ${peak / 2 ** 20} MiB, evictions ${stats.evictions}`);
    expect(stats.memoryBudgetBytes).toBe(600 * 2 ** 20);
    expect(peak).toBeLessThanOrEqual(stats.memoryBudgetBytes);
    expect(stats.memoryInUseBytes).toBeLessThanOrEqual(stats.memoryBudgetBytes);
    expect(stats.evictions).toBeGreaterThanOrEqual(5);
    const live = Array.from({ length: 7 }, (_, i) => p.instances(`big${i}`)?.length ?? 0).reduce((a, b) => a + b, 0);
    expect(live).toBeLessThanOrEqual(2);
  }, 120_000);

  it('refuses a source whose one instance would not fit the whole budget, naming both numbers', async () => {
    const p = pool({ memoryBudgetMb: 200 });
    const err = await rejection(p.load(source('huge', { memoryMb: 256 })), PluginLoadError);
    expect(err.message).toMatch(/limits\.memoryMb is 256 MiB.*memory budget of 200 MiB/);
  });
});
