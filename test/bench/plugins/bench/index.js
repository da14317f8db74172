// The benchmark's source plugin: `search` does five sequential GETs below the base URL it is
// given (as a real source scraping a search page and a few detail pages would), `list` does no
// I/O at all, so its time is the cost of a call through the runner. The pool's tests also use
// `getMedia`: 'count' returns how many calls this instance has served (its state is per instance),
// 'trap' makes the instance trap (componentize-js turns a thrown Error into `unreachable`).

/** calls served by this instance */
let served = 0;

function media(id, title) {
  return {
    id,
    title,
    kind: 'book',
    altTitles: [],
    authors: [],
    genres: [],
    status: 'unknown',
    languages: [],
    nsfw: false,
  };
}

export const sourceApi = {
  /** query: base URL of the fixture; GETs <base>/item/0 .. <base>/item/4 one after another */
  async search(query, _filters, _cursor) {
    const items = [];
    for (let i = 0; i < 5; i++) {
      let r;
      try {
        r = await fetch(`${query}/item/${i}`);
      } catch (e) {
        throw { tag: 'network', val: String(e) };
      }
      if (r.status !== 200) throw { tag: 'network', val: `status ${r.status}` };
      const body = await r.json();
      items.push(media(String(body.id), body.title));
    }
    return { items, nextCursor: undefined };
  },
  async list(listing, _cursor) {
    served++;
    return { items: [media('static', `listing ${listing}`)], nextCursor: undefined };
  },
  async getMedia(id) {
    served++;
    if (id === 'count') return media(id, String(served));
    if (id === 'trap') throw new Error('a plain Error is not a source-error');
    return media(id, id);
  },
  async listUnits(_mediaId, _cursor) {
    return { items: [], nextCursor: undefined };
  },
  async getAssets(_unitId) {
    return [];
  },
  async filters() {
    return [];
  },
};
