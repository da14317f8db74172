import { PluginCallError, POOL_DEFAULTS, type RunnerPool } from '@awasm/plugin-runner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogger } from '../support/logging.js';
import { rejection } from '../support/rejection.js';
import { withPeakRss } from '../support/rss.js';
import { type Built, newPool, spec } from '../support/runner.js';
import { buildPlugin, tableBombComponent } from './helpers.js';

// The misbehave plugin runs an attack named by its search query (loop, grow, flood, sleep); its
// list() is a healthy call. The fetcher plugin is a bystander that must stay unaffected.

const MEMORY_MB = 64;
let hostile: Built;
let bystander: Built;
let pool: RunnerPool;
const logger = captureLogger();

const failure = (promise: Promise<unknown>) => rejection(promise, PluginCallError);

async function healthy(id: string) {
  const page = (await pool.call(id, 'list', ['popular'])) as { items: Array<{ title: string }> };
  expect(page.items).toHaveLength(1);
  return page.items[0]?.title;
}

beforeAll(async () => {
  [hostile, bystander] = await Promise.all([buildPlugin('misbehave'), buildPlugin('fetcher')]);
  pool = newPool({ logger });
  // one instance at a time, so a call made while the loop spins queues behind it
  await pool.load(
    spec('hostile', hostile, { limits: { memoryMb: MEMORY_MB, callTimeoutMs: 5000, maxConcurrency: 1 } }),
  );
  await pool.load(spec('bystander', bystander));
});

afterAll(async () => {
  await pool?.close();
});

describe('a runaway plugin is stopped and replaced; others are unaffected', () => {
  it('ends an infinite loop with DEADLINE_EXCEEDED while another plugin keeps answering', async () => {
    let loopSettled = false;
    const loop = failure(pool.call('hostile', 'search', ['loop', []], { timeoutMs: 1500 })).finally(() => {
      loopSettled = true;
    });
    // the bystander answers while the loop is still spinning in its own thread
    expect(await healthy('bystander')).toBe('listing popular');
    expect(loopSettled).toBe(false);

    const err = await loop;
    expect(err.kind).toBe('deadline-exceeded');
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(err.message).toMatch(/exceeded its 1500 ms deadline/);

    expect(await healthy('bystander')).toBe('listing popular');
    // the looping source itself serves again from a fresh instance
    expect(await healthy('hostile')).toBe('still serving popular');
    expect(pool.stats('hostile')?.instancesStarted).toBe(2);
    expect(pool.stats('bystander')?.instancesStarted).toBe(1);
  });

  it('serves a call queued behind the loop from the replacement instance', async () => {
    const loop = failure(pool.call('hostile', 'search', ['loop', []], { timeoutMs: 1000 }));
    const tooShort = failure(pool.call('hostile', 'list', ['latest'], { timeoutMs: 300 }));
    const queued = pool.call('hostile', 'list', ['latest']);
    // a queued call whose own deadline passes while it waits fails without touching the instance
    const late = await tooShort;
    expect(late.kind).toBe('deadline-exceeded');
    expect(late.message).toMatch(/did not start within its 300 ms deadline/);
    expect((await loop).kind).toBe('deadline-exceeded');
    // the call behind the loop runs on the replacement instance
    expect(await queued).toMatchObject({ items: [{ title: 'still serving latest' }] });
  });

  it('applies a shorter per-call timeout and ends a call that sleeps forever', async () => {
    const err = await failure(pool.call('hostile', 'search', ['sleep', []], { timeoutMs: 300 }));
    expect(err.kind).toBe('deadline-exceeded');
    expect(err.message).toMatch(/300 ms/);
    expect(await healthy('hostile')).toBe('still serving popular');
  });

  it('traps a memory bomb at the memory limit and keeps the host RSS bounded', async () => {
    const { result: err, grewMb } = await withPeakRss(() => failure(pool.call('hostile', 'search', ['grow', []])));
    expect(err.kind).toBe('trap');
    // the plugin's runtime reported the failed allocation on its stderr before trapping
    expect(logger.records.some((r) => r.obj.source === 'hostile' && /out of memory/.test(r.msg))).toBe(true);
    const boundMb = MEMORY_MB + 300;
    expect(grewMb).toBeLessThan(boundMb);

    expect(await healthy('hostile')).toBe('still serving popular');
    expect(await healthy('bystander')).toBe('listing popular');
  });

  // componentize-js turns an uncaught exception, an invalid error variant and a stack overflow into
  // an abort: the wasm `unreachable` instruction
  it.each([
    ['throw', /wasm `unreachable` instruction executed/],
    ['badvariant', /wasm `unreachable` instruction executed/],
    ['recurse', /wasm `unreachable` instruction executed/],
  ])('traps an instance that aborts (%s), replaces it and keeps serving', async (attack, reason) => {
    const started = pool.stats('hostile')?.instancesStarted ?? 0;
    const err = await failure(pool.call('hostile', 'search', [attack, []]));
    expect(err.kind).toBe('trap');
    expect(err.code).toBe('TRAP');
    expect(err.message).toMatch(/^hostile.search trapped: /);
    expect(err.message).toMatch(reason);
    expect(await healthy('hostile')).toBe('still serving popular');
    expect(pool.stats('hostile')?.instancesStarted).toBe(started + 1);
    expect(await healthy('bystander')).toBe('listing popular');
  });

  it('keeps the host bounded when many instances each allocate up to their cap at once', async () => {
    const copies = Array.from({ length: 6 }, (_, i) => `hog-${i}`);
    const capMb = 32;
    await Promise.all(copies.map((id) => pool.load(spec(id, hostile, { limits: { memoryMb: capMb } }))));
    try {
      const { result: errors, grewMb } = await withPeakRss(() =>
        Promise.all(copies.map((id) => failure(pool.call(id, 'search', ['grow', []])))),
      );
      expect(errors.map((e) => e.kind)).toEqual(copies.map(() => 'trap'));
      // each instance is capped at 32 MiB of wasm memory: the host grows by at most the caps plus overhead
      expect(grewMb).toBeLessThan(copies.length * capMb + 400);
      for (const id of copies) expect(pool.stats(id)?.memoryBytes).toBeLessThanOrEqual(capMb * 1024 * 1024);
      expect(await healthy('bystander')).toBe('listing popular');
      expect(await healthy('hog-0')).toBe('still serving popular');
    } finally {
      await Promise.all(copies.map((id) => pool.unload(id)));
    }
    expect(pool.loaded().sort()).toEqual(['bystander', 'hostile']);
  });

  it('stops table.grow bombs in many instances at maxTableEntries and keeps the host RSS bounded', async () => {
    // a hand-written core module whose table has no maximum: uncapped, V8 lets each instance grow it
    // to 10,000,000 entries (~270 MB of host memory); capped, it stops at 100,000 (~3 MB)
    const bomb = await tableBombComponent();
    const copies = Array.from({ length: 4 }, (_, i) => `table-bomb-${i}`);
    await Promise.all(copies.map((id) => pool.load(spec(id, bomb))));
    try {
      // the plugin reports how far its table grew before table.grow returned -1
      const reached = await failure(pool.call('table-bomb-0', 'list', ['latest']));
      expect(reached.kind).toBe('source-error');
      expect(reached.sourceError).toEqual({ tag: 'internal', val: String(POOL_DEFAULTS.maxTableEntries) });

      const { result: errors, grewMb } = await withPeakRss(() =>
        Promise.all(copies.map((id) => failure(pool.call(id, 'list', ['popular'])))),
      );
      // each grew its table to the cap, then executed `unreachable`
      expect(errors.map((e) => e.kind)).toEqual(copies.map(() => 'trap'));
      for (const err of errors) expect(err.message).toMatch(/^table-bomb-\d\.list trapped: .*unreachable/);
      expect(grewMb).toBeLessThan(200);

      expect(await healthy('bystander')).toBe('listing popular');
      expect(await healthy('hostile')).toBe('still serving popular');
      // a replacement instance of a bomb serves (and is capped) again
      const again = await failure(pool.call('table-bomb-1', 'list', ['latest']));
      expect(again.sourceError).toEqual({ tag: 'internal', val: String(POOL_DEFAULTS.maxTableEntries) });
    } finally {
      await Promise.all(copies.map((id) => pool.unload(id)));
    }
    expect(pool.loaded().sort()).toEqual(['bystander', 'hostile']);
  });

  it('drops a stdout/stderr flood past the per-call budget and counts it', async () => {
    const fromPluginBefore = logger.records.filter((r) => r.obj.source === 'hostile' && r.obj.stream);
    const page = (await pool.call('hostile', 'search', ['flood', []])) as { items: Array<{ description: string }> };
    expect(page.items[0]?.description).toBe('flooded');
    const forwarded = logger.records
      .filter((r) => r.obj.source === 'hostile' && r.obj.stream)
      .slice(fromPluginBefore.length)
      .reduce((n, r) => n + r.msg.length, 0);
    expect(forwarded).toBeGreaterThan(0);
    expect(forwarded).toBeLessThanOrEqual(64 * 1024);
    // 22,000 lines of 1 KiB were written
    expect(pool.stats('hostile')?.droppedOutputBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(logger.records.some((r) => r.msg === 'plugin output over the per-call budget was dropped')).toBe(true);
    expect(await healthy('hostile')).toBe('still serving popular');
  });

  it('refuses arguments far over the size limits before they reach the plugin', async () => {
    const calls = pool.stats('hostile')?.calls;
    const err = await failure(pool.call('hostile', 'search', ['x'.repeat(10_000_000), []]));
    expect(err.kind).toBe('refused');
    expect(err.message).toMatch(/query is 10000000 characters, over the limit of 1024/);
    const many = await failure(
      pool.call('hostile', 'search', ['q', Array.from({ length: 1000 }, (_, i) => ({ id: `f${i}`, values: [] }))]),
    );
    expect(many.message).toMatch(/1000 filters/);
    expect(pool.stats('hostile')?.calls).toBe(calls);
    expect(await healthy('hostile')).toBe('still serving popular');
  });
});
