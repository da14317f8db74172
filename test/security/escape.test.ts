import { PluginCallError, type RunnerPool } from '@awasm/plugin-runner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Built, buildPlugin, captureLogger, newPool, spec } from './helpers.js';

// The snoop plugin imports wasi:filesystem, wasi:cli/environment and wasi:cli/exit directly (its
// world is in test/security/wit) and reports what it can see. The fetcher plugin is loaded twice
// with different settings to check that sources cannot read each other's.

let snoop: Built;
let fetcher: Built;
let pool: RunnerPool;
const logger = captureLogger();

async function probe(what: string): Promise<unknown> {
  const media = (await pool.call('snoop', 'getMedia', [what])) as { description: string };
  return JSON.parse(media.description);
}

beforeAll(async () => {
  [snoop, fetcher] = await Promise.all([buildPlugin('snoop'), buildPlugin('fetcher')]);
  pool = newPool({ logger });
  await pool.load(spec('snoop', snoop));
  await pool.load(spec('alice', fetcher, { settings: { token: 'alice-secret' } }));
  await pool.load(spec('bob', fetcher, { settings: { token: 'bob-secret' } }));
});

afterAll(async () => {
  await pool?.close();
});

describe('a plugin finds no filesystem, environment, arguments or exit', () => {
  it('sees no preopened directories, so there is no file to open', async () => {
    expect(await probe('files')).toEqual({ preopens: [], reads: [] });
  });

  it('cannot fetch a file: URL', async () => {
    const denied = pool.stats('snoop')?.http.denied ?? 0;
    const result = (await probe('fileUrl')) as { error?: string; status?: number };
    expect(result.status).toBeUndefined();
    expect(result.error).toMatch(/NetworkError/);
    expect(pool.stats('snoop')?.http.denied).toBe(denied + 1);
    const refusal = logger.records.find((r) => r.msg === 'plugin request refused' && r.obj.source === 'snoop');
    expect(refusal?.obj.reason).toMatch(/scheme 'file' is not allowed/);
  });

  it('gets an empty environment, no arguments and no working directory', async () => {
    // the host process has a full environment; none of it reaches the plugin
    expect(Object.keys(process.env).length).toBeGreaterThan(0);
    expect(await probe('env')).toEqual({ env: [], args: [], cwd: null });
  });

  it('traps the instance on exit instead of ending the process, and keeps serving', async () => {
    const started = pool.stats('snoop')?.instancesStarted ?? 0;
    const err = await pool.call('snoop', 'getMedia', ['exit']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PluginCallError);
    expect((err as PluginCallError).kind).toBe('trap');
    expect((err as PluginCallError).message).toMatch(/called exit\(1\)/);
    expect(await pool.call('snoop', 'list', ['popular'])).toMatchObject({ items: [{ id: 'still serving popular' }] });
    expect(pool.stats('snoop')?.instancesStarted).toBe(started + 1);
    // other sources never noticed
    expect(pool.stats('alice')?.instancesStarted).toBe(1);
  });
});

describe('one plugin cannot see another one', () => {
  it('reads only its own settings, even for the same component', async () => {
    const unit = async (id: string) =>
      ((await pool.call(id, 'listUnits', ['token'])) as { items: Array<{ title: string; publishedAt?: bigint }> })
        .items[0];
    expect(await unit('alice')).toMatchObject({ title: 'alice-secret', publishedAt: 1700000000000n });
    expect(await unit('bob')).toMatchObject({ title: 'bob-secret' });
    pool.setSettings('bob', { token: 'bob-rotated' });
    expect((await unit('bob'))?.title).toBe('bob-rotated');
    expect((await unit('alice'))?.title).toBe('alice-secret');
  });
});
