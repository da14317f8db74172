// A hostile source: search(query) runs the attack named by the query; list() is a healthy call,
// used to show the instance is serving again after the attack.
const kept = [];

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

const attacks = {
  /** never returns */
  loop() {
    let n = 0;
    for (;;) n = (n + 1) | 0;
  },
  /** keeps allocating (and touching) memory until something gives */
  grow() {
    for (;;) {
      const block = new Uint8Array(4 * 1024 * 1024);
      block.fill(7);
      kept.push(block);
    }
  },
  /** writes far more to stdout and stderr than the host forwards */
  flood() {
    const line = 'x'.repeat(1023);
    for (let i = 0; i < 20000; i++) console.log(line);
    for (let i = 0; i < 2000; i++) console.error(line);
    return 'flooded';
  },
  /** throws a plain Error instead of a source-error variant (an abort, as far as the host can tell) */
  throw() {
    throw new Error('plugin gave up');
  },
  /** throws a variant the contract does not have */
  badvariant() {
    throw { tag: 'root-access', val: 'please' };
  },
  /** recurses until the stack runs out */
  recurse() {
    const down = (n) => down(n + 1) + 1;
    return down(0);
  },
  /** a pending timer that outlives the deadline */
  sleep() {
    return new Promise((resolve) => setTimeout(() => resolve('woke'), 3_600_000));
  },
};

export const sourceApi = {
  async search(query, _filters, _cursor) {
    const attack = attacks[query];
    if (!attack) throw { tag: 'unsupported' };
    const result = await attack();
    return { items: [media('attack', query, String(result))] };
  },
  async list(listing, _cursor) {
    return { items: [media('healthy', `still serving ${listing}`, `kept ${kept.length} blocks`)] };
  },
  async getMedia(_id) {
    throw { tag: 'not-found' };
  },
  async listUnits(_mediaId, _cursor) {
    return { items: [] };
  },
  async getAssets(_unitId) {
    return [];
  },
  async filters() {
    return [];
  },
};
