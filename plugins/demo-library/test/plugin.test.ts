import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { buildDemoComponent } from '../src/build.js';
import { fixtureDir } from '../src/fixture-catalog.js';
import { type LoadedPlugin, loadPlugin, type Media, sourceError } from './component-harness.js';
import { startFixtureSiteWorker, startScriptedServer, type WorkerServer } from './site-worker.js';

// The built component, run without the project's runner: jco + preview2-shim, with the plugin's
// base_url pointed at the fixture site's real loopback address.

let site: WorkerServer;
let plugin: LoadedPlugin;

beforeAll(async () => {
  const { bytes } = await buildDemoComponent();
  site = await startFixtureSiteWorker();
  plugin = await loadPlugin(bytes, {});
});

beforeEach(() => {
  plugin.settings.base_url = site.url;
  plugin.settings.page_size = undefined;
});

afterAll(async () => {
  await site?.close();
});

const ids = (items: { id: string }[]) => items.map((i) => i.id);

describe('the demo plugin against the fixture site', () => {
  test('filters: genres from the site and a kind select', () => {
    const filters = plugin.api.filters();
    expect(filters.map((f) => [f.id, f.kind])).toEqual([
      ['genre', 'multi-select'],
      ['kind', 'select'],
    ]);
    expect(filters[0]?.options).toContainEqual({ value: 'science-fiction', label: 'Science fiction' });
    expect(filters[0]?.options).toHaveLength(12);
    expect(filters[1]?.options.map((o) => o.value)).toEqual(['book', 'manga']);
  });

  test('search returns typed media with absolute links', () => {
    const page = plugin.api.search('alice', [], undefined);
    expect(page.nextCursor).toBeUndefined();
    expect(page.items).toEqual([
      {
        id: 'alice-wonderland',
        title: "Alice's Adventures in Wonderland",
        kind: 'book',
        altTitles: ['Alice in Wonderland'],
        description: expect.stringContaining('Lewis Carroll, 1865.'),
        coverUrl: `${site.url}/covers/alice-wonderland.svg`,
        authors: ['Lewis Carroll'],
        genres: ['classic', 'fantasy', 'children'],
        status: 'completed',
        languages: ['en'],
        nsfw: false,
        url: `${site.url}/media/alice-wonderland`,
      },
    ]);
  });

  test('search with the genre and kind filters', () => {
    expect(ids(plugin.api.search('', [{ id: 'genre', values: ['fantasy'] }]).items)).toEqual([
      'alice-wonderland',
      'paper-lantern-patrol',
    ]);
    expect(ids(plugin.api.search('', [{ id: 'genre', values: ['classic', 'gothic'] }]).items)).toEqual([
      'frankenstein',
    ]);
    expect(ids(plugin.api.search('the', [{ id: 'kind', values: ['manga'] }]).items)).toEqual(['clockwork-courier']);
    expect(plugin.api.search('no such title anywhere', []).items).toEqual([]);
  });

  test('search with an unknown filter is unsupported, not an empty result', () => {
    expect(sourceError(() => plugin.api.search('alice', [{ id: 'year', values: ['1865'] }]))).toEqual({
      tag: 'unsupported',
    });
  });

  test('list popular pages with a cursor', () => {
    const first = plugin.api.list('popular', undefined);
    expect(ids(first.items)).toEqual([
      'alice-wonderland',
      'pride-and-prejudice',
      'sherlock-holmes-adventures',
      'frankenstein',
    ]);
    expect(first.nextCursor).toBe('2');
    const second = plugin.api.list('popular', first.nextCursor);
    expect(ids(second.items)).toEqual(['paper-lantern-patrol', 'clockwork-courier']);
    expect(second.nextCursor).toBeUndefined();
    expect(second.items[0]?.kind).toBe('manga');
    expect(second.items[0]?.status).toBe('ongoing');
  });

  test('list latest, and the page_size setting', () => {
    plugin.settings.page_size = '2';
    const first = plugin.api.list('latest', undefined);
    expect(ids(first.items)).toEqual(['paper-lantern-patrol', 'clockwork-courier']);
    expect(first.nextCursor).toBe('2');
    const seen: Media[] = [...first.items];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = plugin.api.list('latest', cursor);
      seen.push(...page.items);
      cursor = page.nextCursor;
    }
    expect(ids(seen)).toEqual([
      'paper-lantern-patrol',
      'clockwork-courier',
      'pride-and-prejudice',
      'sherlock-holmes-adventures',
      'alice-wonderland',
      'frankenstein',
    ]);
  });

  test('getMedia', () => {
    const media = plugin.api.getMedia('frankenstein');
    expect(media.title).toBe('Frankenstein');
    expect(media.altTitles).toEqual(['Frankenstein; or, The Modern Prometheus', 'The Modern Prometheus']);
    expect(media.authors).toEqual(['Mary Wollstonecraft Shelley']);
    expect(media.genres).toEqual(['classic', 'horror', 'science-fiction', 'gothic']);
    expect(media.coverUrl).toBe(`${site.url}/covers/frankenstein.svg`);
  });

  test('listUnits pages chapters with numbers, volumes and publish times', () => {
    const first = plugin.api.listUnits('paper-lantern-patrol', undefined);
    expect(first.items).toHaveLength(4);
    expect(first.nextCursor).toBe('2');
    expect(first.items[0]).toEqual({
      id: 'paper-lantern-patrol-c01',
      mediaId: 'paper-lantern-patrol',
      kind: 'chapter',
      title: 'The Night Shift Begins',
      number: 1,
      group: 1,
      language: 'en',
      publishedAt: BigInt(Date.parse('2025-01-06T09:00:00Z')),
      url: `${site.url}/read/paper-lantern-patrol-c01`,
    });
    const numbers = first.items.map((u) => u.number);
    let cursor = first.nextCursor;
    while (cursor) {
      const page = plugin.api.listUnits('paper-lantern-patrol', cursor);
      numbers.push(...page.items.map((u) => u.number));
      cursor = page.nextCursor;
    }
    expect(numbers).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

    const courier = plugin.api.listUnits('clockwork-courier', '2');
    expect(courier.items.map((u) => [u.id, u.number])).toEqual([['clockwork-courier-c04', 4]]);
    expect(courier.nextCursor).toBeUndefined();
    const book = plugin.api.listUnits('alice-wonderland', undefined);
    expect(book.items.map((u) => u.title)).toEqual([
      'Down the Rabbit-Hole',
      'The Pool of Tears',
      'A Caucus-Race and a Long Tale',
    ]);
    expect(book.items[0]?.group).toBeUndefined();
  });

  test('getAssets: a book chapter is one inline text asset', async () => {
    const assets = plugin.api.getAssets('alice-wonderland-c01');
    expect(assets).toEqual([
      {
        kind: 'text',
        index: 0,
        url: undefined,
        text: await readFile(join(fixtureDir, 'text', 'alice-wonderland-c01.txt'), 'utf8'),
        mimeType: 'text/plain',
        language: 'en',
        quality: undefined,
        headers: [],
      },
    ]);
    expect(assets[0]?.text).toContain('Alice was beginning to get very tired of sitting by her sister');
  });

  test('getAssets: a manga chapter is page images with the Referer a client must send', async () => {
    const assets = plugin.api.getAssets('paper-lantern-patrol-c03');
    expect(assets.map((a) => [a.kind, a.index, a.url, a.mimeType])).toEqual([
      ['page', 0, `${site.url}/pages/paper-lantern-patrol-c03/01.svg`, 'image/svg+xml'],
      ['page', 1, `${site.url}/pages/paper-lantern-patrol-c03/02.svg`, 'image/svg+xml'],
      ['page', 2, `${site.url}/pages/paper-lantern-patrol-c03/03.svg`, 'image/svg+xml'],
    ]);
    for (const asset of assets) {
      expect(asset.headers).toEqual([{ name: 'Referer', value: `${site.url}/read/paper-lantern-patrol-c03` }]);
      const url = asset.url as string;
      const withHeaders = await fetch(url, {
        headers: Object.fromEntries(asset.headers.map((h) => [h.name, h.value])),
      });
      expect(withHeaders.status).toBe(200);
      expect(await withHeaders.text()).toContain('Paper Lantern Patrol - Chapter 3');
      expect((await fetch(url)).status).toBe(403);
    }
  });

  test.each([
    ['getMedia', () => plugin.api.getMedia('no-such-media')],
    ['listUnits', () => plugin.api.listUnits('no-such-media', undefined)],
    ['getAssets', () => plugin.api.getAssets('no-such-chapter')],
    ['getAssets of a media id', () => plugin.api.getAssets('frankenstein')],
    ['getMedia with a path in the id', () => plugin.api.getMedia('../api/popular')],
  ])('%s of an unknown id is not-found', (_name, call) => {
    expect(sourceError(call)).toEqual({ tag: 'not-found' });
  });

  test('a cursor the plugin never gave is refused', () => {
    expect(sourceError(() => plugin.api.list('popular', 'page-two'))).toEqual({
      tag: 'internal',
      val: "invalid cursor 'page-two'",
    });
  });

  test('logs each request through the host', () => {
    plugin.logs.length = 0;
    plugin.api.getMedia('frankenstein');
    expect(plugin.logs).toEqual([{ level: 'debug', message: `GET ${site.url}/api/media/frankenstein` }]);
  });
});

describe('error mapping', () => {
  let bad: WorkerServer;

  beforeAll(async () => {
    bad = await startScriptedServer({
      '/api/popular': { status: 429, headers: { 'retry-after': '7' }, body: '{"error":"slow down"}' },
      '/api/latest': { status: 429, body: '{"error":"slow down"}' },
      '/api/search': { status: 503, headers: { 'retry-after': '30' }, body: '' },
      '/api/genres': { status: 200, body: '<html>not json</html>' },
      '/api/media/wrong-shape': { status: 200, body: '{"id":"wrong-shape","kind":"book"}' },
      '/api/media/strange-kind': { status: 200, body: '{"id":"x","title":"X","kind":"podcast"}' },
      '/api/media/server-error': { status: 500, body: '{"error":"boom"}' },
      '/api/media/members-only': { status: 401, body: '{"error":"log in"}' },
      '/api/units/gone': { status: 410, body: '' },
    });
  });

  afterAll(async () => {
    await bad?.close();
  });

  beforeEach(() => {
    plugin.settings.base_url = bad.url;
  });

  test('429 is rate-limited with Retry-After seconds, when given', () => {
    expect(sourceError(() => plugin.api.list('popular', undefined))).toEqual({ tag: 'rate-limited', val: 7 });
    expect(sourceError(() => plugin.api.list('latest', undefined))).toEqual({ tag: 'rate-limited', val: undefined });
    expect(sourceError(() => plugin.api.search('x', [], undefined))).toEqual({ tag: 'rate-limited', val: 30 });
  });

  test('an answer that is not JSON, or not the expected shape, is a parse error', () => {
    const notJson = sourceError(() => plugin.api.filters());
    expect(notJson.tag).toBe('parse');
    expect(notJson.val).toMatch(new RegExp(`^${bad.url}/api/genres did not answer JSON: `));
    expect(sourceError(() => plugin.api.getMedia('wrong-shape'))).toEqual({
      tag: 'parse',
      val: "media: 'title' is not a non-empty string",
    });
    expect(sourceError(() => plugin.api.getMedia('strange-kind'))).toEqual({
      tag: 'parse',
      val: "media: unknown kind 'podcast'",
    });
  });

  test('server errors, auth and gone', () => {
    expect(sourceError(() => plugin.api.getMedia('server-error'))).toEqual({
      tag: 'network',
      val: `GET ${bad.url}/api/media/server-error answered HTTP 500`,
    });
    expect(sourceError(() => plugin.api.getMedia('members-only'))).toEqual({ tag: 'auth-required' });
    expect(sourceError(() => plugin.api.getAssets('gone'))).toEqual({ tag: 'not-found' });
  });

  test('an unreachable site is a network error', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    plugin.settings.base_url = `http://127.0.0.1:${closedPort}`;
    const error = sourceError(() => plugin.api.getMedia('frankenstein'));
    expect(error.tag).toBe('network');
    expect(error.val).toMatch(new RegExp(`^GET http://127.0.0.1:${closedPort}/api/media/frankenstein failed: `));
  });

  test('a bad base_url setting is an internal error naming the setting', () => {
    plugin.settings.base_url = 'ftp://example';
    expect(sourceError(() => plugin.api.list('popular', undefined))).toEqual({
      tag: 'internal',
      val: 'setting base_url is not an http(s) URL: ftp://example',
    });
  });
});
