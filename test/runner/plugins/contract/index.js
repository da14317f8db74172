// The SourceRunner contract's plugin: each operation answers from its arguments alone (no network),
// so every SourceRunner implementation can be checked for the same results and the same errors.
// search(query): 'hang' never returns, 'fail:<tag>' throws that source-error variant, 'malformed'
// returns a next cursor over the runner's limit (the one malformed value the component model's
// types let through), 'setting' returns the `greeting` setting as the title.
import { getSetting } from 'awasm:source/host@0.1.0';

function media(id, title) {
  return {
    id,
    title,
    kind: 'book',
    altTitles: [],
    description: `about ${id}`,
    authors: ['A. Author'],
    genres: [],
    status: 'completed',
    languages: ['en'],
    nsfw: false,
  };
}

const failures = {
  network: { tag: 'network', val: 'connection refused' },
  'rate-limited': { tag: 'rate-limited', val: 30 },
  challenge: { tag: 'challenge', val: 'https://contract.awasm.test/check' },
  'auth-required': { tag: 'auth-required' },
  'not-found': { tag: 'not-found' },
  parse: { tag: 'parse', val: 'no title in the page' },
  unsupported: { tag: 'unsupported' },
  'domain-moved': { tag: 'domain-moved', val: 'https://moved.awasm.test' },
  internal: { tag: 'internal', val: 'it broke' },
};

export const sourceApi = {
  async search(query, filters, cursor) {
    if (query === 'hang') return new Promise(() => setTimeout(() => {}, 3_600_000));
    if (query.startsWith('fail:')) throw failures[query.slice(5)] ?? { tag: 'internal', val: query };
    if (query === 'malformed') return { items: [], nextCursor: 'x'.repeat(2000) };
    if (query === 'setting') return { items: [media('setting', getSetting('greeting') ?? '(none)')] };
    const filtered = filters.map((f) => `${f.id}=${f.values.join('+')}`).join(',');
    const page = cursor ?? 'page-1';
    return {
      items: [media(`${query}-${page}`, `${query} ${filtered}`.trim())],
      nextCursor: page === 'page-1' ? 'page-2' : undefined,
    };
  },
  async list(listing, _cursor) {
    return { items: [media(listing, `the ${listing} one`)] };
  },
  async getMedia(id) {
    if (id === 'missing') throw { tag: 'not-found' };
    return media(id, `media ${id}`);
  },
  async listUnits(mediaId, _cursor) {
    return {
      items: [
        {
          id: `${mediaId}/1`,
          mediaId,
          kind: 'chapter',
          title: 'Chapter 1',
          number: 1,
          language: 'en',
          publishedAt: 1_700_000_000_000n,
        },
      ],
    };
  },
  async getAssets(unitId) {
    return [
      {
        kind: 'page',
        index: 0,
        url: `https://contract.awasm.test/${unitId}/0.png`,
        mimeType: 'image/png',
        headers: [{ name: 'referer', value: 'https://contract.awasm.test/' }],
      },
    ];
  },
  async filters() {
    return [{ id: 'genre', label: 'Genre', kind: 'select', options: [{ value: 'sf', label: 'Science fiction' }] }];
  },
};
