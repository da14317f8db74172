import { describe, expect, it } from 'vitest';
import {
  CategoryNameTakenError,
  EntryExistsError,
  type EntryQuery,
  InvalidLibraryCursorError,
  type LibraryEntry,
  type LibraryStore,
  type NewEntry,
  UnknownCategoryError,
} from './library-store.js';

const ALICE = 'user-alice';
const BOB = 'user-bob';

function entryOf(userId: string, entryId: string, mediaId: string, extra: Partial<NewEntry> = {}): NewEntry {
  return {
    entryId,
    userId,
    sourceId: 'src-a',
    mediaId,
    title: `Title ${mediaId}`,
    kind: 'manga',
    sourceName: 'Source A',
    addedAt: 1_000,
    ...extra,
  };
}

async function listAll(store: LibraryStore, userId: string, query: Omit<EntryQuery, 'limit'>, limit = 100) {
  const seen: LibraryEntry[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.listEntries(userId, { ...query, limit, ...(cursor === undefined ? {} : { cursor }) });
    expect(page.entries.length).toBeLessThanOrEqual(limit);
    seen.push(...page.entries);
    cursor = page.nextCursor;
    pages += 1;
    expect(pages).toBeLessThan(1_000);
  } while (cursor !== undefined);
  return seen;
}

const ids = (entries: { entryId: string }[]) => entries.map((e) => e.entryId);

/**
 * Behaviour every LibraryStore must have. `open` returns a store over the same underlying data
 * each time it is called with the same `name`, so persistence across reopen is tested too.
 */
export function libraryStoreContract(implementation: string, open: (name: string) => Promise<LibraryStore>): void {
  describe(`LibraryStore contract: ${implementation}`, () => {
    it('adds an entry once per (user, source, media), with defaults, and persists it', async () => {
      const store = await open('add');
      const first = await store.addEntry(entryOf(ALICE, 'e1', 'm1', { coverUrl: 'http://127.0.0.1/c.png' }));
      expect(first.created).toBe(true);
      expect(first.entry).toEqual({
        entryId: 'e1',
        userId: ALICE,
        sourceId: 'src-a',
        mediaId: 'm1',
        title: 'Title m1',
        kind: 'manga',
        coverUrl: 'http://127.0.0.1/c.png',
        sourceName: 'Source A',
        status: 'reading',
        favourite: false,
        notes: '',
        categoryIds: [],
        addedAt: 1_000,
        updatedAt: 1_000,
        unitCount: 0,
        readCount: 0,
      });
      const retry = await store.addEntry(entryOf(ALICE, 'e2', 'm1', { title: 'Other', status: 'planned' }));
      expect(retry).toEqual({ entry: first.entry, created: false });
      // another user may follow the same work
      expect((await store.addEntry(entryOf(BOB, 'e3', 'm1'))).created).toBe(true);
      await store.close();
      const again = await open('add');
      expect(await again.getEntry(ALICE, 'e1')).toEqual(first.entry);
      expect(await again.getEntry(ALICE, 'e2')).toBeUndefined();
      expect(await again.findEntry(ALICE, 'src-a', 'm1')).toEqual(first.entry);
      expect(await again.findEntry(ALICE, 'src-a', 'none')).toBeUndefined();
      expect((await again.findEntry(BOB, 'src-a', 'm1'))?.entryId).toBe('e3');
      await again.close();
    });

    it('keeps every field a new entry sets', async () => {
      const store = await open('add-full');
      await store.addCategory(ALICE, 'c1', 'Weekly');
      const { entry } = await store.addEntry(
        entryOf(ALICE, 'e1', 'm1', {
          status: 'planned',
          favourite: true,
          notes: 'from a friend',
          categoryIds: ['c1'],
          orphaned: { reason: 'unknown_source', detail: 'MangaDex (EN)' },
        }),
      );
      expect(entry).toMatchObject({
        status: 'planned',
        favourite: true,
        notes: 'from a friend',
        categoryIds: ['c1'],
        orphaned: { reason: 'unknown_source', detail: 'MangaDex (EN)' },
      });
      await expect(store.addEntry(entryOf(ALICE, 'e2', 'm2', { categoryIds: ['nope'] }))).rejects.toThrow(
        UnknownCategoryError,
      );
      expect(await store.getEntry(ALICE, 'e2')).toBeUndefined();
      await store.close();
    });

    it('keeps two users apart: a guessed entry or category id reads as missing and changes nothing', async () => {
      const store = await open('isolation');
      await store.addCategory(ALICE, 'ca', 'Alice');
      await store.addEntry(entryOf(ALICE, 'ea', 'm1', { categoryIds: ['ca'] }));
      await store.writeProgress(ALICE, 'ea', [{ unitId: 'u1', read: true, position: 3, clientTime: 10 }], 100);
      await store.addHistory(ALICE, [{ entryId: 'ea', unitId: 'u1', openedAt: 5, durationMs: 60 }]);
      await store.addEntry(entryOf(BOB, 'eb', 'm2'));
      await store.addCategory(BOB, 'cb', 'Bob');
      const before = await store.getEntry(ALICE, 'ea');

      expect(await store.getEntry(BOB, 'ea')).toBeUndefined();
      expect(await store.findEntry(BOB, 'src-a', 'm1')).toBeUndefined();
      expect(await store.updateEntry(BOB, 'ea', { notes: 'mine' }, 200)).toBeUndefined();
      await expect(store.updateEntry(BOB, 'eb', { categoryIds: ['ca'] }, 200)).rejects.toThrow(UnknownCategoryError);
      await expect(store.addEntry(entryOf(BOB, 'eb2', 'm3', { categoryIds: ['ca'] }))).rejects.toThrow(
        UnknownCategoryError,
      );
      // entry ids are unique over all users: Bob's add under Alice's id fails and takes nothing of hers
      await expect(store.addEntry(entryOf(BOB, 'ea', 'm9'))).rejects.toThrow();
      expect(await store.findEntry(BOB, 'src-a', 'm9')).toBeUndefined();
      expect(await store.removeEntry(BOB, 'ea')).toBe(false);
      expect(
        await store.writeProgress(BOB, 'ea', [{ unitId: 'u1', read: false, clientTime: 99 }], 200),
      ).toBeUndefined();
      expect(await store.listProgress(BOB, 'ea')).toBeUndefined();
      expect(await store.addHistory(BOB, [{ entryId: 'ea', unitId: 'u1', openedAt: 5, durationMs: 999 }])).toBe(0);
      expect((await store.listHistory(BOB, { limit: 10 })).records).toEqual([]);
      expect((await store.listHistory(BOB, { entryId: 'ea', limit: 10 })).records).toEqual([]);
      expect(await store.linkEntries(BOB, ['eb', 'ea'], 'w-bob', 200)).toBeUndefined();
      expect(await store.unlinkEntry(BOB, 'ea', 200)).toBe(false);
      const target = { sourceId: 'src-b', mediaId: 'x', title: 'X', kind: 'manga' as const, sourceName: 'B' };
      expect(await store.moveEntry(BOB, 'ea', target, new Map(), 200)).toBeUndefined();
      expect(await store.renameCategory(BOB, 'ca', 'Taken')).toBeUndefined();
      await expect(store.reorderCategories(BOB, ['ca', 'cb'])).rejects.toThrow(UnknownCategoryError);
      expect(await store.removeCategory(BOB, 'ca')).toBe(false);
      expect(ids((await store.listEntries(BOB, { sort: 'title', limit: 10 })).entries)).toEqual(['eb']);
      expect(ids((await store.listEntries(BOB, { sort: 'title', categoryId: 'ca', limit: 10 })).entries)).toEqual([]);
      expect((await store.listCategories(BOB)).map((c) => c.categoryId)).toEqual(['cb']);
      // Bob may use a name Alice uses
      expect((await store.addCategory(BOB, 'cb2', 'alice')).name).toBe('alice');

      expect(await store.getEntry(ALICE, 'ea')).toEqual(before);
      expect(await store.listProgress(ALICE, 'ea')).toMatchObject([{ unitId: 'u1', read: true, position: 3 }]);
      expect((await store.listHistory(ALICE, { limit: 10 })).records).toEqual([
        { entryId: 'ea', unitId: 'u1', openedAt: 5, durationMs: 60 },
      ]);
      expect(await store.listCategories(ALICE)).toEqual([
        { categoryId: 'ca', userId: ALICE, name: 'Alice', position: 0 },
      ]);
      expect(await store.removeUser(BOB)).toBe(1);
      expect(await store.getEntry(ALICE, 'ea')).toEqual(before);
      await store.close();
    });

    it('patches only the fields given and checks categories', async () => {
      const store = await open('update');
      await store.addCategory(ALICE, 'c1', 'One');
      await store.addCategory(ALICE, 'c2', 'Two');
      await store.addCategory(BOB, 'cb', 'Bob');
      await store.addEntry(entryOf(ALICE, 'e1', 'm1', { notes: 'keep' }));
      const updated = await store.updateEntry(
        ALICE,
        'e1',
        { status: 'completed', favourite: true, categoryIds: ['c2', 'c1', 'c2'] },
        2_000,
      );
      expect(updated).toMatchObject({
        status: 'completed',
        favourite: true,
        notes: 'keep',
        title: 'Title m1',
        categoryIds: ['c1', 'c2'],
        updatedAt: 2_000,
      });
      const renamed = await store.updateEntry(ALICE, 'e1', { title: 'New', coverUrl: 'http://127.0.0.1/n.png' }, 3_000);
      expect(renamed).toMatchObject({ title: 'New', coverUrl: 'http://127.0.0.1/n.png', status: 'completed' });
      expect(renamed?.categoryIds).toEqual(['c1', 'c2']);
      // a repeated patch changes nothing, not even updatedAt
      expect((await store.updateEntry(ALICE, 'e1', { title: 'New' }, 4_000))?.updatedAt).toBe(3_000);
      await expect(
        store.updateEntry(ALICE, 'e1', { notes: 'x', categoryIds: ['c1', 'missing'] }, 5_000),
      ).rejects.toThrow(UnknownCategoryError);
      await expect(store.updateEntry(ALICE, 'e1', { categoryIds: ['cb'] }, 5_000)).rejects.toThrow(
        UnknownCategoryError,
      );
      expect(await store.getEntry(ALICE, 'e1')).toEqual(renamed);
      expect((await store.updateEntry(ALICE, 'e1', { categoryIds: [] }, 6_000))?.categoryIds).toEqual([]);
      expect(await store.updateEntry(ALICE, 'none', { notes: 'x' }, 6_000)).toBeUndefined();
      await store.close();
      const again = await open('update');
      expect(await again.getEntry(ALICE, 'e1')).toMatchObject({ title: 'New', categoryIds: [], updatedAt: 6_000 });
      await again.close();
    });

    it('removes an entry with its progress and history', async () => {
      const store = await open('remove');
      await store.addEntry(entryOf(ALICE, 'e1', 'm1'));
      await store.addEntry(entryOf(ALICE, 'e2', 'm2'));
      await store.writeProgress(ALICE, 'e1', [{ unitId: 'u1', read: true, clientTime: 1 }], 10);
      await store.addHistory(ALICE, [
        { entryId: 'e1', unitId: 'u1', openedAt: 1, durationMs: 5 },
        { entryId: 'e2', unitId: 'u1', openedAt: 2, durationMs: 5 },
      ]);
      expect(await store.removeEntry(ALICE, 'e1')).toBe(true);
      expect(await store.removeEntry(ALICE, 'e1')).toBe(false);
      expect(await store.getEntry(ALICE, 'e1')).toBeUndefined();
      expect(await store.listProgress(ALICE, 'e1')).toBeUndefined();
      expect((await store.listHistory(ALICE, { limit: 10 })).records.map((r) => r.entryId)).toEqual(['e2']);
      // adding the work again starts empty
      await store.addEntry(entryOf(ALICE, 'e1', 'm1'));
      expect(await store.listProgress(ALICE, 'e1')).toEqual([]);
      expect((await store.getEntry(ALICE, 'e1'))?.readCount).toBe(0);
      await store.close();
    });

    it('filters entries by kind, category, status, unread, text and orphaned', async () => {
      const store = await open('filters');
      await store.addCategory(ALICE, 'c1', 'Weekly');
      await store.addEntry(entryOf(ALICE, 'e1', 'm1', { title: 'One Piece', categoryIds: ['c1'] }));
      await store.addEntry(entryOf(ALICE, 'e2', 'm2', { title: 'Frieren', kind: 'anime', status: 'completed' }));
      await store.addEntry(entryOf(ALICE, 'e3', 'm3', { title: 'PIECE of Cake', kind: 'book', status: 'planned' }));
      await store.addEntry(
        entryOf(ALICE, 'e4', 'm4', { title: 'Gone', sourceId: 'src-gone', orphaned: { reason: 'uninstalled' } }),
      );
      await store.addEntry(entryOf(BOB, 'eb', 'm5', { title: 'One Piece' }));
      await store.recordUnits('src-a', 'm1', 3, 50);
      await store.recordUnits('src-a', 'm2', 2, 60);
      await store.writeProgress(
        ALICE,
        'e2',
        [
          { unitId: 'u1', read: true, clientTime: 1 },
          { unitId: 'u2', read: true, clientTime: 1 },
        ],
        10,
      );
      const list = async (query: Omit<EntryQuery, 'limit' | 'sort'>) =>
        ids(await listAll(store, ALICE, { sort: 'title', ...query }));
      expect(await list({})).toEqual(['e2', 'e4', 'e1', 'e3']);
      expect(await list({ kinds: ['anime', 'book'] })).toEqual(['e2', 'e3']);
      expect(await list({ kinds: [] })).toEqual(['e2', 'e4', 'e1', 'e3']);
      expect(await list({ categoryId: 'c1' })).toEqual(['e1']);
      expect(await list({ categoryId: 'none' })).toEqual([]);
      expect(await list({ statuses: ['completed', 'planned'] })).toEqual(['e2', 'e3']);
      expect(await list({ unreadOnly: true })).toEqual(['e1']);
      expect(await list({ text: 'piece' })).toEqual(['e1', 'e3']);
      expect(await list({ text: 'ＰＩＥＣＥ' })).toEqual(['e1', 'e3']);
      expect(await list({ text: 'zzz' })).toEqual([]);
      expect(await list({ orphanedOnly: true })).toEqual(['e4']);
      expect(await list({ text: 'piece', kinds: ['book'], statuses: ['planned'] })).toEqual(['e3']);
      await store.close();
    });

    it('sorts by every key both ways, ties by entryId, entries without the time last, paging each exactly once', async () => {
      const store = await open('sorts');
      // 23 entries: titles with ties, addedAt with ties, some never read, some never refreshed
      for (let i = 0; i < 23; i += 1) {
        const entryId = `e${String((i * 7) % 23).padStart(2, '0')}`;
        await store.addEntry(
          entryOf(ALICE, entryId, `m${i}`, {
            title: `Title ${String.fromCharCode(65 + (i % 5))}`,
            addedAt: 1_000 + (i % 4),
          }),
        );
        if (i % 3 !== 0) {
          await store.writeProgress(ALICE, entryId, [{ unitId: 'u1', position: 1, clientTime: 5_000 + (i % 6) }], 9);
        }
        if (i % 4 !== 0) await store.recordUnits('src-a', `m${i}`, 10, 7_000 + (i % 5));
      }
      await store.addEntry(entryOf(BOB, 'bob-entry', 'm0'));
      const all = await listAll(store, ALICE, { sort: 'title' });
      expect(all).toHaveLength(23);

      type Key = (e: LibraryEntry) => string | number | undefined;
      const expected = (key: Key, ascending: boolean) => {
        const present = all.filter((e) => key(e) !== undefined);
        const absent = all.filter((e) => key(e) === undefined);
        const order = (a: LibraryEntry, b: LibraryEntry) => {
          const ka = key(a) as string | number;
          const kb = key(b) as string | number;
          const byKey = ka < kb ? -1 : ka > kb ? 1 : 0;
          const byId = a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0;
          return (byKey || byId) * (ascending ? 1 : -1);
        };
        const byId = (a: LibraryEntry, b: LibraryEntry) => (a.entryId < b.entryId ? -1 : 1) * (ascending ? 1 : -1);
        return ids([...present.sort(order), ...absent.sort(byId)]);
      };
      const cases: [EntryQuery['sort'], Key, boolean][] = [
        ['title', (e) => e.title.toLowerCase(), true],
        ['added', (e) => e.addedAt, false],
        ['last_read', (e) => e.lastReadAt, false],
        ['last_updated', (e) => e.lastUnitAt, false],
      ];
      expect(all.filter((e) => e.lastReadAt === undefined).length).toBeGreaterThan(0);
      expect(all.filter((e) => e.lastUnitAt === undefined).length).toBeGreaterThan(0);
      for (const [sort, key, ascending] of cases) {
        for (const reverse of [false, true]) {
          const want = expected(key, ascending !== reverse);
          const whole = ids(await listAll(store, ALICE, { sort, reverse }, 100));
          expect(whole, `${sort} reverse=${reverse}`).toEqual(want);
          const paged = ids(await listAll(store, ALICE, { sort, reverse }, 5));
          expect(paged, `${sort} reverse=${reverse} in pages of 5`).toEqual(want);
          expect(new Set(paged).size).toBe(23);
        }
      }
      const firstPage = await store.listEntries(ALICE, { sort: 'title', limit: 23 });
      expect(firstPage.entries).toHaveLength(23);
      expect(firstPage.nextCursor).toBeUndefined();
      await store.close();
    });

    it('refuses a forged, altered or foreign cursor and a page size out of range', async () => {
      const store = await open('cursor');
      for (let i = 0; i < 3; i += 1) await store.addEntry(entryOf(ALICE, `e${i}`, `m${i}`));
      const page = await store.listEntries(ALICE, { sort: 'added', limit: 1 });
      const cursor = page.nextCursor as string;
      expect(cursor).toBeDefined();
      const forged = [
        'not a cursor',
        `${cursor}x`,
        Buffer.from('{"a":1}').toString('base64url'),
        Buffer.from('["added",0,"1000","e0"]').toString('base64url'),
        Buffer.from('["added",0,1.5,"e0"]').toString('base64url'),
        Buffer.from('["added",0,null,"e0"]').toString('base64url'),
        Buffer.from('["bogus",0,1000,"e0"]').toString('base64url'),
        Buffer.from('["added",0,1000]').toString('base64url'),
        '',
      ];
      for (const bad of forged) {
        await expect(store.listEntries(ALICE, { sort: 'added', limit: 1, cursor: bad })).rejects.toThrow(
          InvalidLibraryCursorError,
        );
      }
      // a cursor of one sort is not one of another
      await expect(store.listEntries(ALICE, { sort: 'title', limit: 1, cursor })).rejects.toThrow(
        InvalidLibraryCursorError,
      );
      await expect(store.listEntries(ALICE, { sort: 'added', reverse: true, limit: 1, cursor })).rejects.toThrow(
        InvalidLibraryCursorError,
      );
      await expect(store.listHistory(ALICE, { limit: 1, cursor: 'nope!' })).rejects.toThrow(InvalidLibraryCursorError);
      await expect(store.listEntries(ALICE, { sort: 'added', limit: 0 })).rejects.toThrow(/limit/);
      await expect(store.listHistory(ALICE, { limit: 0 })).rejects.toThrow(/limit/);
      await expect(store.listEntries(ALICE, { sort: 'added', limit: 1_001 })).rejects.toThrow(/limit/);
      await expect(store.listEntries(ALICE, { sort: 'added', limit: 1.5 })).rejects.toThrow(/limit/);
      expect((await store.listEntries(ALICE, { sort: 'added', limit: 1_000 })).entries).toHaveLength(3);
      expect((await store.listEntries(ALICE, { sort: 'added', limit: 1, cursor })).entries).toHaveLength(1);
      await store.close();
    });

    it('adds, lists, renames, reorders and removes categories', async () => {
      const store = await open('categories');
      expect(await store.addCategory(ALICE, 'c1', 'Weekly')).toEqual({
        categoryId: 'c1',
        userId: ALICE,
        name: 'Weekly',
        position: 0,
      });
      await store.addCategory(ALICE, 'c2', 'Done');
      await store.addCategory(ALICE, 'c3', 'Later');
      // a retried add is harmless; another id with a taken name is refused
      expect((await store.addCategory(ALICE, 'c1', 'Weekly')).position).toBe(0);
      await expect(store.addCategory(ALICE, 'c4', 'WEEKLY')).rejects.toThrow(CategoryNameTakenError);
      await expect(store.addCategory(ALICE, 'c1', 'Other')).rejects.toThrow(CategoryNameTakenError);
      await expect(store.renameCategory(ALICE, 'c2', 'later')).rejects.toThrow(CategoryNameTakenError);
      expect(await store.renameCategory(ALICE, 'c2', 'Finished')).toMatchObject({ name: 'Finished', position: 1 });
      expect((await store.renameCategory(ALICE, 'c2', 'FINISHED'))?.name).toBe('FINISHED');
      expect(await store.renameCategory(ALICE, 'none', 'X')).toBeUndefined();

      await store.addEntry(entryOf(ALICE, 'e1', 'm1', { categoryIds: ['c1', 'c3'] }));
      await expect(store.reorderCategories(ALICE, ['c3', 'c1'])).rejects.toThrow(UnknownCategoryError);
      await expect(store.reorderCategories(ALICE, ['c3', 'c1', 'c1'])).rejects.toThrow(UnknownCategoryError);
      await expect(store.reorderCategories(ALICE, ['c3', 'c1', 'c2', 'c9'])).rejects.toThrow(UnknownCategoryError);
      const reordered = await store.reorderCategories(ALICE, ['c3', 'c1', 'c2']);
      expect(reordered.map((c) => [c.categoryId, c.position])).toEqual([
        ['c3', 0],
        ['c1', 1],
        ['c2', 2],
      ]);
      // an entry lists its categories in the user's order
      expect((await store.getEntry(ALICE, 'e1'))?.categoryIds).toEqual(['c3', 'c1']);

      expect(await store.removeCategory(ALICE, 'c3')).toBe(true);
      expect(await store.removeCategory(ALICE, 'c3')).toBe(false);
      expect((await store.getEntry(ALICE, 'e1'))?.categoryIds).toEqual(['c1']);
      expect((await store.addCategory(ALICE, 'c5', 'Later')).position).toBe(2);
      await store.close();
      const again = await open('categories');
      expect((await again.listCategories(ALICE)).map((c) => [c.categoryId, c.name, c.position])).toEqual([
        ['c1', 'Weekly', 0],
        ['c2', 'FINISHED', 1],
        ['c5', 'Later', 2],
      ]);
      await again.close();
    });

    it('merges progress writes and keeps readCount and lastReadAt', async () => {
      const store = await open('progress');
      await store.addEntry(entryOf(ALICE, 'e1', 'm1'));
      const written = await store.writeProgress(
        ALICE,
        'e1',
        [
          { unitId: 'u1', unitNumber: 1, unitTitle: 'Start', position: 4, total: 20, clientTime: 100 },
          { unitId: 'u2', read: true, clientTime: 90 },
        ],
        1_000,
      );
      expect(written).toEqual([
        {
          entryId: 'e1',
          unitId: 'u1',
          unitNumber: 1,
          unitTitle: 'Start',
          read: false,
          position: 4,
          total: 20,
          positionAt: 100,
          readAt: 0,
          updatedAt: 1_000,
        },
        { entryId: 'e1', unitId: 'u2', read: true, position: 0, total: 0, positionAt: 0, readAt: 90, updatedAt: 1_000 },
      ]);
      expect(await store.getEntry(ALICE, 'e1')).toMatchObject({ readCount: 1, lastReadAt: 100 });

      // a retry changes nothing, not even updatedAt; an older write does not move the position
      const retried = await store.writeProgress(
        ALICE,
        'e1',
        [
          { unitId: 'u1', unitNumber: 1, unitTitle: 'Start', position: 4, total: 20, clientTime: 100 },
          { unitId: 'u1', position: 2, clientTime: 50 },
        ],
        2_000,
      );
      expect(retried).toEqual([written?.[0]]);
      // several writes of one unit apply in order; read omitted never clears it
      const later = await store.writeProgress(
        ALICE,
        'e1',
        [
          { unitId: 'u1', position: 10, clientTime: 200 },
          { unitId: 'u1', read: true, clientTime: 210 },
          { unitId: 'u2', position: 3, clientTime: 300 },
        ],
        3_000,
      );
      expect(later?.map((p) => [p.unitId, p.read, p.position, p.updatedAt])).toEqual([
        ['u1', true, 10, 3_000],
        ['u2', true, 3, 3_000],
      ]);
      expect(await store.getEntry(ALICE, 'e1')).toMatchObject({ readCount: 2, lastReadAt: 300 });
      // an explicit, newer read:false clears; an older one does not
      await store.writeProgress(ALICE, 'e1', [{ unitId: 'u2', read: false, clientTime: 80 }], 4_000);
      expect((await store.getEntry(ALICE, 'e1'))?.readCount).toBe(2);
      await store.writeProgress(ALICE, 'e1', [{ unitId: 'u2', read: false, clientTime: 400 }], 4_000);
      // a write that changed nothing does not move lastReadAt
      await store.writeProgress(ALICE, 'e1', [{ unitId: 'u1', position: 1, clientTime: 150 }], 5_000);
      expect(await store.getEntry(ALICE, 'e1')).toMatchObject({ readCount: 1, lastReadAt: 400 });
      expect(await store.writeProgress(ALICE, 'none', [{ unitId: 'u1', clientTime: 1 }], 1)).toBeUndefined();
      expect(await store.writeProgress(ALICE, 'e1', [], 6_000)).toEqual([]);
      await store.close();
      const again = await open('progress');
      expect((await again.listProgress(ALICE, 'e1'))?.map((p) => [p.unitId, p.read, p.position])).toEqual([
        ['u1', true, 10],
        ['u2', false, 3],
      ]);
      await again.close();
    });

    it('ends two clients writing one unit at once in the documented state', async () => {
      const store = await open('concurrent');
      await store.addEntry(entryOf(ALICE, 'e1', 'm1'));
      const client = async (name: 'phone' | 'tablet') => {
        for (let i = 0; i < 50; i += 1) {
          // the phone's clock is odd, the tablet's even: every write has its own time
          const clientTime = 10_000 + i * 2 + (name === 'phone' ? 1 : 0);
          const read = name === 'phone' && i === 20 ? { read: true } : {};
          await store.writeProgress(
            ALICE,
            'e1',
            [
              { unitId: 'u1', position: name === 'phone' ? i : 100 + i, total: 200, clientTime, ...read },
              { unitId: `${name}-${i % 5}`, read: true, clientTime },
            ],
            clientTime,
          );
        }
      };
      await Promise.all([client('phone'), client('tablet')]);
      const progress = await store.listProgress(ALICE, 'e1');
      // the newest clientTime is the phone's last write; its read:true of write 20 was never cleared
      expect(progress?.find((p) => p.unitId === 'u1')).toMatchObject({
        read: true,
        position: 49,
        total: 200,
        positionAt: 10_099,
        readAt: 10_041,
      });
      expect(progress).toHaveLength(11);
      expect(await store.getEntry(ALICE, 'e1')).toMatchObject({ readCount: 11, lastReadAt: 10_099 });
      await store.close();
    });

    it('loses no write of many sent at once, and adds one work at once only once', async () => {
      const store = await open('burst');
      const adds = await Promise.all([1, 2, 3, 4].map((n) => store.addEntry(entryOf(ALICE, `e${n}`, 'm1'))));
      expect(adds.filter((a) => a.created)).toHaveLength(1);
      const entryId = adds[0]?.entry.entryId as string;
      expect(new Set(adds.map((a) => a.entry.entryId))).toEqual(new Set([entryId]));
      // twenty writes in flight together; only the one with the newest clientTime may stay
      const order = [13, 2, 19, 7, 0, 11, 5, 17, 3, 9, 15, 1, 18, 6, 12, 4, 16, 8, 14, 10];
      await Promise.all(
        order.map((i) =>
          store.writeProgress(
            ALICE,
            entryId,
            [{ unitId: 'u1', position: i, clientTime: 1_000 + i, ...(i === 7 ? { read: true } : {}) }],
            5_000 + i,
          ),
        ),
      );
      expect((await store.listProgress(ALICE, entryId))?.map((p) => [p.unitId, p.position, p.read])).toEqual([
        ['u1', 19, true],
      ]);
      expect(await store.getEntry(ALICE, entryId)).toMatchObject({ readCount: 1, lastReadAt: 1_019 });
      await store.close();
    });

    it('keeps every field when progress, patches and a refresh change one entry at once', async () => {
      const store = await open('mixed');
      await store.addCategory(ALICE, 'c1', 'Weekly');
      await store.addEntry(entryOf(ALICE, 'e1', 'm1'));
      await store.addEntry(entryOf(ALICE, 'e2', 'm2'));
      const statuses = ['completed', 'on_hold', 'dropped', 'planned', 'reading'] as const;
      for (let round = 0; round < 5; round += 1) {
        // each field is changed by one call only, so whatever order they land in, all must stay
        await Promise.all([
          store.updateEntry(ALICE, 'e1', { status: statuses[round] }, 2_000 + round),
          store.updateEntry(ALICE, 'e1', { favourite: round % 2 === 0 }, 2_000 + round),
          store.updateEntry(ALICE, 'e1', { notes: `note ${round}` }, 2_000 + round),
          store.updateEntry(ALICE, 'e1', { title: `Title ${round}` }, 2_000 + round),
          store.updateEntry(ALICE, 'e1', { categoryIds: round % 2 === 0 ? ['c1'] : [] }, 2_000 + round),
          store.recordUnits('src-a', 'm1', 40 + round, 5_000 + round),
          round % 2 === 0
            ? store.linkEntries(ALICE, ['e1', 'e2'], `w${round}`, 2_000 + round)
            : store.unlinkEntry(ALICE, 'e1', 2_000 + round),
          ...[0, 1, 2, 3, 4, 5].map((unit) =>
            store.writeProgress(
              ALICE,
              'e1',
              [{ unitId: `r${round}-u${unit}`, read: true, clientTime: 100 * round + unit }],
              1_000 + round,
            ),
          ),
        ]);
        const entry = await store.getEntry(ALICE, 'e1');
        expect(entry, `round ${round}`).toMatchObject({
          status: statuses[round],
          favourite: round % 2 === 0,
          notes: `note ${round}`,
          title: `Title ${round}`,
          categoryIds: round % 2 === 0 ? ['c1'] : [],
          unitCount: 40 + round,
          lastUnitAt: 5_000 + round,
          readCount: 6 * (round + 1),
          lastReadAt: 100 * round + 5,
        });
        expect(entry?.workId, `round ${round}`).toBe(round % 2 === 0 ? 'w0' : undefined);
      }
      await store.close();
    });

    it('adds history once per (entry, unit, openedAt), keeping the longer, and pages it newest first', async () => {
      const store = await open('history');
      await store.addEntry(entryOf(ALICE, 'e1', 'm1'));
      await store.addEntry(entryOf(ALICE, 'e2', 'm2'));
      await store.addEntry(entryOf(BOB, 'eb', 'm3'));
      expect(
        await store.addHistory(ALICE, [
          { entryId: 'e1', unitId: 'u1', openedAt: 100, durationMs: 50 },
          { entryId: 'e1', unitId: 'u1', openedAt: 100, durationMs: 80 },
          { entryId: 'e1', unitId: 'u1', openedAt: 100, durationMs: 70 },
          { entryId: 'eb', unitId: 'u1', openedAt: 100, durationMs: 10 },
          { entryId: 'missing', unitId: 'u1', openedAt: 100, durationMs: 10 },
        ]),
      ).toBe(2);
      expect(await store.addHistory(ALICE, [{ entryId: 'e1', unitId: 'u1', openedAt: 100, durationMs: 80 }])).toBe(0);
      expect((await store.listHistory(BOB, { limit: 10 })).records).toEqual([]);
      const records = [];
      for (let i = 0; i < 12; i += 1) {
        records.push({
          entryId: i % 2 === 0 ? 'e1' : 'e2',
          unitId: `u${i % 3}`,
          openedAt: 200 + (i % 4),
          durationMs: i,
        });
      }
      expect(await store.addHistory(ALICE, records)).toBe(12);
      const seen = [];
      let cursor: string | undefined;
      do {
        const page = await store.listHistory(ALICE, { limit: 5, ...(cursor === undefined ? {} : { cursor }) });
        expect(page.records.length).toBeLessThanOrEqual(5);
        seen.push(...page.records);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      expect(seen).toHaveLength(13);
      expect(new Set(seen.map((r) => `${r.entryId}/${r.unitId}/${r.openedAt}`)).size).toBe(13);
      const opened = seen.map((r) => r.openedAt);
      expect(opened).toEqual([...opened].sort((a, b) => b - a));
      expect(seen.at(-1)).toEqual({ entryId: 'e1', unitId: 'u1', openedAt: 100, durationMs: 80 });
      const onlyE2 = await store.listHistory(ALICE, { entryId: 'e2', limit: 100 });
      expect(onlyE2.records).toHaveLength(6);
      expect(onlyE2.records.every((r) => r.entryId === 'e2')).toBe(true);
      await store.close();
    });

    it('links entries as one work and unlinks them', async () => {
      const store = await open('link');
      for (const n of [1, 2, 3, 4]) await store.addEntry(entryOf(ALICE, `e${n}`, `m${n}`));
      expect(await store.linkEntries(ALICE, ['e1', 'e2'], 'w1', 2_000)).toBe('w1');
      // an existing work of theirs is kept, and the works merge
      expect(await store.linkEntries(ALICE, ['e3', 'e4'], 'w2', 2_000)).toBe('w2');
      expect(await store.linkEntries(ALICE, ['e3', 'e1'], 'w3', 3_000)).toBe('w2');
      for (const n of [1, 2, 3, 4]) expect((await store.getEntry(ALICE, `e${n}`))?.workId).toBe('w2');
      expect((await store.getEntry(ALICE, 'e1'))?.updatedAt).toBe(3_000);
      expect(await store.linkEntries(ALICE, ['e1', 'missing'], 'w4', 4_000)).toBeUndefined();
      expect((await store.getEntry(ALICE, 'e1'))?.workId).toBe('w2');
      expect(await store.unlinkEntry(ALICE, 'e2', 5_000)).toBe(true);
      expect(await store.getEntry(ALICE, 'e2')).toMatchObject({ updatedAt: 5_000 });
      expect((await store.getEntry(ALICE, 'e2'))?.workId).toBeUndefined();
      expect(await store.unlinkEntry(ALICE, 'missing', 5_000)).toBe(false);
      await store.close();
    });

    it('moves an entry to another source with its progress and history', async () => {
      const store = await open('move');
      await store.addCategory(ALICE, 'c1', 'Weekly');
      await store.addEntry(
        entryOf(ALICE, 'e1', 'm1', { categoryIds: ['c1'], notes: 'n', orphaned: { reason: 'domain_moved' } }),
      );
      await store.addEntry(entryOf(ALICE, 'e2', 'taken', { sourceId: 'src-b' }));
      await store.recordUnits('src-a', 'm1', 3, 500);
      await store.writeProgress(
        ALICE,
        'e1',
        [
          { unitId: 'a1', unitNumber: 1, read: true, clientTime: 10 },
          { unitId: 'a2', unitNumber: 2, position: 7, total: 9, clientTime: 20 },
          { unitId: 'a3', unitNumber: 3, read: true, clientTime: 30 },
        ],
        100,
      );
      await store.addHistory(ALICE, [
        { entryId: 'e1', unitId: 'a1', openedAt: 10, durationMs: 5 },
        { entryId: 'e1', unitId: 'a3', openedAt: 30, durationMs: 6 },
      ]);
      const target = {
        sourceId: 'src-b',
        mediaId: 'm1b',
        title: 'Moved',
        kind: 'manga' as const,
        sourceName: 'Source B',
      };
      const mapping = new Map([
        ['a1', 'b1'],
        ['a2', 'b2'],
      ]);
      await expect(store.moveEntry(ALICE, 'e1', { ...target, mediaId: 'taken' }, mapping, 200)).rejects.toThrow(
        EntryExistsError,
      );
      expect(await store.listProgress(ALICE, 'e1')).toHaveLength(3);
      const result = await store.moveEntry(ALICE, 'e1', target, mapping, 200);
      expect(result?.moved).toBe(2);
      expect(result?.unmatched.map((p) => [p.unitId, p.read])).toEqual([['a3', true]]);
      expect(result?.entry).toMatchObject({
        entryId: 'e1',
        sourceId: 'src-b',
        mediaId: 'm1b',
        title: 'Moved',
        sourceName: 'Source B',
        categoryIds: ['c1'],
        notes: 'n',
        readCount: 1,
        updatedAt: 200,
      });
      expect(result?.entry.orphaned).toBeUndefined();
      expect((await store.listProgress(ALICE, 'e1'))?.map((p) => [p.unitId, p.read, p.position])).toEqual([
        ['b1', true, 0],
        ['b2', false, 7],
      ]);
      expect((await store.listHistory(ALICE, { limit: 10 })).records.map((r) => r.unitId)).toEqual(['a3', 'b1']);
      expect(await store.findEntry(ALICE, 'src-a', 'm1')).toBeUndefined();
      expect((await store.findEntry(ALICE, 'src-b', 'm1b'))?.entryId).toBe('e1');
      expect(await store.moveEntry(ALICE, 'missing', target, mapping, 300)).toBeUndefined();
      await store.close();
    });

    it('marks and clears orphaned entries of a source for every user', async () => {
      const store = await open('orphans');
      await store.addEntry(entryOf(ALICE, 'e1', 'm1'));
      await store.addEntry(entryOf(BOB, 'e2', 'm1'));
      await store.addEntry(entryOf(BOB, 'e3', 'm2', { sourceId: 'src-b' }));
      expect(await store.markOrphaned('src-a', { reason: 'domain_moved', detail: 'https://new.example' })).toBe(2);
      expect(await store.markOrphaned('src-a', { reason: 'domain_moved', detail: 'https://new.example' })).toBe(0);
      expect(await store.markOrphaned('src-a', { reason: 'uninstalled' })).toBe(2);
      expect((await store.getEntry(BOB, 'e2'))?.orphaned).toEqual({ reason: 'uninstalled' });
      expect((await store.getEntry(BOB, 'e3'))?.orphaned).toBeUndefined();
      expect((await store.trackedWorks()).map((w) => w.sourceId)).toEqual(['src-b']);
      expect(await store.clearOrphaned('src-a')).toBe(2);
      expect(await store.clearOrphaned('src-a')).toBe(0);
      expect((await store.getEntry(ALICE, 'e1'))?.orphaned).toBeUndefined();
      await store.close();
    });

    it('tracks the works all libraries follow and records their units on every follower', async () => {
      const store = await open('tracked');
      await store.addEntry(entryOf(ALICE, 'e1', 'm1', { addedAt: 10, status: 'completed' }));
      await store.addEntry(entryOf(BOB, 'e2', 'm1', { addedAt: 20 }));
      await store.addEntry(entryOf(ALICE, 'e3', 'm2', { addedAt: 30, status: 'completed' }));
      await store.addEntry(entryOf(BOB, 'e4', 'm3', { orphaned: { reason: 'uninstalled' } }));
      expect(await store.trackedWorks()).toEqual([
        {
          sourceId: 'src-a',
          mediaId: 'm1',
          completed: false,
          followers: [
            { userId: ALICE, entryId: 'e1', addedAt: 10 },
            { userId: BOB, entryId: 'e2', addedAt: 20 },
          ],
        },
        {
          sourceId: 'src-a',
          mediaId: 'm2',
          completed: true,
          followers: [{ userId: ALICE, entryId: 'e3', addedAt: 30 }],
        },
      ]);
      await store.updateEntry(BOB, 'e2', { status: 'completed' }, 40);
      expect((await store.trackedWorks())[0]?.completed).toBe(true);
      expect(await store.recordUnits('src-a', 'm1', 12, 9_000)).toBe(2);
      expect(await store.recordUnits('src-a', 'm1', 12, 9_000)).toBe(0);
      expect(await store.recordUnits('src-a', 'none', 12, 9_000)).toBe(0);
      expect(await store.getEntry(ALICE, 'e1')).toMatchObject({ unitCount: 12, lastUnitAt: 9_000 });
      expect(await store.getEntry(BOB, 'e2')).toMatchObject({ unitCount: 12, lastUnitAt: 9_000 });
      expect((await store.getEntry(ALICE, 'e3'))?.unitCount).toBe(0);
      expect(await store.recordUnits('src-a', 'm1', 13, undefined)).toBe(2);
      expect((await store.getEntry(BOB, 'e2'))?.lastUnitAt).toBeUndefined();
      await store.close();
    });

    it('removes a user with every entry, category, progress row and history record', async () => {
      const store = await open('remove-user');
      await store.addCategory(ALICE, 'c1', 'Weekly');
      await store.addEntry(entryOf(ALICE, 'e1', 'm1', { categoryIds: ['c1'] }));
      await store.addEntry(entryOf(ALICE, 'e2', 'm2'));
      await store.addEntry(entryOf(BOB, 'e3', 'm1'));
      await store.writeProgress(ALICE, 'e1', [{ unitId: 'u1', read: true, clientTime: 1 }], 1);
      await store.addHistory(ALICE, [{ entryId: 'e1', unitId: 'u1', openedAt: 1, durationMs: 1 }]);
      expect(await store.removeUser(ALICE)).toBe(2);
      expect(await store.removeUser(ALICE)).toBe(0);
      expect(await store.listCategories(ALICE)).toEqual([]);
      expect((await store.listEntries(ALICE, { sort: 'added', limit: 10 })).entries).toEqual([]);
      expect((await store.listHistory(ALICE, { limit: 10 })).records).toEqual([]);
      expect((await store.trackedWorks()).flatMap((w) => w.followers.map((f) => f.userId))).toEqual([BOB]);
      // the ids are free again
      await store.addCategory(ALICE, 'c1', 'Weekly');
      expect((await store.addEntry(entryOf(ALICE, 'e1', 'm1'))).created).toBe(true);
      expect(await store.listProgress(ALICE, 'e1')).toEqual([]);
      await store.close();
    });
  });
}
