import { PluginCallError, type RunnerPool } from '@awasm/plugin-runner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, fixtureServer } from '../support/fixture-server.js';
import { captureLogger } from '../support/logging.js';
import { type Built, newPool, spec } from '../support/runner.js';
import { buildPlugin } from './helpers.js';

// The snoop plugin imports wasi:filesystem, wasi:cli/environment and wasi:cli/exit directly (its
// world is in test/security/wit) and reports what it can see. The fetcher plugin is loaded twice
// with different settings to check that sources cannot read each other's.

let snoop: Built;
let fetcher: Built;
let pool: RunnerPool;
let upstream: Fixture;
const logger = captureLogger();

async function probe(what: string): Promise<unknown> {
  const media = (await pool.call('snoop', 'getMedia', [what])) as { description: string };
  return JSON.parse(media.description);
}

beforeAll(async () => {
  [snoop, fetcher] = await Promise.all([buildPlugin('snoop'), buildPlugin('fetcher')]);
  // answers each request with its own path after a short delay, so responses interleave
  upstream = await fixtureServer((req, res) => {
    setTimeout(() => res.end(`for ${req.url}`), 5 + Math.floor(Math.random() * 20));
  });
  pool = newPool({ logger, connectTo: { 'shared.awasm.test:80': `127.0.0.1:${upstream.port}` } });
  const shared = { allowedHosts: ['http://shared.awasm.test'], limits: { requestsPerSecond: 1000, maxConcurrency: 4 } };
  await pool.load(spec('snoop', snoop));
  await pool.load(spec('alice', fetcher, { settings: { token: 'alice-secret' }, ...shared }));
  await pool.load(spec('bob', fetcher, { settings: { token: 'bob-secret' }, ...shared }));
});

afterAll(async () => {
  await pool?.close();
  await upstream?.close();
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

describe("one plugin cannot observe another one's memory or responses", () => {
  it('keeps module state per source: what one instance keeps in memory the other never sees', async () => {
    const first = async (id: string, arg: string) =>
      ((await pool.call(id, 'listUnits', [arg])) as { items: Array<{ title: string }> }).items[0]?.title;
    expect(await first('alice', 'remember:alice-private')).toBe('alice-private');
    expect(await first('bob', 'recall')).toBe('(unset)');
    expect(await first('alice', 'recall')).toBe('alice-private');
    expect(await first('bob', 'remember:bob-private')).toBe('bob-private');
    expect(await first('alice', 'recall')).toBe('alice-private');
  });

  it('delivers each response only to the source that asked, with both fetching the same host at once', async () => {
    const urls = (who: string) => Array.from({ length: 12 }, (_, i) => `http://shared.awasm.test/${who}/${i}`);
    const [a, b] = (await Promise.all([
      pool.call('alice', 'getAssets', [JSON.stringify(urls('alice'))]),
      pool.call('bob', 'getAssets', [JSON.stringify(urls('bob'))]),
    ])) as Array<Array<{ text: string }>>;
    expect(a?.map((x) => x.text)).toEqual(urls('alice').map((u) => `200:for ${new URL(u).pathname}`));
    expect(b?.map((x) => x.text)).toEqual(urls('bob').map((u) => `200:for ${new URL(u).pathname}`));
    expect(upstream.requests).toHaveLength(24);
  });

  it("keeps a source's settings after another source with the same component crashes and restarts", async () => {
    const err = await pool.call('bob', 'getMedia', ['{not json']).then(
      () => undefined,
      (e: unknown) => e as PluginCallError,
    );
    expect(err?.kind).toBe('trap');
    const unit = async (id: string) =>
      ((await pool.call(id, 'listUnits', ['token'])) as { items: Array<{ title: string }> }).items[0]?.title;
    expect(await unit('bob')).toBe('bob-rotated');
    expect(await unit('alice')).toBe('alice-secret');
    // bob's replacement instance starts empty; alice's memory is untouched
    expect(
      ((await pool.call('bob', 'listUnits', ['recall'])) as { items: Array<{ title: string }> }).items[0]?.title,
    ).toBe('(unset)');
    expect(
      ((await pool.call('alice', 'listUnits', ['recall'])) as { items: Array<{ title: string }> }).items[0]?.title,
    ).toBe('alice-private');
  });
});
