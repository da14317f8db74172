// A well-behaved source that fetches what it is told to. The sandbox tests point it at hosts that
// are allowed, undeclared, redirecting or private, and check what the host lets through.
import { getSetting, log } from 'awasm:source/host@0.1.0';
import { handle } from 'wasi:http/outgoing-handler@0.2.10';
import { Fields, httpErrorCode, OutgoingBody, OutgoingRequest } from 'wasi:http/types@0.2.10';

/** Kept in this instance's memory between calls (another source must never see it). */
let remembered;

function media(id, title, description) {
  return {
    id,
    title,
    kind: 'book',
    altTitles: [],
    description,
    authors: [],
    genres: [],
    status: 'unknown',
    languages: [],
    nsfw: false,
  };
}

/** One request through wasi:http directly, so the exact error-code reaches the test. */
function rawRequest({ scheme, authority, path, headers, method, body: sent }) {
  const fields = new Fields();
  for (const [name, value] of headers ?? []) {
    try {
      fields.append(name, new TextEncoder().encode(value));
    } catch (e) {
      throw { tag: 'network', val: `header ${name}: ${describe(e)}` };
    }
  }
  const req = new OutgoingRequest(fields);
  if (method) req.setMethod({ tag: method.toLowerCase() === 'post' ? 'post' : 'get' });
  if (sent !== undefined) {
    const outgoing = req.body();
    const stream = outgoing.write();
    stream.blockingWriteAndFlush(new TextEncoder().encode(sent));
    stream[Symbol.dispose]?.();
    OutgoingBody.finish(outgoing, undefined);
  }
  req.setScheme(
    scheme === 'https' ? { tag: 'HTTPS' } : scheme === 'http' ? { tag: 'HTTP' } : { tag: 'other', val: scheme },
  );
  req.setAuthority(authority);
  req.setPathWithQuery(path ?? '/');
  let future;
  try {
    future = handle(req, undefined);
  } catch (e) {
    throw { tag: 'network', val: `handle: ${describe(e)}` };
  }
  future.subscribe().block();
  const outcome = future.get();
  if (outcome.tag !== 'ok') throw { tag: 'internal', val: 'response taken twice' };
  if (outcome.val.tag !== 'ok') throw { tag: 'network', val: describe(outcome.val.val) };
  const response = outcome.val.val;
  const status = response.status();
  const body = response.consume();
  const stream = body.stream();
  const chunks = [];
  for (;;) {
    stream.subscribe().block();
    let chunk;
    try {
      chunk = stream.read(65536n);
    } catch (e) {
      const err = e?.payload ?? e;
      if (err?.tag === 'closed') break;
      const code = err?.tag === 'last-operation-failed' ? httpErrorCode(err.val) : undefined;
      throw { tag: 'network', val: `body: ${code ? code.tag : describe(e)}` };
    }
    chunks.push(new TextDecoder().decode(chunk));
  }
  return { status, body: chunks.join('') };
}

function describe(e) {
  const v = e?.payload ?? e;
  if (v && typeof v === 'object' && 'tag' in v) return v.tag;
  return String(v);
}

export const sourceApi = {
  /** query: a URL to fetch() */
  async search(query, _filters, _cursor) {
    try {
      const r = await fetch(query);
      const text = await r.text();
      return { items: [media(String(r.status), text, r.headers.get('location') ?? undefined)] };
    } catch (e) {
      throw { tag: 'network', val: String(e) };
    }
  },
  /** a healthy call that does no I/O */
  async list(listing, _cursor) {
    log('debug', `list ${listing}`);
    return { items: [media('static', `listing ${listing}`)], nextCursor: undefined };
  },
  /** id: JSON {scheme, authority, path, headers} sent through wasi:http as is */
  async getMedia(id) {
    const { status, body } = rawRequest(JSON.parse(id));
    return media(String(status), body);
  },
  /**
   * media id: a setting key; returns its value as the title of one unit.
   * "remember:<text>" keeps text in this instance's memory, "recall" returns what it kept.
   */
  async listUnits(mediaId, _cursor) {
    if (mediaId.startsWith('remember:')) remembered = mediaId.slice('remember:'.length);
    const value = mediaId === 'recall' || mediaId.startsWith('remember:') ? remembered : getSetting(mediaId);
    return {
      items: [{ id: 'u1', mediaId, kind: 'chapter', title: value ?? '(unset)', publishedAt: 1700000000000n }],
      nextCursor: undefined,
    };
  },
  /** unit id: JSON array of URLs fetched concurrently, or {url, count}: the same URL count times at once */
  async getAssets(unitId) {
    const parsed = JSON.parse(unitId);
    const urls = Array.isArray(parsed) ? parsed : Array.from({ length: parsed.count }, () => parsed.url);
    const texts = await Promise.all(
      urls.map(async (u) => {
        try {
          const r = await fetch(u);
          return `${r.status}:${await r.text()}`;
        } catch (e) {
          return `error:${String(e)}`;
        }
      }),
    );
    return texts.map((text, index) => ({ kind: 'text', index, text, headers: [] }));
  },
  async filters() {
    return [];
  },
};
