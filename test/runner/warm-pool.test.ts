import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginCallError, type RunnerOptions, RunnerPool, type SourceSpec, sha256Hex } from '@awasm/plugin-runner';
import { buildJsComponent } from '@awasm/plugin-sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

// The warm pool with a real plugin (test/bench/plugins/bench): getMedia('count') returns how many
// calls its instance has served, getMedia('trap') traps, and search(base) GETs base/item/0..4 in
// turn. The fixture holds every GET of /hold/item/0 until the test releases it, so calls can be
// kept busy for as long as a test needs without timing anything.

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const HOST = 'hold.awasm.test';
let bytes: Uint8Array;
let digest: string;
let server: http.Server;
let port: number;
/** responses of held requests not yet released, in arrival order */
const held: Array<() => void> = [];
/** requests held so far, released or not */
let heldTotal = 0;
let heldWaiters: Array<{ n: number; resolve: () => void }> = [];
const pools: RunnerPool[] = [];

beforeAll(async () => {
  const built = await buildJsComponent({ sourcePath: join(repoRoot, 'test/bench/plugins/bench/index.js') });
  bytes = built.bytes;
  digest = sha256Hex(bytes);
  server = http.createServer((req, res) => {
    const m = /\/item\/(\d+)$/.exec(req.url ?? '');
    const answer = () => res.end(JSON.stringify({ id: Number(m?.[1]), title: req.url }));
    if (req.url === '/hold/item/0') {
      held.push(answer);
      heldTotal++;
      for (const w of heldWaiters.filter((w) => heldTotal >= w.n)) w.resolve();
      heldWaiters = heldWaiters.filter((w) => heldTotal < w.n);
    } else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  for (const release of held.splice(0)) release();
  heldTotal = 0;
  heldWaiters = [];
  for (const pool of pools.splice(0)) await pool.close();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Resolves once `n` requests have been held in total (since the test began). */
function heldCount(n: number): Promise<void> {
  if (heldTotal >= n) return Promise.resolve();
  return new Promise((resolve) => heldWaiters.push({ n, resolve }));
}

function newPool(options: Partial<RunnerOptions> = {}): RunnerPool {
  const pool = new RunnerPool({
    cacheDir: join(repoRoot, '.cache/runner-test'),
    connectTo: { [`${HOST}:80`]: `127.0.0.1:${port}` },
    ...options,
  });
  pools.push(pool);
  return pool;
}

function spec(id: string, maxConcurrency = 4): SourceSpec {
  return {
    id,
    digest,
    component: bytes,
    allowedHosts: [`http://${HOST}`],
    limits: {
      memoryMb: 128,
      callTimeoutMs: 20_000,
      maxResponseBytes: 1024 * 1024,
      maxConcurrency,
      requestsPerSecond: 1000,
    },
    settings: {},
  };
}

async function count(pool: RunnerPool, id: string): Promise<number> {
  const media = (await pool.call(id, 'getMedia', ['count'])) as { title: string };
  return Number(media.title);
}

const heldSearch = (pool: RunnerPool, id: string) => pool.call(id, 'search', [`http://${HOST}/hold`, []]);

/** Tracks whether a promise has settled, without awaiting it. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  const p = promise.finally(() => {
    done = true;
  });
  p.catch(() => {});
  return { promise: p, settled: () => done };
}

describe('warm instance pool', () => {
  it('reuses an instance across calls and replaces it with a fresh one after recycleAfterCalls', async () => {
    const pool = newPool({ recycleAfterCalls: 3 });
    await pool.load(spec('recycled'));
    const seen: number[] = [];
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) {
      seen.push(await count(pool, 'recycled'));
      ids.push(pool.instances('recycled')?.[0]?.id ?? 0);
    }
    // each instance's own counter starts again at 1: state does not survive a recycle
    expect(seen).toEqual([1, 2, 3, 1, 2, 3, 1]);
    expect(pool.stats('recycled')).toMatchObject({ calls: 7, ok: 7, instancesRecycled: 2, instancesStarted: 3 });
    expect(pool.instances('recycled')?.map((i) => i.id)).toEqual([3]);
  });

  it('replaces an instance that traps; the next call gets a fresh instance', async () => {
    const pool = newPool();
    await pool.load(spec('trapper'));
    expect(await count(pool, 'trapper')).toBe(1);
    expect(await count(pool, 'trapper')).toBe(2);
    const err = await pool.call('trapper', 'getMedia', ['trap']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginCallError);
    expect((err as PluginCallError).kind).toBe('trap');
    expect(await count(pool, 'trapper')).toBe(1);
    expect(pool.stats('trapper')).toMatchObject({ traps: 1, instancesStarted: 2, instancesLive: 1 });
    expect(pool.instances('trapper')?.map((i) => i.id)).toEqual([2]);
  });

  it('runs several instances of one source, up to its max_concurrency, and keeps them warm', async () => {
    const pool = newPool({ instancesPerSource: 8 });
    await pool.load(spec('wide', 3));
    const calls = Array.from({ length: 5 }, () => track(heldSearch(pool, 'wide')));
    await heldCount(3);
    // three instances busy on a held request each; the other two calls wait in the queue
    expect(pool.instances('wide')?.map((i) => i.state)).toEqual(['busy', 'busy', 'busy']);
    expect(calls.filter((c) => c.settled())).toHaveLength(0);
    // releasing one lets a queued call onto the freed instance, which is held again
    held.shift()?.();
    await heldCount(4);
    expect(pool.stats('wide')?.instancesStarted).toBe(3);
    while (calls.some((c) => !c.settled())) {
      for (const release of held.splice(0)) release();
      await Promise.race([Promise.all(calls.map((c) => c.promise)), heldCount(heldTotal + 1)]);
    }
    const pages = (await Promise.all(calls.map((c) => c.promise))) as Array<{ items: unknown[] }>;
    expect(pages.every((p) => p.items.length === 5)).toBe(true);
    // the instances stay warm: a second burst starts none
    expect(pool.instances('wide')?.map((i) => i.state)).toEqual(['idle', 'idle', 'idle']);
    await Promise.all([count(pool, 'wide'), count(pool, 'wide'), count(pool, 'wide')]);
    expect(pool.stats('wide')?.instancesStarted).toBe(3);
  });

  it('stops idle instances beyond the first after idleTimeoutMs', async () => {
    const pool = newPool({ idleTimeoutMs: 20 });
    await pool.load(spec('shrinks', 2));
    const calls = [track(heldSearch(pool, 'shrinks')), track(heldSearch(pool, 'shrinks'))];
    await heldCount(2);
    expect(pool.stats('shrinks')?.instancesLive).toBe(2);
    for (const release of held.splice(0)) release();
    await Promise.all(calls.map((c) => c.promise));
    while ((pool.stats('shrinks')?.instancesLive ?? 0) > 1) await new Promise((r) => setTimeout(r, 10));
    expect(pool.instances('shrinks')?.map((i) => i.state)).toEqual(['idle']);
    expect(await count(pool, 'shrinks')).toBeGreaterThan(0);
  });

  it('shares the instance budget: a busy source cannot starve another one', async () => {
    // two slots for two sources; `busy` gets four calls at once, each held upstream
    const pool = newPool({ maxInstances: 2, instancesPerSource: 4 });
    await pool.load(spec('busy'));
    await pool.load(spec('quiet'));
    const busy = Array.from({ length: 4 }, () => track(heldSearch(pool, 'busy')));
    await heldCount(2);
    // `busy` took the idle instance of `quiet` to run a second call; two of its calls wait
    expect(pool.instances('busy')?.map((i) => i.state)).toEqual(['busy', 'busy']);
    expect(pool.instances('quiet')).toEqual([]);
    expect(pool.budgetStats()).toMatchObject({ max: 2, inUse: 2, evictions: 1 });

    // `quiet` now has no instance and the budget is full: its call waits in line (behind busy,
    // which wants a third instance)
    const quiet = track(pool.call('quiet', 'list', ['popular']));
    expect(pool.budgetStats().waiting).toBe(2);
    // one of busy's calls finishes: its instance goes to `quiet`, not to busy's own queue
    held.shift()?.();
    expect(await quiet.promise).toMatchObject({ items: [{ title: 'listing popular' }] });
    expect(busy.filter((c) => c.settled())).toHaveLength(1);
    // ...and once quiet has nothing left to do, its instance goes back to busy
    expect(pool.instances('quiet')).toEqual([]);
    expect(pool.budgetStats().handovers).toBe(2);
    expect(pool.instances('busy')?.map((i) => i.state)).toEqual(['busy', 'starting']);

    // the rest of busy's calls complete, and it grows back into the free slot
    while (busy.some((c) => !c.settled())) {
      for (const release of held.splice(0)) release();
      await Promise.race([Promise.all(busy.map((c) => c.promise)), heldCount(heldTotal + 1)]);
    }
    expect(await Promise.all(busy.map((c) => c.promise))).toHaveLength(4);
    expect(pool.budgetStats().inUse).toBeLessThanOrEqual(2);
    expect(pool.stats('busy')?.ok).toBe(4);
  });

  it('serves waiting sources round-robin when the budget is smaller than the number of sources', async () => {
    const pool = newPool({ maxInstances: 1 });
    for (const id of ['a', 'b', 'c']) await pool.load(spec(id));
    // the single slot is held by a's busy instance; b and c queue for it in that order
    const a = track(heldSearch(pool, 'a'));
    await heldCount(1);
    const order: string[] = [];
    const b = pool.call('b', 'list', ['popular']).then(() => order.push('b'));
    const c = pool.call('c', 'list', ['popular']).then(() => order.push('c'));
    const a2 = pool.call('a', 'list', ['latest']).then(() => order.push('a'));
    held.shift()?.();
    await Promise.all([a.promise, b, c, a2]);
    expect(order).toEqual(['b', 'c', 'a']);
    expect(pool.budgetStats()).toMatchObject({ max: 1, inUse: 1 });
  });

  it('retires a JS guest that keeps handles it no longer uses before the handle cap traps a call', async () => {
    // componentize-js's engine keeps three input-stream pollables per GET: 15 per search, so the
    // 50,000 cap would trap the search after about 3,300 of them on one instance; the runner retires
    // the instance once it holds 25,000 (after about 1,670 searches), between calls
    const pool = newPool({ recycleAfterCalls: 1_000_000, instancesPerSource: 1 });
    // no rate limit: 17,500 GETs at the spec's 1000/s would take 17 s
    const { requestsPerSecond: _, ...limits } = spec('leaky').limits;
    await pool.load({ ...spec('leaky'), limits });
    for (let i = 0; i < 3_500; i++) await pool.call('leaky', 'search', [`http://${HOST}`, []]);
    expect(pool.stats('leaky')).toMatchObject({ traps: 0, instancesRecycled: 2, instancesStarted: 3 });
  });
});
