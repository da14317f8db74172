import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { LibraryStore } from '../library/library-store.js';
import { exportBackup } from './backup-export.js';
import type { BackupDocument } from './backup-format.js';
import { type ImportOptions, importBackup } from './backup-import.js';
import { BACKUP_SCHEMA_PATH } from './backup-schema.js';
import { sampleBackup } from './testing/sample-backup.js';

const schema = JSON.parse(
  readFileSync(fileURLToPath(new URL(`../../../../${BACKUP_SCHEMA_PATH}`, import.meta.url)), 'utf8'),
);
const matchesSchema = new Ajv2020({ strict: true, allErrors: true }).compile(schema);

let counter = 0;
function options(extra: Partial<ImportOptions> = {}): ImportOptions {
  return {
    installedSources: new Set(['demo-library', 'other-source']),
    now: 1_800_000_000_000,
    newId: () => `id-${++counter}`,
    ...extra,
  };
}

/** User A's library, made through the store's own API. */
async function seed(store: LibraryStore, userId: string): Promise<void> {
  await store.addCategory(userId, 'cat-a', 'Reading');
  await store.addCategory(userId, 'cat-b', 'Done');
  const entry = (entryId: string, sourceId: string, mediaId: string, addedAt: number) => ({
    entryId,
    userId,
    sourceId,
    mediaId,
    title: `Title ${mediaId}`,
    kind: 'manga' as const,
    sourceName: sourceId,
    addedAt,
  });
  await store.addEntry({
    ...entry('ea1', 'demo-library', 'm1', 1_000),
    coverUrl: 'https://img.example/m1.jpg',
    status: 'completed',
    favourite: true,
    notes: 'loved it',
    categoryIds: ['cat-a', 'cat-b'],
  });
  await store.addEntry(entry('ea2', 'other-source', 'm1', 2_000));
  await store.addEntry({
    ...entry('ea3', 'gone-source', 'm3', 3_000),
    orphaned: { reason: 'unknown_source', detail: 'Gone' },
  });
  await store.linkEntries(userId, ['ea1', 'ea2'], 'work-1', 5_000);
  await store.writeProgress(
    userId,
    'ea1',
    [
      { unitId: 'u1', unitNumber: 1, unitTitle: 'One', position: 12, total: 12, clientTime: 10_000 },
      { unitId: 'u1', read: true, clientTime: 11_000 },
      { unitId: 'u2', unitNumber: 2, position: 4, total: 30, clientTime: 12_000 },
      { unitId: 'u3', read: true, clientTime: 13_000 },
      { unitId: 'u3', read: false, clientTime: 14_000 },
    ],
    20_000,
  );
  await store.addHistory(userId, [
    { entryId: 'ea1', unitId: 'u1', openedAt: 9_000, durationMs: 60_000 },
    { entryId: 'ea1', unitId: 'u2', openedAt: 11_500, durationMs: 5_000 },
    { entryId: 'ea2', unitId: 'x1', openedAt: 8_000, durationMs: 1 },
  ]);
}

/** The backup with every id replaced by its order of first appearance, so two servers' exports compare. */
function canonical(doc: BackupDocument): unknown {
  const names = new Map<string, string>();
  const name = (kind: string, id: string) => {
    const key = `${kind}:${id}`;
    if (!names.has(key)) names.set(key, `${kind}-${names.size}`);
    return names.get(key) as string;
  };
  return {
    ...doc,
    exportedAt: 0,
    categories: doc.categories.map((c) => ({ ...c, id: name('category', c.id) })),
    entries: doc.entries.map((e) => ({
      ...e,
      id: name('entry', e.id),
      categoryIds: e.categoryIds.map((id) => name('category', id)),
      ...(e.workId === undefined ? {} : { workId: name('work', e.workId) }),
    })),
  };
}

/** Everything a user's import could change, server times included. */
async function snapshot(store: LibraryStore, userId: string): Promise<unknown> {
  const page = await store.listEntries(userId, { sort: 'added', limit: 1000 });
  return {
    categories: await store.listCategories(userId),
    entries: page.entries,
    progress: await Promise.all(page.entries.map((e) => store.listProgress(userId, e.entryId))),
    history: await store.listHistory(userId, { limit: 1000 }),
  };
}

/**
 * Export and import against one LibraryStore implementation; `open` gives a fresh, empty store
 * for each name (SQLite and MongoDB run the same cases).
 */
export function backupContract(label: string, open: (name: string) => Promise<LibraryStore>): void {
  const stores: LibraryStore[] = [];
  let made = 0;
  const freshStore = async () => {
    const store = await open(`backup-${++made}`);
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });

  describe(`backups on ${label}`, () => {
    describe('exportBackup', () => {
      it('exports categories, entries, progress, history, works and orphans, matching the schema', async () => {
        const store = await freshStore();
        await seed(store, 'alice');
        const doc = await exportBackup(store, 'alice', 42);
        expect(matchesSchema(doc), JSON.stringify(matchesSchema.errors)).toBe(true);
        expect(doc.exportedAt).toBe(42);
        expect(doc.categories).toEqual([
          { id: 'cat-a', name: 'Reading', position: 0 },
          { id: 'cat-b', name: 'Done', position: 1 },
        ]);
        expect(doc.entries.map((e) => e.id)).toEqual(['ea1', 'ea2', 'ea3']);
        const [first, second, third] = doc.entries;
        expect(first).toMatchObject({
          status: 'completed',
          favourite: true,
          notes: 'loved it',
          coverUrl: 'https://img.example/m1.jpg',
          categoryIds: ['cat-a', 'cat-b'],
          workId: 'work-1',
        });
        expect(first?.progress).toEqual([
          {
            unitId: 'u1',
            unitNumber: 1,
            unitTitle: 'One',
            read: true,
            position: 12,
            total: 12,
            positionAt: 10_000,
            readAt: 11_000,
          },
          { unitId: 'u2', unitNumber: 2, read: false, position: 4, total: 30, positionAt: 12_000, readAt: 0 },
          { unitId: 'u3', read: false, position: 0, total: 0, positionAt: 0, readAt: 14_000 },
        ]);
        expect(first?.history).toEqual([
          { unitId: 'u1', openedAt: 9_000, durationMs: 60_000 },
          { unitId: 'u2', openedAt: 11_500, durationMs: 5_000 },
        ]);
        expect(second?.workId).toBe('work-1');
        expect(third?.orphaned).toEqual({ reason: 'unknown_source', detail: 'Gone' });
      });

      it('exports an empty library as a valid backup', async () => {
        const doc = await exportBackup(await freshStore(), 'nobody', 1);
        expect(matchesSchema(doc)).toBe(true);
        expect(doc).toEqual({ format: 'awasm-backup', version: 1, exportedAt: 1, categories: [], entries: [] });
      });

      it('keeps the longest ids a source may use, and cuts cached metadata past the caps rather than fail', async () => {
        const store = await freshStore();
        const longId = 'm'.repeat(2048);
        await store.addEntry({
          entryId: 'e1',
          userId: 'alice',
          sourceId: 'demo-library',
          mediaId: longId,
          title: `${'狼'.repeat(999)}🐺🐺`,
          kind: 'book',
          coverUrl: `https://img.example/${'c'.repeat(5000)}`,
          sourceName: 'Demo Library',
          addedAt: 1,
        });
        await store.writeProgress('alice', 'e1', [{ unitId: longId, read: true, clientTime: 2 }], 3);
        const doc = await exportBackup(store, 'alice', 4);
        expect(matchesSchema(doc), JSON.stringify(matchesSchema.errors)).toBe(true);
        const [entry] = doc.entries;
        expect(entry?.mediaId).toBe(longId);
        expect(entry?.progress[0]?.unitId).toBe(longId);
        expect(entry?.title).toBe(`${'狼'.repeat(999)}🐺`);
        expect(entry?.coverUrl).toBeUndefined();
      });
    });

    describe('importBackup', () => {
      it('round-trips: export A, import as B on a fresh server, export B gives the same backup', async () => {
        const a = await freshStore();
        await seed(a, 'alice');
        const exported = await exportBackup(a, 'alice', 1);
        const b = await freshStore();
        const report = await importBackup(b, 'bob', exported, options());
        expect(report).toEqual({
          entriesAdded: 3,
          entriesExisting: 0,
          categoriesAdded: 2,
          progressChanged: 3,
          historyAdded: 3,
          orphaned: 1,
          worksLinked: 1,
        });
        const again = await exportBackup(b, 'bob', 2);
        expect(matchesSchema(again)).toBe(true);
        expect(canonical(again)).toEqual(canonical(exported));
        expect(await b.listCategories('alice')).toEqual([]);
      });

      it('is idempotent: a second import reports only existing entries and changes nothing, server times included', async () => {
        const store = await freshStore();
        const doc = sampleBackup();
        await importBackup(store, 'bob', doc, options());
        const before = await snapshot(store, 'bob');
        const second = await importBackup(store, 'bob', doc, options({ now: 1_900_000_000_000 }));
        expect(second).toEqual({
          entriesAdded: 0,
          entriesExisting: 2,
          categoriesAdded: 0,
          progressChanged: 0,
          historyAdded: 0,
          orphaned: 0,
          worksLinked: 0,
        });
        expect(await snapshot(store, 'bob')).toEqual(before);
      });

      it('keeps entries of sources that are not installed as orphaned with the source’s name', async () => {
        const store = await freshStore();
        const report = await importBackup(store, 'bob', sampleBackup(), options({ installedSources: new Set() }));
        expect(report.orphaned).toBe(2);
        const entries = (await store.listEntries('bob', { sort: 'title', limit: 10 })).entries;
        expect(entries.map((e) => e.orphaned)).toEqual([
          { reason: 'unknown_source', detail: 'Other Source' },
          { reason: 'unknown_source', detail: 'Demo Library' },
        ]);
        // installed, an entry keeps a moved domain but no other reason
        const installed = await freshStore();
        await importBackup(installed, 'bob', sampleBackup(), options());
        const kept = (await installed.listEntries('bob', { sort: 'title', limit: 10 })).entries;
        expect(kept.map((e) => e.orphaned)).toEqual([
          { reason: 'domain_moved', detail: 'https://new.example' },
          undefined,
        ]);
      });

      it('matches existing entries and categories: keeps the library’s fields, adds the file’s categories, merges progress', async () => {
        const store = await freshStore();
        await store.addCategory('bob', 'mine', 'reading'); // the file's "Reading", in another case
        await store.addCategory('bob', 'own', 'Own');
        await store.addEntry({
          entryId: 'bob-1',
          userId: 'bob',
          sourceId: 'demo-library',
          mediaId: 'book-1',
          title: 'My title',
          kind: 'manga',
          sourceName: 'Demo Library',
          addedAt: 5,
          status: 'on_hold',
          notes: 'mine',
          categoryIds: ['own'],
        });
        // newer than the file: the file's u-2 position (3 at 1_700_000_200_000) must not win
        await store.writeProgress('bob', 'bob-1', [{ unitId: 'u-2', position: 9, clientTime: 1_700_000_300_000 }], 7);
        const report = await importBackup(store, 'bob', sampleBackup(), options());
        // u-1 is new; u-2 keeps its newer position but gains the file's unit number, which fills a gap
        expect(report).toMatchObject({ entriesAdded: 1, entriesExisting: 1, categoriesAdded: 1, progressChanged: 2 });

        const entry = await store.getEntry('bob', 'bob-1');
        expect(entry).toMatchObject({ title: 'My title', status: 'on_hold', notes: 'mine', addedAt: 5 });
        const categories = await store.listCategories('bob');
        expect(categories.map((c) => c.name)).toEqual(['reading', 'Own', 'Later']);
        expect(entry?.categoryIds).toEqual(['mine', 'own', categories[2]?.categoryId]);
        const progress = await store.listProgress('bob', 'bob-1');
        expect(progress?.map((p) => [p.unitId, p.read, p.position, p.unitNumber])).toEqual([
          ['u-1', true, 20, 1],
          ['u-2', false, 9, 1.5],
        ]);
      });

      it('refuses, before any write, a file that would give the user more categories than the library allows', async () => {
        const store = await freshStore();
        for (let i = 0; i < 499; i++) await store.addCategory('bob', `own-${i}`, `Own ${i}`);
        const before = await snapshot(store, 'bob');
        await expect(importBackup(store, 'bob', sampleBackup(), options())).rejects.toThrow(
          'categories: the library would have 501 categories, more than the 500 it may have',
        );
        expect(await snapshot(store, 'bob')).toEqual(before);
      });

      it('plans a dry run with the same report and writes nothing', async () => {
        const store = await freshStore();
        await seed(store, 'bob');
        const before = await snapshot(store, 'bob');
        const dry = await importBackup(store, 'bob', sampleBackup(), options({ dryRun: true }));
        expect(await snapshot(store, 'bob')).toEqual(before);
        expect(await importBackup(store, 'bob', sampleBackup(), options())).toEqual(dry);
        expect(dry.entriesAdded).toBe(2);
      });

      it('writes only the importing user’s library', async () => {
        const store = await freshStore();
        await seed(store, 'alice');
        const before = await snapshot(store, 'alice');
        await importBackup(store, 'bob', await exportBackup(store, 'alice', 1), options());
        expect(await snapshot(store, 'alice')).toEqual(before);
        expect((await store.listEntries('bob', { sort: 'added', limit: 10 })).entries).toHaveLength(3);
      });
    });
  });
}
