import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { coverPath, escapeXml, pagePath } from './fixture-art.js';
import {
  fixtureDir as defaultFixtureDir,
  type FixtureCatalog,
  type FixtureMedia,
  type FixtureUnit,
  lastUpdated,
  loadCatalog,
} from './fixture-catalog.js';

/** Items per page when a request does not say `limit`. */
export const DEFAULT_PAGE_SIZE = 4;
export const MAX_PAGE_SIZE = 50;

export interface FixtureSiteOptions {
  /** interface to bind; loopback unless told otherwise */
  host?: string;
  /** 0 (the default) picks a free port */
  port?: number;
  /** folder holding catalog.json, text/, covers/ and pages/ */
  fixtureDir?: string;
}

export interface FixtureSite {
  /** e.g. http://127.0.0.1:41234, without a trailing slash */
  url: string;
  port: number;
  /** how many HTTP requests the site has received so far */
  readonly requests: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Paged<T> {
  items: T[];
  page: number;
  limit: number;
  total: number;
  totalPages: number;
  nextPage: number | null;
}

function positiveInt(params: URLSearchParams, key: string, fallback: number, max: number): number {
  const raw = params.get(key);
  if (raw === null || raw === '') return fallback;
  if (!/^[1-9]\d{0,8}$/.test(raw)) throw new HttpError(400, `'${key}' must be a positive integer`);
  const value = Number(raw);
  if (value > max) throw new HttpError(400, `'${key}' must be at most ${max}`);
  return value;
}

function paginate<T>(all: T[], params: URLSearchParams): Paged<T> {
  const page = positiveInt(params, 'page', 1, 1_000_000);
  const limit = positiveInt(params, 'limit', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const totalPages = Math.max(1, Math.ceil(all.length / limit));
  return {
    items: all.slice((page - 1) * limit, page * limit),
    page,
    limit,
    total: all.length,
    totalPages,
    nextPage: page < totalPages ? page + 1 : null,
  };
}

function mediaJson(media: FixtureMedia) {
  return {
    id: media.id,
    title: media.title,
    kind: media.kind,
    altTitles: media.altTitles,
    description: media.description,
    authors: media.authors,
    genres: media.genres,
    status: media.status,
    languages: media.languages,
    nsfw: media.nsfw,
    cover: `/${coverPath(media.id)}`,
    url: `/media/${media.id}`,
    chapters: media.units.length,
    updatedAt: new Date(lastUpdated(media)).toISOString(),
  };
}

function unitJson(media: FixtureMedia, unit: FixtureUnit) {
  return {
    id: unit.id,
    mediaId: media.id,
    title: unit.title,
    number: unit.number,
    ...(unit.volume !== undefined ? { volume: unit.volume } : {}),
    language: media.languages[0] ?? 'en',
    publishedAt: unit.publishedAt,
    url: `/read/${unit.id}`,
  };
}

function html(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title></head>\n<body>\n${body}\n</body></html>\n`;
}

/** The fixture site's request handler over one loaded catalog. */
function createHandler(catalog: FixtureCatalog, dir: string) {
  const mediaById = new Map(catalog.media.map((m) => [m.id, m]));
  const unitById = new Map<string, { media: FixtureMedia; unit: FixtureUnit }>();
  for (const media of catalog.media) for (const unit of media.units) unitById.set(unit.id, { media, unit });
  const popular = [...catalog.media].sort((a, b) => a.popularity - b.popularity);
  const latest = [...catalog.media].sort((a, b) => lastUpdated(b) - lastUpdated(a));

  function lookupMedia(id: string): FixtureMedia {
    const media = mediaById.get(id);
    if (!media) throw new HttpError(404, `no media '${id}'`);
    return media;
  }

  function lookupUnit(id: string): { media: FixtureMedia; unit: FixtureUnit } {
    const found = unitById.get(id);
    if (!found) throw new HttpError(404, `no chapter '${id}'`);
    return found;
  }

  function search(params: URLSearchParams): FixtureMedia[] {
    const words = (params.get('q') ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const genres = params.getAll('genre').filter(Boolean);
    const kinds = params.getAll('kind').filter(Boolean);
    return popular.filter((m) => {
      const haystack = [m.title, ...m.altTitles, ...m.authors].join('\n').toLowerCase();
      return (
        words.every((w) => haystack.includes(w)) &&
        genres.every((g) => m.genres.includes(g)) &&
        (kinds.length === 0 || kinds.includes(m.kind))
      );
    });
  }

  async function assets(media: FixtureMedia, unit: FixtureUnit) {
    const base = {
      id: unit.id,
      mediaId: media.id,
      title: unit.title,
      language: media.languages[0] ?? 'en',
      url: `/read/${unit.id}`,
    };
    if (media.kind === 'book') {
      const text = await readFile(join(dir, 'text', `${unit.id}.txt`), 'utf8');
      return { ...base, type: 'text', text };
    }
    const pages = [];
    for (let page = 1; page <= (unit.pages ?? 0); page++) {
      pages.push({ index: page - 1, url: `/${pagePath(unit.id, page)}`, width: 600, height: 900 });
    }
    return { ...base, type: 'pages', pages };
  }

  /** JSON endpoints: a path pattern and what answers it (captures are the path's ids). */
  const apiRoutes: [RegExp, (params: URLSearchParams, id: string) => unknown][] = [
    [/^\/api\/genres$/, () => ({ genres: catalog.genres })],
    [/^\/api\/search$/, (params) => paginate(search(params).map(mediaJson), params)],
    [/^\/api\/popular$/, (params) => paginate(popular.map(mediaJson), params)],
    [/^\/api\/latest$/, (params) => paginate(latest.map(mediaJson), params)],
    [/^\/api\/media\/([^/]+)$/, (_params, id) => mediaJson(lookupMedia(id))],
    [
      /^\/api\/media\/([^/]+)\/units$/,
      (params, id) => {
        const media = lookupMedia(id);
        const units = [...media.units].sort((a, b) => a.number - b.number);
        return paginate(
          units.map((unit) => unitJson(media, unit)),
          params,
        );
      },
    ],
    [
      /^\/api\/units\/([^/]+)$/,
      (_params, id) => {
        const { media, unit } = lookupUnit(id);
        return assets(media, unit);
      },
    ],
  ];

  function mediaPage(media: FixtureMedia): string {
    const chapters = media.units
      .map((u) => `<li><a href="/read/${u.id}">${u.number}. ${escapeXml(u.title)}</a></li>`)
      .join('\n');
    return html(
      media.title,
      `<h1>${escapeXml(media.title)}</h1>\n<img src="/${coverPath(media.id)}" alt="cover" width="150">\n` +
        `<p>${escapeXml(media.authors.join(', '))}</p>\n<p>${escapeXml(media.description)}</p>\n<ol>\n${chapters}\n</ol>`,
    );
  }

  async function readPage(media: FixtureMedia, unit: FixtureUnit): Promise<string> {
    const head = `<p><a href="/media/${media.id}">${escapeXml(media.title)}</a></p>\n<h1>${escapeXml(unit.title)}</h1>\n`;
    if (media.kind === 'book') {
      const text = await readFile(join(dir, 'text', `${unit.id}.txt`), 'utf8');
      const paragraphs = text
        .split(/\n{2,}/)
        .map((p) => `<p>${escapeXml(p)}</p>`)
        .join('\n');
      return html(unit.title, head + paragraphs);
    }
    const images = [];
    for (let page = 1; page <= (unit.pages ?? 0); page++) {
      images.push(`<img src="/${pagePath(unit.id, page)}" alt="page ${page}" width="600" height="900">`);
    }
    return html(unit.title, head + images.join('\n'));
  }

  function checkReferer(req: IncomingMessage): void {
    // Hotlink protection, as on many real sites: a page image needs a page of this site as Referer.
    let refererHost: string | undefined;
    try {
      refererHost = req.headers.referer ? new URL(req.headers.referer).host : undefined;
    } catch {
      refererHost = undefined;
    }
    if (!refererHost || refererHost !== req.headers.host) {
      throw new HttpError(403, 'page images need the Referer of their reading page on this site');
    }
  }

  type Answer = { type: string; body: string | Buffer; cache?: boolean };
  const HTML = 'text/html; charset=utf-8';
  /** Pages and images: a path pattern and what answers it. */
  const pageRoutes: [RegExp, (req: IncomingMessage, id: string, extra: string) => Promise<Answer>][] = [
    [
      /^\/$/,
      async () => {
        const items = catalog.media
          .map((media) => `<li><a href="/media/${media.id}">${escapeXml(media.title)}</a> (${media.kind})</li>`)
          .join('\n');
        return { type: HTML, body: html(catalog.site, `<h1>${escapeXml(catalog.site)}</h1>\n<ul>\n${items}\n</ul>`) };
      },
    ],
    [/^\/media\/([^/]+)$/, async (_req, id) => ({ type: HTML, body: mediaPage(lookupMedia(id)) })],
    [
      /^\/read\/([^/]+)$/,
      async (_req, id) => {
        const { media, unit } = lookupUnit(id);
        return { type: HTML, body: await readPage(media, unit) };
      },
    ],
    [
      /^\/covers\/([^/]+)\.svg$/,
      async (_req, id) => {
        const media = lookupMedia(id);
        return { type: 'image/svg+xml', body: await readFile(join(dir, coverPath(media.id))), cache: true };
      },
    ],
    [
      /^\/pages\/([^/]+)\/(\d{2})\.svg$/,
      async (req, id, pageText) => {
        const { unit } = lookupUnit(id);
        const page = Number(pageText);
        if (page < 1 || page > (unit.pages ?? 0)) throw new HttpError(404, `no page ${pageText} in '${unit.id}'`);
        checkReferer(req);
        return { type: 'image/svg+xml', body: await readFile(join(dir, pagePath(unit.id, page))), cache: true };
      },
    ],
  ];

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const isApi = path.startsWith('/api/');
    const send = (status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
        return;
      }
      for (const [pattern, answer] of isApi ? apiRoutes : []) {
        const match = pattern.exec(path);
        if (match) {
          const body = `${JSON.stringify(await answer(url.searchParams, match[1] ?? ''))}\n`;
          send(200, 'application/json; charset=utf-8', body, { 'cache-control': 'no-cache' });
          return;
        }
      }
      for (const [pattern, answer] of isApi ? [] : pageRoutes) {
        const match = pattern.exec(path);
        if (match) {
          const { type, body, cache } = await answer(req, match[1] ?? '', match[2] ?? '');
          send(200, type, body, cache ? { 'cache-control': 'public, max-age=86400' } : {});
          return;
        }
      }
      throw new HttpError(404, isApi ? `no endpoint ${path}` : `nothing at ${path}`);
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof HttpError ? error.message : 'internal error';
      if (!(error instanceof HttpError)) console.error('fixture site:', error);
      if (res.headersSent) {
        res.destroy();
      } else if (isApi) {
        send(status, 'application/json; charset=utf-8', `${JSON.stringify({ error: message })}\n`);
      } else {
        send(status, 'text/plain; charset=utf-8', `${message}\n`);
      }
    }
  };
}

/**
 * Starts the demo library's fixture site: a loopback HTTP server with public-domain book excerpts
 * and synthetic manga, a JSON API (see README.md) and a few HTML pages.
 */
export async function startFixtureSite(opts: FixtureSiteOptions = {}): Promise<FixtureSite> {
  const host = opts.host ?? '127.0.0.1';
  const dir = opts.fixtureDir ?? defaultFixtureDir;
  const handle = createHandler(loadCatalog(dir), dir);
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${hostPart}:${port}`,
    port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const site = await startFixtureSite({ host: arg('--host'), port: arg('--port') ? Number(arg('--port')) : undefined });
  console.log(`demo library fixture site at ${site.url}`);
  const stop = () => void site.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
