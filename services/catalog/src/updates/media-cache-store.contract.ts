import { describe, expect, it } from 'vitest';
import type { CachedMedia, MediaCacheStore } from './media-cache-store.js';

const entry: CachedMedia = {
  sourceId: 'demo',
  mediaId: 'm1',
  media: new Uint8Array([10, 2, 109, 49]),
  units: [
    { unitId: 'u1', title: 'One', number: 1, group: 1, publishedAt: 1_700_000_000_000, firstSeenAt: 1_700_000_100_000 },
    { unitId: 'u2', title: 'Two', firstSeenAt: 1_700_000_200_000 },
  ],
  fetchedAt: 1_700_000_200_000,
  freshUntil: 1_700_043_200_000,
};

/** Behaviour every MediaCacheStore must have; `open` gives a fresh, empty store for each `name`. */
export function mediaCacheStoreContract(
  implementation: string,
  open: (name: string) => Promise<MediaCacheStore>,
): void {
  describe(`MediaCacheStore contract: ${implementation}`, () => {
    it('stores an entry and gives it back whole, optional fields absent where unset', async () => {
      const store = await open('put');
      expect(await store.get('demo', 'm1')).toBeUndefined();
      await store.put(entry);
      expect(await store.get('demo', 'm1')).toEqual(entry);
      expect(await store.get('demo', 'm2')).toBeUndefined();
      expect(await store.get('other', 'm1')).toBeUndefined();
      await store.close();
    });

    it('replaces an entry on the next put and keeps works apart', async () => {
      const store = await open('replace');
      await store.put(entry);
      const { media: _media, ...withoutMedia } = entry;
      const next: CachedMedia = { ...withoutMedia, units: [entry.units[1]!], fetchedAt: 5, freshUntil: 6 };
      await store.put(next);
      await store.put({ ...entry, mediaId: 'm2' });
      expect(await store.get('demo', 'm1')).toEqual(next);
      expect(await store.get('demo', 'm2')).toEqual({ ...entry, mediaId: 'm2' });
      await store.close();
    });
  });
}
