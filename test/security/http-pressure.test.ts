import { join } from 'node:path';
import { PluginCallError, type RunnerPool, sha256Hex } from '@awasm/plugin-runner';
import { buildCComponent } from '@awasm/plugin-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, fixtureServer } from '../support/fixture-server.js';
import { repoRoot } from '../support/index.js';
import { rejection } from '../support/rejection.js';
import { withPeakRss } from '../support/rss.js';
import { type Built, newPool, spec } from '../support/runner.js';

// Attack 20: a guest without a JS engine (test/security/plugins/raw-http, C) presses on the host's
// main thread through wasi:http: bodies it never reads, bodies it posts to an upstream that never
// reads them, requests it drops as fast as it makes them, and timeouts of 2^64-1 ns. Each is bounded
// per instance on the main thread (http-host.ts, http-channel.mjs), and a neighbour source's calls,
// which need the same main thread for their requests, go on meanwhile.

const HOST = 'raw-http.awasm.test';
const MiB = 1024 * 1024;
/** Body of /huge: as big as the source's max_response_bytes allows. */
const HUGE_BODY = 64 * MiB;
let raw: Built;
let fixture: Fixture;
let pool: RunnerPool;
/** request bodies the never-reading upstream got its hands on (it never reads them) */
let posts = 0;

beforeAll(async () => {
  const built = await buildCComponent({ sourcePath: join(repoRoot, 'test/security/plugins/raw-http/http.c') });
  raw = { bytes: built.bytes, digest: sha256Hex(built.bytes) };
  const chunk = Buffer.alloc(MiB, 'h');
  fixture = await fixtureServer((req, res) => {
    if (req.url === '/huge') {
      // written as fast as the host reads, no faster (so what piles up is the host's, not the server's)
      res.writeHead(200, { 'content-length': String(HUGE_BODY) });
      let sent = 0;
      const more = () => {
        while (sent < HUGE_BODY) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', more);
            return;
          }
        }
        res.end();
      };
      more();
    } else if (req.url === '/sink') {
      // never reads the body and never answers: the host cannot send what the plugin posts
      posts++;
      req.pause();
    } else if (req.url === '/slow') setTimeout(() => res.end('slow body'), 50);
    else res.end('small body');
  });
  pool = newPool({ connectTo: { [`${HOST}:80`]: `127.0.0.1:${fixture.port}` } });
  const limits = { memoryMb: 16, callTimeoutMs: 15_000, maxResponseBytes: HUGE_BODY, maxConcurrency: 8 };
  await pool.load(spec('attacker', raw, { allowedHosts: [`http://${HOST}`], limits }));
  await pool.load(spec('neighbour', raw, { allowedHosts: [`http://${HOST}`], limits: { callTimeoutMs: 5000 } }));
});

afterAll(async () => {
  await pool?.close();
  await fixture?.close();
});

const attack = (name: string, cursor: string) => pool.call('attacker', 'search', [name, [], cursor]);

async function title(promise: Promise<unknown>): Promise<string> {
  const page = (await promise) as { items: Array<{ title: string }> };
  return page.items[0]?.title ?? '';
}

async function trap(promise: Promise<unknown>): Promise<string> {
  const err = await rejection(promise, PluginCallError);
  expect(err.kind).toBe('trap');
  return err.message;
}

/**
 * Runs `attack` while the neighbour source makes a GET through the host over and over; logs the
 * neighbour's latencies (never asserted: timings) and returns the attack's outcome and how many
 * neighbour calls answered, all of which must have.
 */
async function withNeighbour<T>(label: string, attackRun: () => Promise<T>): Promise<{ result: T; answered: number }> {
  let done = false;
  const latencies: number[] = [];
  const neighbour = (async () => {
    while (!done) {
      const started = performance.now();
      expect(await title(pool.call('neighbour', 'search', ['huge-timeouts', [], `http://${HOST}/small`]))).toBe(
        'timeouts kept',
      );
      latencies.push(performance.now() - started);
    }
  })();
  try {
    return { result: await attackRun(), answered: latencies.length };
  } finally {
    done = true;
    await neighbour;
    latencies.sort((a, b) => a - b);
    const at = (q: number) =>
      (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(1);
    console.log(
      `${label}: neighbour answered ${latencies.length} calls during the attack, p50 ${at(0.5)} ms, max ${at(1)} ms`,
    );
  }
}

async function stillHealthy() {
  expect(await title(pool.call('attacker', 'list', ['popular', undefined]))).toBe('healthy');
  expect(await title(pool.call('neighbour', 'list', ['popular', undefined]))).toBe('healthy');
}

describe('wasi:http pressure on the host main thread, per instance', () => {
  it('holds back the responses of an instance that leaves their bodies unread, at the unread cap', async () => {
    const before = fixture.requests.length;
    const { result, grewMb } = await withPeakRss(() =>
      withNeighbour('unread-body hoard', () => trap(attack('hoard', `http://${HOST}/huge`))),
    );
    expect(result.result).toBe(
      'attacker.search trapped: the plugin left more than 67108864 bytes of response bodies unread',
    );
    expect(result.answered).toBeGreaterThan(0);
    // about one 64 MiB body fills the cap: the host pauses the responses instead of reading them in,
    // and the next request traps (without the cap: 136 GETs and 2 GiB)
    const requests = fixture.requests.length - before;
    const bytesIn = pool.stats('attacker')?.http.bytesIn ?? 0;
    console.log(
      `unread-body hoard: ${requests} GETs of 64 MiB, ${(bytesIn / MiB).toFixed(0)} MiB read in, host RSS grew ${grewMb.toFixed(0)} MiB`,
    );
    expect(requests).toBeLessThan(64);
    expect(bytesIn).toBeLessThan(HUGE_BODY + 16 * MiB);
    expect(grewMb).toBeLessThan(400);
    await stillHealthy();
  });

  it('counts request bodies queued in the host against the unsent cap until they are written out', async () => {
    const { result, grewMb } = await withPeakRss(() =>
      withNeighbour('queued request bodies', () => trap(attack('post-hoard', `http://${HOST}/sink`))),
    );
    expect(result.result).toBe(
      'attacker.search trapped: the plugin holds more than 67108864 bytes of request bodies it has not sent',
    );
    expect(result.answered).toBeGreaterThan(0);
    // two 32 MiB bodies fill the cap; the third is refused before it is copied
    const sent = pool.stats('attacker')?.http.bytesOut ?? 0;
    console.log(
      `queued request bodies: ${posts} POSTs reached the server, ${sent / MiB} MiB handed to Node, host RSS grew ${grewMb.toFixed(0)} MiB`,
    );
    expect(sent).toBeLessThanOrEqual(2 * 32 * MiB);
    expect(grewMb).toBeLessThan(400);
    await stillHealthy();
  });

  it('keeps a neighbour answering while an instance makes and drops requests in a loop', async () => {
    const before = pool.stats('attacker')?.http.requests ?? 0;
    const { result, grewMb } = await withPeakRss(() =>
      withNeighbour('dropped-future flood', () => title(attack('drop-flood', '20000'))),
    );
    expect(result.result).toBe('flooded');
    expect(result.answered).toBeGreaterThan(0);
    const performed = (pool.stats('attacker')?.http.requests ?? 0) - before;
    console.log(
      `dropped-future flood: 20000 dropped, ${performed} reached Node, host RSS grew ${grewMb.toFixed(0)} MiB`,
    );
    expect(performed).toBeLessThanOrEqual(20_000);
    expect(grewMb).toBeLessThan(300);
    await stillHealthy();
  });

  it('keeps guest timeouts of 2^64-1 ns from reaching a timer', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      // a 50 ms answer: a timeout turned into a 1 ms timer would fail the request, and the plugin traps
      expect(await title(attack('huge-timeouts', `http://${HOST}/slow`))).toBe('timeouts kept');
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.startsWith('TimeoutOverflowWarning'))).toEqual([]);
    await stillHealthy();
  });
});
