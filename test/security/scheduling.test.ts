import { HostScheduler, PluginCallError, type RunnerPool, systemClock } from '@awasm/plugin-runner';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Fixture, fixtureServer } from '../support/fixture-server.js';
import { rejection } from '../support/rejection.js';
import { type Built, newPool, spec } from '../support/runner.js';
import { buildPlugin } from './helpers.js';

// The host owns outbound scheduling. The fetcher plugin floods an allowed host; the host's rate
// limit, Retry-After holds and circuit breaker decide what leaves, and the plugin's call ends with
// the typed error. Assertions are on counts (requests the upstream saw, errors), never on timings.

const HOST = 'api.awasm.test';
const OTHER = 'other.awasm.test';
let plugin: Built;
let upstream: Fixture;
/** paths answered 429 with this Retry-After */
let throttle: string | undefined;

const failure = (promise: Promise<unknown>) => rejection(promise, PluginCallError);

function pool(options: Parameters<typeof newPool>[0] = {}): RunnerPool {
  return newPool({
    connectTo: { [`${HOST}:80`]: `127.0.0.1:${upstream.port}`, [`${OTHER}:80`]: `127.0.0.1:${upstream.port}` },
    ...options,
  });
}

const flood = (host: string, count: number) => JSON.stringify({ url: `http://${host}/item`, count });

beforeAll(async () => {
  plugin = await buildPlugin('fetcher');
  upstream = await fixtureServer((req, res) => {
    if (throttle !== undefined && req.url === '/throttled') {
      res.writeHead(429, { 'retry-after': throttle }).end('slow down');
      return;
    }
    res.end('ok');
  });
});

afterAll(async () => {
  await upstream?.close();
});

describe('per-host rate limits from the manifest', () => {
  it('lets the burst through and fails the call with rate-limited when the next slot is past its deadline', async () => {
    const runner = pool();
    try {
      // 0.1 requests per second: one request, then the next slot is 10 s away, after the 5 s deadline
      await runner.load(
        spec('slow', plugin, {
          allowedHosts: [`http://${HOST}`],
          limits: { requestsPerSecond: 0.1, maxConcurrency: 8 },
        }),
      );
      await runner.load(spec('bystander', plugin, { allowedHosts: [`http://${HOST}`] }));
      const before = upstream.requests.length;
      const err = await failure(runner.call('slow', 'getAssets', [flood(HOST, 20)]));
      // getAssets turns failed fetches into text; the host still answers the call with rate-limited
      expect(err).toMatchObject({ kind: 'source-error', sourceError: { tag: 'rate-limited' } });
      const retry = err.sourceError?.val as number;
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(10);
      expect(err.message).toMatch(
        /slow.getAssets is rate limited: no request slot before its deadline; retry after \d+ s/,
      );
      expect(upstream.requests.length - before).toBe(1);
      expect(runner.stats('slow')?.http).toMatchObject({ requests: 1, rateLimited: 19 });
      expect(runner.stats('slow')?.scheduler).toMatchObject({ admitted: 1, refused: 19 });

      // the next call is refused at once too: its only request has no slot before its deadline
      const again = await failure(runner.call('slow', 'search', [`http://${HOST}/again`, []]));
      expect(again.sourceError?.tag).toBe('rate-limited');
      expect(upstream.requests.length - before).toBe(1);

      // another source calling the same host has its own bucket; the limited source stays healthy
      expect(await runner.call('bystander', 'search', [`http://${HOST}/free`, []])).toMatchObject({
        items: [{ id: '200', title: 'ok' }],
      });
      expect(runner.health('slow')?.state).toBe('healthy');
      expect(await runner.call('slow', 'list', ['popular'])).toMatchObject({ items: [{ title: 'listing popular' }] });
    } finally {
      await runner.close();
    }
  });

  it('delays requests past the burst instead of failing them when the deadline allows', async () => {
    // The scheduler's clock stands still (sleeps are real), so no token refills while the 25
    // requests are admitted: exactly the burst of 20 starts at once and 5 wait, however slow the machine.
    const frozen = Date.now();
    const runner = pool({ scheduler: new HostScheduler({ clock: { now: () => frozen, sleep: systemClock.sleep } }) });
    try {
      await runner.load(
        spec('paced', plugin, {
          allowedHosts: [`http://${HOST}`],
          limits: { requestsPerSecond: 20, maxConcurrency: 8 },
        }),
      );
      const before = upstream.requests.length;
      const assets = (await runner.call('paced', 'getAssets', [flood(HOST, 25)])) as Array<{ text: string }>;
      expect(assets.map((a) => a.text)).toEqual(Array.from({ length: 25 }, () => '200:ok'));
      expect(upstream.requests.length - before).toBe(25);
      // a burst of 20, the other 5 waited for their slots
      expect(runner.stats('paced')?.scheduler).toMatchObject({ admitted: 25, delayed: 5, refused: 0 });
    } finally {
      await runner.close();
    }
  });

  it('applies the operator override over the manifest, per host', async () => {
    const runner = pool({ scheduler: new HostScheduler({ overrides: { [HOST]: 0.1 } }) });
    try {
      await runner.load(
        spec('fast', plugin, {
          allowedHosts: [`http://${HOST}`, `http://${OTHER}`],
          limits: { requestsPerSecond: 1000, maxConcurrency: 8 },
        }),
      );
      const before = upstream.requests.length;
      const err = await failure(runner.call('fast', 'getAssets', [flood(HOST, 5)]));
      expect(err.sourceError?.tag).toBe('rate-limited');
      expect(upstream.requests.length - before).toBe(1);
      // the other host keeps the manifest's rate
      const ok = (await runner.call('fast', 'getAssets', [flood(OTHER, 5)])) as unknown[];
      expect(ok).toHaveLength(5);
      expect(upstream.requests.length - before).toBe(6);
    } finally {
      await runner.close();
    }
  });
});

describe('Retry-After', () => {
  it('holds a host after a 429 with Retry-After; calls until then fail fast with the time to wait', async () => {
    const runner = pool();
    try {
      await runner.load(spec('held', plugin, { allowedHosts: [`http://${HOST}`, `http://${OTHER}`] }));
      await runner.load(spec('neighbour', plugin, { allowedHosts: [`http://${HOST}`] }));
      throttle = '120';
      const first = (await runner.call('held', 'search', [`http://${HOST}/throttled`, []])) as {
        items: Array<{ id: string }>;
      };
      expect(first.items[0]?.id).toBe('429');
      throttle = undefined;

      const before = upstream.requests.length;
      const err = await failure(runner.call('held', 'search', [`http://${HOST}/after`, []]));
      expect(err.sourceError?.tag).toBe('rate-limited');
      expect(err.sourceError?.val).toBeGreaterThan(100);
      expect(err.sourceError?.val).toBeLessThanOrEqual(120);
      expect(upstream.requests.length).toBe(before);
      expect(runner.stats('held')?.scheduler.holds).toBe(1);

      // only that (source, host) is held: its other host and other sources go on
      expect(await runner.call('held', 'search', [`http://${OTHER}/fine`, []])).toMatchObject({
        items: [{ id: '200' }],
      });
      expect(await runner.call('neighbour', 'search', [`http://${HOST}/fine`, []])).toMatchObject({
        items: [{ id: '200' }],
      });
      expect(upstream.requests.length).toBe(before + 2);
    } finally {
      throttle = undefined;
      await runner.close();
    }
  });

  it('ignores a Retry-After it cannot parse', async () => {
    const runner = pool();
    try {
      await runner.load(spec('garbled', plugin, { allowedHosts: [`http://${HOST}`] }));
      throttle = 'whenever';
      await runner.call('garbled', 'search', [`http://${HOST}/throttled`, []]);
      throttle = undefined;
      expect(await runner.call('garbled', 'search', [`http://${HOST}/next`, []])).toMatchObject({
        items: [{ id: '200' }],
      });
      expect(runner.stats('garbled')?.scheduler.holds).toBe(0);
    } finally {
      throttle = undefined;
      await runner.close();
    }
  });
});

describe('circuit breaking', () => {
  it('opens after repeated failures, fails fast with the reason, probes after the cool-down and recovers', async () => {
    const runner = pool({ circuitBreaker: { failureThreshold: 3, openMs: 300 } });
    try {
      await runner.load(spec('flaky', plugin, { allowedHosts: [`http://${HOST}`] }));
      await runner.load(spec('steady', plugin, { allowedHosts: [`http://${HOST}`] }));
      // not-found style answers do not count: the plugin answering is the source working
      for (let i = 0; i < 3; i++) {
        // a refused host is a network error the plugin reports
        const err = await failure(runner.call('flaky', 'search', ['http://undeclared.awasm.test/', []]));
        expect(err.sourceError?.tag).toBe('network');
      }
      const health = runner.health('flaky');
      expect(health).toMatchObject({ state: 'unhealthy', consecutiveFailures: 3 });
      expect(health?.reason).toMatch(/^3 failures in a row, the last: network error: /);

      const calls = runner.stats('flaky')?.calls;
      const fast = await failure(runner.call('flaky', 'list', ['popular']));
      expect(fast.kind).toBe('unavailable');
      expect(fast.message).toMatch(/^source 'flaky' is unhealthy since \S+ \(3 failures in a row/);
      expect(runner.stats('flaky')?.calls).toBe(calls); // never reached the instance
      expect(runner.stats('flaky')?.unavailable).toBe(1);

      // other sources are unaffected
      expect(await runner.call('steady', 'list', ['latest'])).toMatchObject({ items: [{ title: 'listing latest' }] });
      expect(runner.health('steady')?.state).toBe('healthy');

      await vi.waitFor(() => expect(runner.health('flaky')?.state).toBe('probing'), { timeout: 10_000, interval: 20 });
      expect(await runner.call('flaky', 'list', ['popular'])).toMatchObject({ items: [{ title: 'listing popular' }] });
      expect(runner.health('flaky')).toMatchObject({ state: 'healthy', reason: '', consecutiveFailures: 0 });
    } finally {
      await runner.close();
    }
  });

  it('counts traps and timeouts, not unsupported or not-found answers', async () => {
    const hostile = await buildPlugin('misbehave');
    const runner = pool({ circuitBreaker: { failureThreshold: 2, openMs: 60_000 } });
    try {
      // the manifest's own call timeout: a caller's shorter deadline never counts against the source.
      // Long enough that the instance replacing the trapped one has started before it passes (a
      // deadline that passes while the call still waits for an instance says nothing of the source)
      await runner.load(spec('answers', hostile, { limits: { callTimeoutMs: 2000 } }));
      for (let i = 0; i < 4; i++) {
        expect((await failure(runner.call('answers', 'search', ['no-such-attack', []]))).sourceError?.tag).toBe(
          'unsupported',
        );
        expect((await failure(runner.call('answers', 'getMedia', ['x']))).sourceError?.tag).toBe('not-found');
      }
      expect(runner.health('answers')?.state).toBe('healthy');
      expect((await failure(runner.call('answers', 'search', ['throw', []]))).kind).toBe('trap');
      expect((await failure(runner.call('answers', 'search', ['sleep', []]))).kind).toBe('deadline-exceeded');
      expect(runner.health('answers')).toMatchObject({ state: 'unhealthy' });
      expect(runner.health('answers')?.reason).toMatch(/2 failures in a row, the last: timeout: /);
      expect((await failure(runner.call('answers', 'list', ['popular']))).kind).toBe('unavailable');
    } finally {
      await runner.close();
    }
  });
});
