import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fixtureDir, loadCatalog } from '../src/fixture-catalog.js';
import { DEFAULT_PAGE_SIZE, type FixtureSite, startFixtureSite } from '../src/fixture-site.js';

interface Page<T> {
  items: T[];
  page: number;
  limit: number;
  total: number;
  totalPages: number;
  nextPage: number | null;
}
interface MediaJson {
  id: string;
  title: string;
  kind: string;
  cover: string;
  url: string;
  chapters: number;
  updatedAt: string;
}
interface UnitJson {
  id: string;
  mediaId: string;
  number: number;
  volume?: number;
  publishedAt: string;
  url: string;
}

let site: FixtureSite;

beforeAll(async () => {
  site = await startFixtureSite();
});

afterAll(async () => {
  await site?.close();
});

async function getJson<T>(path: string, status = 200): Promise<T> {
  const res = await fetch(site.url + path);
  expect(res.status, `${path} status`).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return (await res.json()) as T;
}

/** Follows nextPage to the end and returns every item. */
async function allPages<T>(path: string): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let page: number | null = 1;
  let pages = 0;
  while (page !== null) {
    const sep = path.includes('?') ? '&' : '?';
    const body: Page<T> = await getJson<Page<T>>(`${path}${sep}page=${page}`);
    expect(body.page).toBe(page);
    items.push(...body.items);
    pages++;
    page = body.nextPage;
    expect(pages).toBeLessThan(50);
  }
  return { items, pages };
}

const ids = (items: { id: string }[]) => items.map((i) => i.id);

describe('listings and paging', () => {
  test('popular pages by the default page size, in popularity order', async () => {
    const first = await getJson<Page<MediaJson>>('/api/popular');
    expect(first).toMatchObject({ page: 1, limit: DEFAULT_PAGE_SIZE, total: 6, totalPages: 2, nextPage: 2 });
    expect(ids(first.items)).toEqual([
      'alice-wonderland',
      'pride-and-prejudice',
      'sherlock-holmes-adventures',
      'frankenstein',
    ]);
    const second = await getJson<Page<MediaJson>>('/api/popular?page=2');
    expect(second.nextPage).toBeNull();
    expect(ids(second.items)).toEqual(['paper-lantern-patrol', 'clockwork-courier']);
    const beyond = await getJson<Page<MediaJson>>('/api/popular?page=3');
    expect(beyond.items).toEqual([]);
    expect(beyond.nextPage).toBeNull();
  });

  test('limit changes the page size', async () => {
    const all = await getJson<Page<MediaJson>>('/api/popular?limit=50');
    expect(all.items).toHaveLength(6);
    expect(all.nextPage).toBeNull();
    const { items, pages } = await allPages<MediaJson>('/api/popular?limit=1');
    expect(pages).toBe(6);
    expect(ids(items)).toEqual(ids(all.items));
  });

  test('latest orders by the newest chapter', async () => {
    const { items } = await allPages<MediaJson>('/api/latest');
    expect(ids(items)).toEqual([
      'paper-lantern-patrol',
      'clockwork-courier',
      'pride-and-prejudice',
      'sherlock-holmes-adventures',
      'alice-wonderland',
      'frankenstein',
    ]);
    expect(items[0]?.updatedAt).toBe('2025-03-24T09:00:00.000Z');
  });

  test.each([
    ['/api/popular?page=0', "'page' must be a positive integer"],
    ['/api/popular?page=abc', "'page' must be a positive integer"],
    ['/api/latest?limit=0', "'limit' must be a positive integer"],
    ['/api/latest?limit=51', "'limit' must be at most 50"],
    ['/api/media/frankenstein/units?limit=-1', "'limit' must be a positive integer"],
  ])('%s is a 400 naming the parameter', async (path, message) => {
    expect(await getJson(path, 400)).toEqual({ error: message });
  });
});

describe('search', () => {
  test.each([
    ['q=alice', ['alice-wonderland']],
    ['q=HOLMES', ['sherlock-holmes-adventures']],
    ['q=modern%20prometheus', ['frankenstein']],
    ['q=austen', ['pride-and-prejudice']],
    ['q=lantern', ['paper-lantern-patrol']],
    ['q=the', ['sherlock-holmes-adventures', 'frankenstein', 'clockwork-courier']],
    ['genre=fantasy', ['alice-wonderland', 'paper-lantern-patrol']],
    ['genre=classic&genre=horror', ['frankenstein']],
    ['kind=manga', ['paper-lantern-patrol', 'clockwork-courier']],
    ['q=the&kind=book', ['sherlock-holmes-adventures', 'frankenstein']],
    ['q=alice&genre=horror', []],
    ['q=zzzz', []],
  ])('%s', async (query, expected) => {
    const { items } = await allPages<MediaJson>(`/api/search?${query}`);
    expect(ids(items)).toEqual(expected);
  });

  test('an empty query lists everything, paged', async () => {
    const first = await getJson<Page<MediaJson>>('/api/search?q=');
    expect(first.total).toBe(6);
    expect(first.items).toHaveLength(DEFAULT_PAGE_SIZE);
    expect(first.nextPage).toBe(2);
  });
});

describe('media, chapters and content', () => {
  test('media details', async () => {
    const media = await getJson<MediaJson>('/api/media/alice-wonderland');
    expect(media).toEqual({
      id: 'alice-wonderland',
      title: "Alice's Adventures in Wonderland",
      kind: 'book',
      altTitles: ['Alice in Wonderland'],
      description: expect.stringContaining('White Rabbit'),
      authors: ['Lewis Carroll'],
      genres: ['classic', 'fantasy', 'children'],
      status: 'completed',
      languages: ['en'],
      nsfw: false,
      cover: '/covers/alice-wonderland.svg',
      url: '/media/alice-wonderland',
      chapters: 3,
      updatedAt: '2024-01-24T09:00:00.000Z',
    });
  });

  test('chapters page in number order, with volumes and fractional numbers', async () => {
    const patrol = await allPages<UnitJson>('/api/media/paper-lantern-patrol/units');
    expect(patrol.pages).toBe(3);
    expect(patrol.items.map((u) => u.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(patrol.items[0]).toEqual({
      id: 'paper-lantern-patrol-c01',
      mediaId: 'paper-lantern-patrol',
      title: 'The Night Shift Begins',
      number: 1,
      volume: 1,
      language: 'en',
      publishedAt: '2025-01-06T09:00:00Z',
      url: '/read/paper-lantern-patrol-c01',
    });
    expect(patrol.items[11]?.volume).toBe(2);
    const courier = await allPages<UnitJson>('/api/media/clockwork-courier/units');
    expect(courier.items.map((u) => u.number)).toEqual([1, 2, 2.5, 3, 4]);
    const book = await getJson<Page<UnitJson>>('/api/media/frankenstein/units');
    expect(ids(book.items)).toEqual(['frankenstein-c01', 'frankenstein-c02', 'frankenstein-c03']);
    expect(book.nextPage).toBeNull();
  });

  test('a book chapter is its text, as shipped in fixture/text', async () => {
    const chapter = await getJson<{ type: string; text: string; title: string }>('/api/units/pride-and-prejudice-c01');
    expect(chapter.type).toBe('text');
    expect(chapter.title).toBe('Chapter 1');
    expect(chapter.text).toBe(await readFile(join(fixtureDir, 'text', 'pride-and-prejudice-c01.txt'), 'utf8'));
    expect(chapter.text.startsWith('It is a truth universally acknowledged')).toBe(true);
  });

  test('a manga chapter is its page images', async () => {
    const chapter = await getJson<{ type: string; pages: { index: number; url: string }[] }>(
      '/api/units/clockwork-courier-c02-5',
    );
    expect(chapter.type).toBe('pages');
    expect(chapter.pages).toEqual([
      { index: 0, url: '/pages/clockwork-courier-c02-5/01.svg', width: 600, height: 900 },
      { index: 1, url: '/pages/clockwork-courier-c02-5/02.svg', width: 600, height: 900 },
    ]);
  });

  test('every chapter in the catalog has its content', async () => {
    for (const media of loadCatalog().media) {
      for (const unit of media.units) {
        const chapter = await getJson<{ type: string; text?: string; pages?: { url: string }[] }>(
          `/api/units/${unit.id}`,
        );
        if (media.kind === 'book') {
          expect(chapter.text?.length, unit.id).toBeGreaterThan(1000);
        } else {
          expect(chapter.pages, unit.id).toHaveLength(unit.pages ?? -1);
          for (const page of chapter.pages ?? []) {
            const res = await fetch(site.url + page.url, { headers: { referer: `${site.url}/read/${unit.id}` } });
            expect(res.status, page.url).toBe(200);
            expect(await res.text()).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
          }
        }
      }
    }
  });

  test.each([
    '/api/media/no-such-media',
    '/api/media/no-such-media/units',
    '/api/units/no-such-chapter',
    '/api/units/alice-wonderland',
    '/api/nothing-here',
    '/api/media/ALICE-WONDERLAND',
  ])('%s is a 404', async (path) => {
    const body = await getJson<{ error: string }>(path, 404);
    expect(body.error).toMatch(/^no /);
  });
});

describe('images and pages', () => {
  test('covers are SVG', async () => {
    const res = await fetch(`${site.url}/covers/frankenstein.svg`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/svg+xml');
    const svg = await res.text();
    expect(svg).toContain('<title>Frankenstein</title>');
    expect((await fetch(`${site.url}/covers/unknown.svg`)).status).toBe(404);
    expect((await fetch(`${site.url}/covers/..%2Fcatalog.json.svg`)).status).toBe(404);
  });

  test('page images need the Referer of a page of the same site', async () => {
    const url = `${site.url}/pages/paper-lantern-patrol-c01/01.svg`;
    const none = await fetch(url);
    expect(none.status).toBe(403);
    expect(await none.text()).toContain('Referer');
    expect((await fetch(url, { headers: { referer: 'http://elsewhere.example/read/x' } })).status).toBe(403);
    expect((await fetch(url, { headers: { referer: 'not a url' } })).status).toBe(403);
    const ok = await fetch(url, { headers: { referer: `${site.url}/read/paper-lantern-patrol-c01` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('Chapter 1: The Night Shift Begins');
    const missing = await fetch(`${site.url}/pages/paper-lantern-patrol-c01/04.svg`, {
      headers: { referer: `${site.url}/` },
    });
    expect(missing.status).toBe(404);
  });

  test('HTML pages', async () => {
    const index = await (await fetch(`${site.url}/`)).text();
    expect(index).toContain('<a href="/media/frankenstein">Frankenstein</a>');
    const media = await (await fetch(`${site.url}/media/alice-wonderland`)).text();
    expect(media).toContain('<a href="/read/alice-wonderland-c02">2. The Pool of Tears</a>');
    const read = await fetch(`${site.url}/read/alice-wonderland-c01`);
    expect(read.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await read.text()).toContain('&#39;and what is the use of a book,&#39; thought Alice');
    const manga = await (await fetch(`${site.url}/read/paper-lantern-patrol-c02`)).text();
    expect(manga).toContain('<img src="/pages/paper-lantern-patrol-c02/03.svg"');
    expect((await fetch(`${site.url}/read/nope`)).status).toBe(404);
    expect((await fetch(`${site.url}/nowhere`)).status).toBe(404);
  });
});

describe('the server', () => {
  test('only GET and HEAD', async () => {
    const post = await fetch(`${site.url}/api/popular`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${site.url}/api/media/frankenstein`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(100);
    expect(await head.text()).toBe('');
  });

  test('counts requests', async () => {
    const before = site.requests;
    await fetch(`${site.url}/api/genres`);
    await fetch(`${site.url}/api/media/nope`);
    expect(site.requests).toBe(before + 2);
  });

  test('binds loopback on a free port and stops on close', async () => {
    const other = await startFixtureSite({ port: 0 });
    expect(other.url).toBe(`http://127.0.0.1:${other.port}`);
    expect(other.port).not.toBe(site.port);
    const genres = (await (await fetch(`${other.url}/api/genres`)).json()) as { genres: { value: string }[] };
    expect(genres.genres.map((g) => g.value)).toContain('science-fiction');
    await other.close();
    await expect(fetch(`${other.url}/api/genres`)).rejects.toThrow();
  });
});
