import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PluginLoadError, RunnerPool } from '@awasm/plugin-runner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlugin } from '../security/helpers.js';
import { captureLogger } from '../support/logging.js';
import { rejection } from '../support/rejection.js';
import { type Built, newPool, spec } from '../support/runner.js';

// JS plugins of one componentize-js version carry the same engine; the runner keeps each one's
// 13 MB core module as that engine plus its own data, and compiles the engine once for all of them.

let fetcher: Built;
let misbehave: Built;

beforeAll(async () => {
  [fetcher, misbehave] = await Promise.all([buildPlugin('fetcher'), buildPlugin('misbehave')]);
});

const listing = (value: unknown) => (value as { items: Array<{ id: string; title: string }> }).items[0];

describe('a shared engine', () => {
  let pool: RunnerPool;
  afterAll(async () => {
    await pool?.close();
  });

  it('is compiled once for two JS sources, each answering from its own data', async () => {
    pool = newPool();
    await pool.load(spec('fetcher', fetcher));
    await pool.load(spec('misbehave', misbehave));
    expect(pool.enginesCompiled()).toBe(1);
    expect(listing(await pool.call('fetcher', 'list', ['popular']))).toMatchObject({
      id: 'static',
      title: 'listing popular',
    });
    expect(listing(await pool.call('misbehave', 'list', ['popular']))).toMatchObject({
      id: 'healthy',
      title: 'still serving popular',
    });
  });

  it('survives one of its sources going, and is let go with the last', async () => {
    await pool.unload('fetcher');
    expect(pool.enginesCompiled()).toBe(1);
    expect(listing(await pool.call('misbehave', 'list', ['latest']))).toMatchObject({ title: 'still serving latest' });
    await pool.unload('misbehave');
    // the release is counted once the compiled component's promise settles
    await new Promise((r) => setTimeout(r, 10));
    expect(pool.enginesCompiled()).toBe(0);
  });

  it('refuses a source whose memory starts over its memoryMb, naming the module and the limit', async () => {
    // the engine's memory starts at 161 pages (10.06 MiB)
    const err = await rejection(pool.load(spec('small', fetcher, { limits: { memoryMb: 10 } })), PluginLoadError);
    expect(err.message).toMatch(
      /^source 'small': refused: component\.core\.wasm: memory 0 needs \d+ pages \([\d.]+ MiB\) initially, more than the limit of 160 pages \(10 MiB\) \(limits\.memoryMb is 10\)$/,
    );
    expect(pool.enginesCompiled()).toBe(0);
  });
});

describe('a damaged or missing engine file', () => {
  let dir: string;
  let enginePath: string;

  beforeAll(async () => {
    // a cache of its own, so breaking it here breaks nothing else
    dir = await mkdtemp(join(tmpdir(), 'awasm-engine-'));
    const warm = new RunnerPool({ cacheDir: dir });
    await warm.load(spec('fetcher', fetcher));
    await warm.close();
    const engines = (await readdir(join(dir, 'engines'))).filter((f) => f.endsWith('.wasm'));
    expect(engines.length).toBeGreaterThan(0);
    enginePath = join(dir, 'engines', engines[0] as string);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const sha256 = async (path: string) =>
    createHash('sha256')
      .update(await readFile(path))
      .digest('hex');

  it('is rebuilt by transpiling the component again, with a warning, and the source serves', async () => {
    const bytes = await readFile(enginePath);
    const middle = bytes.length >> 1;
    bytes[middle] = (bytes[middle] as number) ^ 0xff;
    await writeFile(enginePath, bytes);
    const logger = captureLogger();
    const pool = new RunnerPool({ cacheDir: dir, logger });
    try {
      await pool.load(spec('fetcher', fetcher));
      expect(listing(await pool.call('fetcher', 'list', ['popular']))).toMatchObject({ title: 'listing popular' });
      expect(logger.records.some((r) => r.level === 'warn' && /cached engine damaged/.test(r.msg))).toBe(true);
      expect(pool.loadInfo('fetcher')?.cacheHit).toBe(false);
    } finally {
      await pool.close();
    }
    expect(`${await sha256(enginePath)}.wasm`).toBe(enginePath.split('/').pop());
  });

  it('makes the entry that uses it be transpiled again', async () => {
    await rm(enginePath);
    const pool = new RunnerPool({ cacheDir: dir });
    try {
      await pool.load(spec('fetcher', fetcher));
      expect(pool.loadInfo('fetcher')?.cacheHit).toBe(false);
      expect(listing(await pool.call('fetcher', 'list', ['popular']))).toMatchObject({ title: 'listing popular' });
    } finally {
      await pool.close();
    }
    expect(`${await sha256(enginePath)}.wasm`).toBe(enginePath.split('/').pop());
  });
});
