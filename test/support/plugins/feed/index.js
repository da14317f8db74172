// The update tests' source: getMedia and listUnits read a loopback fixture site, one GET per call,
// so the site counts exactly what a refresh asks of the source. Errors are the typed source-error.
import { getSetting } from 'awasm:source/host@0.1.0';

function baseUrl() {
  return ((getSetting('base_url') ?? '').trim() || 'http://feed.awasm.test').replace(/\/+$/, '');
}

async function getJson(path) {
  let response;
  try {
    response = await fetch(baseUrl() + path, { headers: { accept: 'application/json' } });
  } catch (error) {
    throw { tag: 'network', val: `GET ${path} failed: ${String(error?.message ?? error)}` };
  }
  if (response.status === 404) throw { tag: 'not-found' };
  if (response.status === 429) throw { tag: 'rate-limited', val: undefined };
  if (response.status !== 200) throw { tag: 'network', val: `GET ${path} answered HTTP ${response.status}` };
  try {
    return JSON.parse(await response.text());
  } catch {
    throw { tag: 'parse', val: `GET ${path} did not answer JSON` };
  }
}

function id(value) {
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,100}$/.test(value)) throw { tag: 'not-found' };
  return value;
}

function page(cursor) {
  if (cursor === undefined || cursor === null || cursor === '') return 1;
  if (!/^[1-9]\d{0,5}$/.test(cursor)) throw { tag: 'internal', val: `invalid cursor '${cursor}'` };
  return Number(cursor);
}

function media(raw) {
  if (typeof raw?.id !== 'string' || typeof raw?.title !== 'string')
    throw { tag: 'parse', val: 'media: no id or title' };
  return {
    id: raw.id,
    title: raw.title,
    kind: 'manga',
    altTitles: [],
    description: undefined,
    coverUrl: undefined,
    authors: [],
    genres: [],
    status: raw.completed ? 'completed' : 'ongoing',
    languages: ['en'],
    nsfw: false,
    url: undefined,
  };
}

function unit(raw, mediaId) {
  if (typeof raw?.id !== 'string' || typeof raw?.title !== 'string')
    throw { tag: 'parse', val: 'unit: no id or title' };
  return {
    id: raw.id,
    mediaId,
    kind: 'chapter',
    title: raw.title,
    number: typeof raw.number === 'number' ? raw.number : undefined,
    group: undefined,
    language: 'en',
    publishedAt: typeof raw.publishedAt === 'number' ? BigInt(raw.publishedAt) : undefined,
    url: undefined,
  };
}

export const sourceApi = {
  async search() {
    throw { tag: 'unsupported' };
  },
  async list() {
    throw { tag: 'unsupported' };
  },
  async getMedia(mediaId) {
    return media(await getJson(`/works/${id(mediaId)}`));
  },
  async listUnits(mediaId, cursor) {
    const raw = await getJson(`/works/${id(mediaId)}/units?page=${page(cursor)}`);
    if (!Array.isArray(raw?.items)) throw { tag: 'parse', val: "unit page: 'items' is not a list" };
    return {
      items: raw.items.map((u) => unit(u, mediaId)),
      nextCursor: Number.isInteger(raw.nextPage) ? String(raw.nextPage) : undefined,
    };
  },
  async getAssets() {
    throw { tag: 'unsupported' };
  },
  async filters() {
    return [];
  },
};
