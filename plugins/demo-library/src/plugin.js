// The Demo Library source: public-domain books and synthetic manga from the fixture site that
// ships with aWASM. Built into a component by componentize-js against wit/ (world
// awasm:source/source@0.1.0); every export may be async, errors are thrown as the typed
// `source-error` variant ({ tag, val }), never returned as fake entries.
import { getSetting, log } from 'awasm:source/host@0.1.0';

const DEFAULT_BASE_URL = 'http://demo-library.awasm.test';
const DEFAULT_PAGE_SIZE = 4;
const MAX_PAGE_SIZE = 50;
const KINDS = ['book', 'manga'];
const STATUSES = ['unknown', 'ongoing', 'completed', 'hiatus', 'cancelled'];

// ---- settings ----

function baseUrl() {
  const raw = (getSetting('base_url') ?? '').trim() || DEFAULT_BASE_URL;
  if (!/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(raw)) {
    throw { tag: 'internal', val: `setting base_url is not an http(s) URL: ${raw}` };
  }
  return raw.replace(/\/+$/, '');
}

function pageSize() {
  const raw = (getSetting('page_size') ?? '').trim();
  if (raw === '') return DEFAULT_PAGE_SIZE;
  if (!/^\d+$/.test(raw)) throw { tag: 'internal', val: `setting page_size is not an integer: ${raw}` };
  return Math.min(MAX_PAGE_SIZE, Math.max(1, Number(raw)));
}

// ---- HTTP ----

function describe(error) {
  if (error && typeof error === 'object' && 'message' in error) return String(error.message);
  return String(error);
}

/** Seconds from a Retry-After header (delta-seconds or HTTP date), when it says. */
function retryAfterSeconds(value) {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text), 0xffffffff);
  const when = Date.parse(text);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

function query(params) {
  const parts = [];
  for (const [key, value] of params) {
    if (value === undefined || value === null || value === '') continue;
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** GETs a JSON document from the site and maps every failure onto the source-error variant. */
async function getJson(path) {
  const url = baseUrl() + path;
  log('debug', `GET ${url}`);
  let response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' } });
  } catch (error) {
    throw { tag: 'network', val: `GET ${url} failed: ${describe(error)}` };
  }
  const status = response.status;
  if (status === 404 || status === 410) throw { tag: 'not-found' };
  if (status === 429 || status === 503) {
    const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
    if (status === 429 || retryAfter !== undefined) throw { tag: 'rate-limited', val: retryAfter };
  }
  if (status === 401 || status === 403) throw { tag: 'auth-required' };
  if (status < 200 || status > 299) {
    throw { tag: 'network', val: `GET ${url} answered HTTP ${status}` };
  }
  let body;
  try {
    body = await response.text();
  } catch (error) {
    throw { tag: 'network', val: `reading the body of ${url} failed: ${describe(error)}` };
  }
  try {
    return JSON.parse(body);
  } catch (error) {
    throw { tag: 'parse', val: `${url} did not answer JSON: ${describe(error)}` };
  }
}

// ---- decoding the site's JSON ----

function bad(what, problem) {
  return { tag: 'parse', val: `${what}: ${problem}` };
}

function object(value, what) {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(what, 'expected an object');
  return value;
}

function string(obj, key, what) {
  const value = obj[key];
  if (typeof value !== 'string' || value === '') throw bad(what, `'${key}' is not a non-empty string`);
  return value;
}

function optionalString(obj, key, what) {
  const value = obj[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw bad(what, `'${key}' is not a string`);
  return value;
}

function stringList(obj, key, what) {
  const value = obj[key] ?? [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    throw bad(what, `'${key}' is not a string list`);
  return value;
}

function optionalNumber(obj, key, what) {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(what, `'${key}' is not a number`);
  return value;
}

/** Resolves a site-relative link ("/covers/x.svg") against the base URL. */
function absolute(link) {
  if (link === undefined) return undefined;
  if (/^https?:\/\//.test(link)) return link;
  return baseUrl() + (link.startsWith('/') ? link : `/${link}`);
}

function toMedia(raw) {
  const what = 'media';
  const m = object(raw, what);
  const kind = string(m, 'kind', what);
  if (!KINDS.includes(kind)) throw bad(what, `unknown kind '${kind}'`);
  const status = optionalString(m, 'status', what) ?? 'unknown';
  if (typeof m.nsfw !== 'boolean' && m.nsfw !== undefined) throw bad(what, "'nsfw' is not a boolean");
  return {
    id: string(m, 'id', what),
    title: string(m, 'title', what),
    kind,
    altTitles: stringList(m, 'altTitles', what),
    description: optionalString(m, 'description', what),
    coverUrl: absolute(optionalString(m, 'cover', what)),
    authors: stringList(m, 'authors', what),
    genres: stringList(m, 'genres', what),
    status: STATUSES.includes(status) ? status : 'unknown',
    languages: stringList(m, 'languages', what),
    nsfw: m.nsfw === true,
    url: absolute(optionalString(m, 'url', what)),
  };
}

function toUnit(raw, mediaId) {
  const what = 'chapter';
  const u = object(raw, what);
  const publishedText = optionalString(u, 'publishedAt', what);
  let publishedAt;
  if (publishedText !== undefined) {
    const ms = Date.parse(publishedText);
    if (Number.isNaN(ms)) throw bad(what, `'publishedAt' is not a date: ${publishedText}`);
    // u64 in the contract: times before 1970 are left out rather than wrapped
    if (ms >= 0) publishedAt = BigInt(ms);
  }
  return {
    id: string(u, 'id', what),
    mediaId: optionalString(u, 'mediaId', what) ?? mediaId,
    kind: 'chapter',
    title: string(u, 'title', what),
    number: optionalNumber(u, 'number', what),
    group: optionalNumber(u, 'volume', what),
    language: optionalString(u, 'language', what),
    publishedAt,
    url: absolute(optionalString(u, 'url', what)),
  };
}

/** The site pages with ?page=N; the opaque cursor is that page number. */
function parseCursor(cursor) {
  if (cursor === undefined || cursor === null || cursor === '') return 1;
  if (!/^[1-9]\d{0,8}$/.test(cursor)) throw { tag: 'internal', val: `invalid cursor '${cursor}'` };
  return Number(cursor);
}

function toPage(raw, convert) {
  const page = object(raw, 'result page');
  if (!Array.isArray(page.items)) throw bad('result page', "'items' is not a list");
  const next = page.nextPage;
  if (next !== null && next !== undefined && !(Number.isInteger(next) && next > 0)) {
    throw bad('result page', "'nextPage' is not a page number");
  }
  return { items: page.items.map(convert), nextCursor: next ? String(next) : undefined };
}

function pathId(id, what) {
  if (typeof id !== 'string' || id === '') throw { tag: 'not-found' };
  if (id.length > 200) throw { tag: 'internal', val: `${what} id is too long` };
  return encodeURIComponent(id);
}

// ---- the exported source API ----

export const sourceApi = {
  async search(searchQuery, filterValues, cursor) {
    const params = [
      ['q', searchQuery.trim()],
      ['page', parseCursor(cursor)],
      ['limit', pageSize()],
    ];
    for (const filter of filterValues) {
      if (filter.id === 'genre' || filter.id === 'kind') {
        for (const value of filter.values) params.push([filter.id, value]);
      } else {
        log('warn', `search: unknown filter '${filter.id}'`);
        throw { tag: 'unsupported' };
      }
    }
    return toPage(await getJson(`/api/search${query(params)}`), toMedia);
  },

  async list(listing, cursor) {
    if (listing !== 'popular' && listing !== 'latest') throw { tag: 'unsupported' };
    const params = [
      ['page', parseCursor(cursor)],
      ['limit', pageSize()],
    ];
    return toPage(await getJson(`/api/${listing}${query(params)}`), toMedia);
  },

  async getMedia(id) {
    return toMedia(await getJson(`/api/media/${pathId(id, 'media')}`));
  },

  async listUnits(mediaId, cursor) {
    const params = [
      ['page', parseCursor(cursor)],
      ['limit', pageSize()],
    ];
    const raw = await getJson(`/api/media/${pathId(mediaId, 'media')}/units${query(params)}`);
    return toPage(raw, (unit) => toUnit(unit, mediaId));
  },

  async getAssets(unitId) {
    const what = 'chapter content';
    const raw = object(await getJson(`/api/units/${pathId(unitId, 'chapter')}`), what);
    const language = optionalString(raw, 'language', what);
    if (raw.type === 'text') {
      if (typeof raw.text !== 'string') throw bad(what, "'text' is not a string");
      return [
        {
          kind: 'text',
          index: 0,
          url: undefined,
          text: raw.text,
          mimeType: 'text/plain',
          language,
          quality: undefined,
          headers: [],
        },
      ];
    }
    if (raw.type === 'pages') {
      if (!Array.isArray(raw.pages)) throw bad(what, "'pages' is not a list");
      const reader = absolute(optionalString(raw, 'url', what) ?? `/read/${encodeURIComponent(unitId)}`);
      return raw.pages.map((p, i) => {
        const page = object(p, 'page');
        return {
          kind: 'page',
          index: i,
          url: absolute(string(page, 'url', 'page')),
          text: undefined,
          mimeType: 'image/svg+xml',
          language,
          quality: undefined,
          // the site refuses page images without the reading page as Referer
          headers: [{ name: 'Referer', value: reader }],
        };
      });
    }
    throw bad(what, `unknown content type '${raw.type}'`);
  },

  async filters() {
    const raw = object(await getJson('/api/genres'), 'genre list');
    if (!Array.isArray(raw.genres)) throw bad('genre list', "'genres' is not a list");
    const genres = raw.genres.map((g) => {
      const genre = object(g, 'genre');
      return { value: string(genre, 'value', 'genre'), label: string(genre, 'label', 'genre') };
    });
    return [
      { id: 'genre', label: 'Genre', kind: 'multi-select', options: genres },
      {
        id: 'kind',
        label: 'Kind',
        kind: 'select',
        options: [
          { value: 'book', label: 'Books' },
          { value: 'manga', label: 'Manga' },
        ],
      },
    ];
  },
};
