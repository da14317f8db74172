import { join } from 'node:path';
import { PluginCallError, type RunnerPool, sha256Hex } from '@awasm/plugin-runner';
import { buildCComponent } from '@awasm/plugin-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/index.js';
import { rejection } from '../support/rejection.js';
import { withPeakRss } from '../support/rss.js';
import { type Built, newPool, spec } from '../support/runner.js';
import { buildPlugin } from './helpers.js';

// What a plugin hands the host in one crossing is counted before it is copied, with a fixed cost
// per value: values of one import call that all alias one large buffer (2,000 entries naming the
// same 4 MB string, 8 GB to copy), a result of millions of empty strings, an error text of
// megabytes, and a flood of empty log messages are each bounded by a budget that names its limit.

let raw: Built;
let pool: RunnerPool;
const pluginLogs: string[] = [];
const record = (obj: Record<string, unknown>, msg: string) => {
  if (obj.from === 'plugin' && obj.source === 'raw-lists') pluginLogs.push(msg);
};

beforeAll(async () => {
  const [built, fetcher] = await Promise.all([
    buildCComponent({ sourcePath: join(repoRoot, 'test/security/plugins/raw-wasi/raw.c') }),
    buildPlugin('fetcher'),
  ]);
  raw = { bytes: built.bytes, digest: sha256Hex(built.bytes) };
  pool = newPool({ logger: { debug: record, info: record, warn: record, error: record } });
  await pool.load(spec('raw-alias', raw, { limits: { memoryMb: 64, callTimeoutMs: 20_000 } }));
  await pool.load(spec('raw-lists', raw, { limits: { memoryMb: 64, callTimeoutMs: 20_000 } }));
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

  it('counts every string of a result, so a result of empty strings is bounded too', async () => {
    // 10 records of 4 lists of 100,000 empty strings: 32 MB of guest memory, 4,000,000 strings
    // (the 500,000 a list made a 60 MB response and grew the host by 1 GiB a call)
    const attack = pool.call('raw-lists', 'search', ['empty-strings', [], '100000']);
    const during = neighbourMs();
    const { result, grewMb } = await withPeakRss(() => rejection(attack, PluginCallError));
    console.log(`empty strings: neighbour ${(await during).toFixed(1)} ms, host RSS grew ${grewMb.toFixed(1)} MiB`);
    expect(result.message).toBe('raw-lists.search trapped: the plugin returned a result of more than 16777216 bytes');
    expect(grewMb).toBeLessThan(150);
    // 40,000 empty strings are an ordinary result
    const page = (await pool.call('raw-lists', 'search', ['empty-strings', [], '1000'])) as {
      items: Array<{ genres: string[] }>;
    };
    expect(page.items).toHaveLength(10);
    expect(page.items[9]?.genres).toHaveLength(1000);
  });

  it('cuts a source error text at 1,024 characters, saying so', async () => {
    const attack = pool.call('raw-lists', 'search', ['huge-error', [], '4000000']);
    const during = neighbourMs();
    const { result: err, grewMb } = await withPeakRss(() => rejection(attack, PluginCallError));
    console.log(`4 MB error text: neighbour ${(await during).toFixed(1)} ms, host RSS grew ${grewMb.toFixed(1)} MiB`);
    expect(grewMb).toBeLessThan(150);
    expect(err.kind).toBe('source-error');
    expect(err.sourceError?.tag).toBe('internal');
    const text = String(err.sourceError?.val);
    expect(text).toBe(`${'e'.repeat(1024)}… (cut at 1024 characters by the host)`);
    expect(err.message.length).toBeLessThan(2048);
  });

  it('counts a fixed cost for every log message, so empty messages end the output budget', async () => {
    pluginLogs.length = 0;
    const attack = pool.call('raw-lists', 'search', ['empty-logs', [], '1000000']);
    const during = neighbourMs();
    const { result, grewMb } = await withPeakRss(() => attack);
    const page = result as { items: Array<{ title: string }> };
    console.log(`empty logs: neighbour ${(await during).toFixed(1)} ms, host RSS grew ${grewMb.toFixed(1)} MiB`);
    expect(grewMb).toBeLessThan(150);
    expect(page.items[0]?.title).toBe('logged');
    // the 64 KiB budget at 64 bytes a message: at most 1,024 of the 1,000,000 reach the host's log
    const forwarded = pluginLogs.length;
    console.log(`empty logs: ${forwarded} of 1000000 messages forwarded`);
    expect(forwarded).toBeGreaterThan(0);
    expect(forwarded).toBeLessThanOrEqual(1024);
    // and none arrive once the call has answered
    await new Promise((r) => setTimeout(r, 200));
    expect(pluginLogs.length).toBe(forwarded);
  });
});
