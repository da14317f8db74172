import { describe, expect, it } from 'vitest';
import { type FeedStore, feedItemId, InvalidFeedCursorError, type NewFeedItem } from './feed-store.js';

function unit(userId: string, unitId: string, foundAt: number, extra: Partial<NewFeedItem> = {}): NewFeedItem {
  return {
    userId,
    sourceId: 'demo',
    mediaId: 'm1',
    entryId: `entry-${userId}`,
    unitId,
    unitTitle: `Unit ${unitId}`,
    foundAt,
    ...extra,
  };
}

/** Behaviour every FeedStore must have; `open` gives a fresh, empty store for each `name`. */
export function feedStoreContract(implementation: string, open: (name: string) => Promise<FeedStore>): void {
  describe(`FeedStore contract: ${implementation}`, () => {
    it('adds items once per (user, source, media, unit) and lists a user newest first', async () => {
      const store = await open('add');
      expect(await store.add([unit('alice', 'u1', 100, { unitNumber: 1 }), unit('alice', 'u2', 200)])).toBe(2);
      // the same unit again (even with other details) is not news twice
      expect(await store.add([unit('alice', 'u1', 300, { unitTitle: 'changed' }), unit('bob', 'u1', 100)])).toBe(1);
      const page = await store.list('alice', { limit: 10 });
      expect(page.nextCursor).toBeUndefined();
      expect(page.items).toEqual([
        { ...unit('alice', 'u2', 200), id: feedItemId(unit('alice', 'u2', 200)), read: false },
        { ...unit('alice', 'u1', 100, { unitNumber: 1 }), id: feedItemId(unit('alice', 'u1', 100)), read: false },
      ]);
      expect((await store.list('bob', { limit: 10 })).items.map((i) => i.unitId)).toEqual(['u1']);
      expect((await store.list('carol', { limit: 10 })).items).toEqual([]);
      await store.close();
    });

    it('pages with a cursor through items that share a found-at time', async () => {
      const store = await open('pages');
      await store.add(['a', 'b', 'c', 'd', 'e'].map((id, n) => unit('alice', id, n < 3 ? 500 : 400)));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list('alice', { limit: 2, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((i) => i.unitId));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen.slice().sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
      // the three found at 500 come before the two found at 400
      expect(seen.slice(0, 3).sort()).toEqual(['a', 'b', 'c']);
      await expect(store.list('alice', { limit: 2, cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(
        InvalidFeedCursorError,
      );
      await store.close();
    });

    it('marks read by id only in the caller’s own feed, or all, and filters unread', async () => {
      const store = await open('read');
      await store.add([unit('alice', 'u1', 1), unit('alice', 'u2', 2), unit('bob', 'u1', 1)]);
      const bobsItem = feedItemId(unit('bob', 'u1', 1));
      const alicesFirst = feedItemId(unit('alice', 'u1', 1));
      // alice cannot mark bob's item, even knowing its id
      expect(await store.markRead('alice', [bobsItem, alicesFirst, 'unknown'])).toBe(1);
      expect(await store.markRead('alice', [alicesFirst])).toBe(0);
      expect((await store.list('bob', { limit: 5, unreadOnly: true })).items).toHaveLength(1);
      expect((await store.list('alice', { limit: 5, unreadOnly: true })).items.map((i) => i.unitId)).toEqual(['u2']);
      expect((await store.list('alice', { limit: 5 })).items.map((i) => [i.unitId, i.read])).toEqual([
        ['u2', false],
        ['u1', true],
      ]);
      expect(await store.markAllRead('alice')).toBe(1);
      expect((await store.list('alice', { limit: 5, unreadOnly: true })).items).toEqual([]);
      expect((await store.list('bob', { limit: 5, unreadOnly: true })).items).toHaveLength(1);
      // a read item stays read when a refresh offers it again
      expect(await store.add([unit('alice', 'u1', 9)])).toBe(0);
      expect((await store.list('alice', { limit: 5, unreadOnly: true })).items).toEqual([]);
      expect(await store.markRead('alice', [])).toBe(0);
      await store.close();
    });

    it('removes a removed user’s feed and nobody else’s', async () => {
      const store = await open('remove');
      await store.add([unit('alice', 'u1', 1), unit('alice', 'u2', 2), unit('bob', 'u1', 1)]);
      expect(await store.removeUser('alice')).toBe(2);
      expect((await store.list('alice', { limit: 5 })).items).toEqual([]);
      expect((await store.list('bob', { limit: 5 })).items).toHaveLength(1);
      expect(await store.removeUser('alice')).toBe(0);
      await store.close();
    });
  });
}
