import { join } from 'node:path';
import { PluginCallError, type RunnerPool, sha256Hex } from '@awasm/plugin-runner';
import { buildCComponent } from '@awasm/plugin-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Built, buildPlugin, newPool, rejection, repoRoot, spec, withPeakRss } from './helpers.js';

// Values of one import call that all alias one large buffer in guest memory: the glue counts what a
// call lifts before it copies it, so 2,000 entries naming the same 4 MB string (8 GB to copy) trap
// at the per-call budget instead of growing the host until the worker's heap gives out.

let raw: Built;
let pool: RunnerPool;

beforeAll(async () => {
  const [built, fetcher] = await Promise.all([
    buildCComponent({ sourcePath: join(repoRoot, 'test/security/plugins/raw-wasi/raw.c') }),
    buildPlugin('fetcher'),
  ]);
  raw = { bytes: built.bytes, digest: sha256Hex(built.bytes) };
  pool = newPool();
  await pool.load(spec('raw-alias', raw, { limits: { memoryMb: 64, callTimeoutMs: 20_000 } }));
  await pool.load(spec('neighbour', fetcher));
});

afterAll(async () => {
  await pool?.close();
});

async function neighbourMs(): Promise<number> {
  const start = performance.now();
  const page = (await pool.call('neighbour', 'list', ['popular'])) as { items: Array<{ title: string }> };
  expect(page.items[0]?.title).toBe('listing popular');
  return performance.now() - start;
}

describe('lifts from guest memory are counted per call before they are copied', () => {
  it('traps a call whose values alias one buffer past the per-call budget, and the host stays bounded', async () => {
    const before = await neighbourMs();
    const attack = pool.call('raw-alias', 'search', ['alias-list', [], '2000']);
    const during = neighbourMs();
    const { result, grewMb } = await withPeakRss(() => rejection(attack, PluginCallError));
    console.log(`neighbour list: ${before.toFixed(1)} ms before, ${(await during).toFixed(1)} ms during the attack`);
    console.log(`host RSS grew ${grewMb.toFixed(1)} MiB`);
    expect(result.kind).toBe('trap');
    expect(result.message).toMatch(
      /^raw-alias\.search trapped: the plugin passed \d+ bytes in one call, over 16777216$/,
    );
    expect(grewMb).toBeLessThan(200);
    // the instance was replaced: the next call answers
    const page = (await pool.call('raw-alias', 'list', ['popular', undefined])) as { items: Array<{ title: string }> };
    expect(page.items[0]?.title).toBe('healthy');
    await neighbourMs();
  });
});
