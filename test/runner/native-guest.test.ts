import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginCallError, RunnerPool, type SourceSpec, sha256Hex } from '@awasm/plugin-runner';
import { buildCComponent } from '@awasm/plugin-sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

// A guest with no JS engine in it: the benchmark's source written in C (test/bench/plugins/bench-c,
// wit-bindgen bindings, wasi-libc), built by plugin-sdk's buildCComponent. It drives the host's
// wasi:http through the raw resource calls a JS guest's engine hides (fields, outgoing-request,
// future-incoming-response.subscribe/get, pollable.block, incoming-body.stream, blocking-read).

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const HOST = 'native.awasm.test';
let bytes: Uint8Array;
let server: http.Server;
let port: number;
let cacheDir: string;
/** request lines and Host headers the fixture saw */
const seen: Array<{ url: string; host: string | undefined }> = [];
const pools: RunnerPool[] = [];

beforeAll(async () => {
  bytes = (await buildCComponent({ sourcePath: join(repoRoot, 'test/bench/plugins/bench-c/bench.c') })).bytes;
  cacheDir = await mkdtemp(join(tmpdir(), 'awasm-native-guest-'));
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', host: req.headers.host });
    if (req.url?.startsWith('/hang/')) return; // never answers
    const m = /^(?:\/bad)?\/item\/(\d+)$/.exec(req.url ?? '');
    if (!m) {
      res.statusCode = 404;
      res.end();
    } else if (req.url?.startsWith('/bad/')) res.end('{"nothing": true}');
    else res.end(JSON.stringify({ id: Number(m[1]), title: `Item ${m[1]}`, text: 'x'.repeat(100_000) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  seen.length = 0;
  for (const pool of pools.splice(0)) await pool.close();
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(cacheDir, { recursive: true, force: true });
});

function newPool(options: { spinWaitMicros?: number } = {}): RunnerPool {
  const pool = new RunnerPool({ cacheDir, connectTo: { [`${HOST}:80`]: `127.0.0.1:${port}` }, ...options });
  pools.push(pool);
  return pool;
}

function spec(id: string): SourceSpec {
  return {
    id,
    digest: sha256Hex(bytes),
    component: bytes,
    allowedHosts: [`http://${HOST}`],
    limits: { memoryMb: 16, callTimeoutMs: 10_000, maxResponseBytes: 1024 * 1024, maxConcurrency: 2 },
    settings: {},
  };
}

describe('a C guest (no JS engine) through the runner', () => {
  it('is a small component', () => {
    // the JS guest is ~13 MB (an engine and a snapshot); this is bindings, libc pieces and the plugin
    expect(bytes.length).toBeLessThan(256 * 1024);
  });

  it('searches with five sequential GETs through the host and reads each 100 kB body whole', async () => {
    const pool = newPool();
    await pool.load(spec('native'));
    const page = (await pool.call('native', 'search', [`http://${HOST}`, [], undefined])) as {
      items: Array<{ id: string; title: string; kind: string }>;
      nextCursor?: string;
    };
    expect(page.items.map((m) => [m.id, m.title, m.kind])).toEqual(
      [0, 1, 2, 3, 4].map((i) => [String(i), `Item ${i}`, 'book']),
    );
    expect(page.nextCursor).toBeUndefined();
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => ({ url: `/item/${i}`, host: HOST })));
    const stats = pool.stats('native');
    expect(stats?.http).toMatchObject({ requests: 5, denied: 0, failed: 0 });
    expect(stats?.http.bytesIn).toBeGreaterThan(5 * 100_000);
  });

  it('gets typed errors back: a host outside allowed_hosts is refused, a bad body is a parse error', async () => {
    const pool = newPool();
    await pool.load(spec('native'));
    const denied = await pool.call('native', 'search', ['http://evil.awasm.test', [], undefined]).catch((e) => e);
    expect(denied).toBeInstanceOf(PluginCallError);
    expect((denied as PluginCallError).sourceError).toEqual({
      tag: 'network',
      val: 'the request failed: HTTP-request-denied',
    });
    expect(pool.stats('native')?.http.denied).toBe(1);

    const parse = await pool.call('native', 'search', [`http://${HOST}/bad`, [], undefined]).catch((e) => e);
    expect((parse as PluginCallError).sourceError).toEqual({ tag: 'parse', val: 'the item has no id or title' });
    expect(seen).toEqual([{ url: '/bad/item/0', host: HOST }]);
  });

  it('traps with a named wasm trap and the next call gets a fresh instance', async () => {
    const pool = newPool();
    await pool.load(spec('native'));
    const count = async () => Number(((await pool.call('native', 'getMedia', ['count'])) as { title: string }).title);
    expect(await count()).toBe(1);
    expect(await count()).toBe(2);
    const err = await pool.call('native', 'getMedia', ['trap']).catch((e) => e);
    expect((err as PluginCallError).kind).toBe('trap');
    expect((err as Error).message).toContain('wasm `unreachable` instruction executed');
    expect(await count()).toBe(1);
    expect(pool.stats('native')).toMatchObject({ traps: 1, instancesStarted: 2 });
  });

  it('answers the same whether its worker sleeps or spins waiting for the host, and counts running calls', async () => {
    const search = (pool: RunnerPool) => pool.call('native', 'search', [`http://${HOST}`, [], undefined]);
    const pages: unknown[] = [];
    for (const spinWaitMicros of [0, 2000]) {
      const pool = newPool({ spinWaitMicros });
      await pool.load(spec('native'));
      expect(pool.callsRunning()).toBe(0);
      const pending = search(pool);
      expect(pool.callsRunning()).toBe(1);
      pages.push(await pending);
      expect(pool.callsRunning()).toBe(0);
      // a trap and a deadline that ends the instance mid-wait count down too
      const trap = await pool.call('native', 'getMedia', ['trap']).catch((e) => e);
      expect((trap as PluginCallError).kind).toBe('trap');
      expect(pool.callsRunning()).toBe(0);
      const hung = await pool
        .call('native', 'search', [`http://${HOST}/hang`, [], undefined], { timeoutMs: 300 })
        .catch((e) => e);
      expect((hung as PluginCallError).kind).toBe('deadline-exceeded');
      // the caller's shorter deadline: the guest gets CANCEL_GRACE_MS to return before its worker goes
      await expect.poll(() => pool.callsRunning()).toBe(0);
      expect(await search(pool)).toEqual(pages[0]);
    }
    expect(pages[1]).toEqual(pages[0]);
    expect(() => newPool({ spinWaitMicros: -1 })).toThrow(/spinWaitMicros must be a whole number from 0 to 2000/);
    expect(() => newPool({ spinWaitMicros: 2001 })).toThrow(/spinWaitMicros/);
  });

  it('loads again from the on-disk cache in a new runner', async () => {
    await newPool().load(spec('native'));
    const pool = newPool();
    await pool.load(spec('native'));
    expect(pool.loadInfo('native')?.cacheHit).toBe(true);
    expect(await pool.call('native', 'list', ['latest', undefined])).toMatchObject({
      items: [{ id: 'static', title: 'listing latest' }],
    });
  });
});
