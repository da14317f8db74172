import { join } from 'node:path';
import { PluginCallError, type RunnerPool, sha256Hex } from '@awasm/plugin-runner';
import { buildCComponent } from '@awasm/plugin-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, fixtureServer } from '../support/fixture-server.js';
import { repoRoot } from '../support/index.js';
import { rejection } from '../support/rejection.js';
import { withPeakRss } from '../support/rss.js';
import { type Built, newPool, spec } from '../support/runner.js';
import { buildPlugin } from './helpers.js';

// Attack 19: a guest with no JS engine in the way (test/security/plugins/raw-wasi, C) calls the
// host's wasi:http resources directly, in orders and amounts a JS engine never would. Every attack
// ends in an answer or a typed trap, the instance is replaced, the host's memory stays bounded and
// another plugin keeps answering. Before the caps, the handle flood and the long list each aborted
// the whole test process (V8: "Allocation failed - JavaScript heap out of memory" while the glue's
// handle table, or the array it lifted the list into, grew past what the worker's heap allowed).

const HOST = 'raw.awasm.test';
let raw: Built;
let bystander: Built;
let fixture: Fixture;
let pool: RunnerPool;
const big = Buffer.alloc(1_000_000, 'a');

beforeAll(async () => {
  const [built, fetcher] = await Promise.all([
    buildCComponent({ sourcePath: join(repoRoot, 'test/security/plugins/raw-wasi/raw.c') }),
    buildPlugin('fetcher'),
  ]);
  raw = { bytes: built.bytes, digest: sha256Hex(built.bytes) };
  bystander = fetcher;
  fixture = await fixtureServer((req, res) => res.end(req.url === '/big' ? big : 'hello body'));
  pool = newPool({ connectTo: { [`${HOST}:80`]: `127.0.0.1:${fixture.port}` } });
  await pool.load(
    spec('raw', raw, {
      allowedHosts: [`http://${HOST}`],
      limits: { memoryMb: 16, callTimeoutMs: 10_000, maxResponseBytes: 1024 * 1024 },
    }),
  );
  // the same plugin with room in its memory for a 30,000,000-element list (120 MB)
  await pool.load(spec('raw-big', raw, { limits: { memoryMb: 256, callTimeoutMs: 10_000 } }));
  await pool.load(spec('bystander', bystander));
});

afterAll(async () => {
  await pool?.close();
  await fixture?.close();
});

const attack = (name: string, url = `http://${HOST}/small`) => pool.call('raw', 'search', [name, [], url]);

async function title(promise: Promise<unknown>): Promise<string> {
  const page = (await promise) as { items: Array<{ title: string }> };
  return page.items[0]?.title ?? '';
}

async function trap(promise: Promise<unknown>): Promise<string> {
  const err = await rejection(promise, PluginCallError);
  expect(err.kind).toBe('trap');
  return err.message;
}

/** The raw plugin's next call works (on a fresh instance after a trap) and the bystander answers. */
async function stillHealthy() {
  expect(await title(pool.call('raw', 'list', ['popular', undefined]))).toBe('healthy');
  expect(await title(pool.call('bystander', 'list', ['popular']))).toBe('listing popular');
}

describe('raw wasi:http resource misuse from a guest without a JS engine', () => {
  it('traps on a method call through a dropped or forged handle', async () => {
    const traps = pool.stats('raw')?.traps ?? 0;
    const invalid = 'raw.search trapped: the plugin used an invalid Fields handle (dropped, or never handed to it)';
    expect(await trap(attack('use-after-drop'))).toBe(invalid);
    expect(await trap(attack('forged-handle'))).toBe(invalid);
    expect(pool.stats('raw')?.traps).toBe(traps + 2);
    await stillHealthy();
  });

  it('hands a response out once and a body once', async () => {
    expect(await title(attack('double-get'))).toBe('second get: already taken');
    expect(await title(attack('double-consume'))).toBe('second consume refused');
    await stillHealthy();
  });

  it('survives dropping parents before their children (a pollable, a body stream)', async () => {
    // the host keeps what a child needs alive, so these end normally rather than reading freed state
    expect(await title(attack('orphan-pollable'))).toBe('blocked on an orphan pollable and came back');
    expect(await title(attack('body-after-drop'))).toBe('read a body after its parent was dropped');
    await stillHealthy();
  });

  it('caps the handles an instance may hold: a resource flood traps instead of taking the process down', async () => {
    const { result, grewMb } = await withPeakRss(() => trap(attack('handle-flood')));
    expect(result).toBe('raw.search trapped: the plugin holds more than 50000 handles of one resource type');
    expect(grewMb).toBeLessThan(200);
    await stillHealthy();
  });

  it('retires an instance that keeps handles between calls before the cap would trap one', async () => {
    const leak = () => pool.call('raw', 'search', ['leak-handles', [], '20000']);
    const before = pool.stats('raw')?.instancesRecycled ?? 0;
    await stillHealthy(); // a fresh instance after the last test's trap
    expect(await title(leak())).toBe('leaked');
    // 40,000 held: past the 25,000 at which the instance is retired once this call is answered
    expect(await title(leak())).toBe('leaked');
    expect(pool.stats('raw')?.instancesRecycled).toBe(before + 1);
    // a third call on the old instance would have reached 60,000, over the cap of 50,000
    expect(await title(leak())).toBe('leaked');
    await stillHealthy();
  });

  it('caps what one fields resource may hold', async () => {
    expect(await trap(attack('fields-flood'))).toMatch(
      /^raw\.search trapped: a fields resource would hold \d+ bytes, over 65536$/,
    );
    await stillHealthy();
  });

  it('caps the response bytes an instance may leave unread in the host', async () => {
    const before = fixture.requests.length;
    const { result, grewMb } = await withPeakRss(() => trap(attack('hoard', `http://${HOST}/big`)));
    expect(result).toBe('raw.search trapped: the plugin left more than 67108864 bytes of response bodies unread');
    // 64 MiB of 1 MB bodies: about 65 requests, not the thousands the 10 s deadline would allow
    const requests = fixture.requests.length - before;
    expect(requests).toBeGreaterThanOrEqual(64);
    expect(requests).toBeLessThan(80);
    expect(grewMb).toBeLessThan(400);
    await stillHealthy();
  });

  it('retires an instance that leaves response bodies unread before the cap would trap a call', async () => {
    const leave = () => pool.call('raw', 'search', ['leave-unread', [], '40']);
    await stillHealthy(); // a fresh instance after the last test's trap
    const before = pool.stats('raw')?.instancesRecycled ?? 0;
    // 40 bodies of 1 MB left unread: under the 64 MiB cap, past the half at which it is retired
    expect(await title(leave())).toBe('left unread');
    expect(pool.stats('raw')?.instancesRecycled).toBe(before + 1);
    // on the old instance this would have reached 80 MB and trapped
    expect(await title(leave())).toBe('left unread');
    await stillHealthy();
  });

  it('caps the request body bytes an instance may hold without sending them', async () => {
    const { result, grewMb } = await withPeakRss(() => trap(attack('body-hoard')));
    expect(result).toBe(
      'raw.search trapped: the plugin holds more than 67108864 bytes of request bodies it has not sent',
    );
    expect(grewMb).toBeLessThan(400);
    await stillHealthy();
  });

  it('caps the strings and lists the glue lifts out of the guest', async () => {
    const big = (name: string, count: number) => pool.call('raw-big', 'search', [name, [], String(count)]);
    const { result, grewMb } = await withPeakRss(() => trap(big('poll-list', 30_000_000)));
    expect(result).toBe('raw-big.search trapped: the plugin passed a list of 30000000 elements, over 500000');
    expect(grewMb).toBeLessThan(400);
    expect(await trap(attack('long-log', '5000000'))).toBe(
      'raw.search trapped: the plugin passed a string of 5000000 bytes, over 4194304',
    );
    // under both caps: the list's 4 MB strings fit, but lifting the same one 2,000 times does not
    expect(await title(attack('poll-list', '1000'))).toBe('polled');
    await stillHealthy();
  });

  it('keeps a result over 16 MiB from reaching the host', async () => {
    const big = (count: number) => pool.call('raw-big', 'search', ['huge-result', [], String(count)]);
    expect(await trap(big(20_000))).toBe(
      'raw-big.search trapped: the plugin returned a result of more than 16777216 bytes',
    );
    const page = (await big(1_000)) as { items: Array<{ title: string }> };
    expect(page.items).toHaveLength(1_000);
    expect(page.items[999]?.title).toBe('t'.repeat(1000));
    await stillHealthy();
  });
});
