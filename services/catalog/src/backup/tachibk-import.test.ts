import { Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { CatalogDatabase } from '../catalog-database.js';
import type { LibraryStore } from '../library/library-store.js';
import { SqliteLibraryStore } from '../library/sqlite-library-store.js';
import { exportBackup } from './backup-export.js';
import { BackupFormatError } from './backup-format.js';
import type { ImportOptions } from './backup-import.js';
import { backupFromTachibk, importTachibk, mihonReplacements } from './tachibk-import.js';

/** Mihon's id for MangaDex (English); past 2^53, so only a string keeps it. */
const MANGADEX = '2499283573021220255';
const GONE = '7018969093546478934';

type Build = (w: BinaryWriter) => void;

/** A length-delimited sub-message at `field`. */
function message(w: BinaryWriter, field: number, build: Build): void {
  w.tag(field, WireType.LengthDelimited).fork();
  build(w);
  w.join();
}

function tachibk(build: Build): Uint8Array {
  const w = new BinaryWriter();
  build(w);
  return gzipSync(w.finish());
}

/**
 * A Mihon backup from the field numbers: Backup{backupManga=1, backupCategories=2,
 * backupSources=101}; BackupManga{source=1, url=2, title=3, thumbnailUrl=9, dateAdded=13,
 * chapters=16, categories=17, favorite=100, history=104}; BackupChapter{url=1, name=2, read=4,
 * bookmark=5, lastPageRead=6, chapterNumber=9}; BackupCategory{name=1, order=2};
 * BackupHistory{url=1, lastRead=2, readDuration=3}; BackupSource{name=1, sourceId=2}.
 */
function mihonBackup(): Uint8Array {
  return tachibk((w) => {
    message(w, 2, (c) => c.tag(1, WireType.LengthDelimited).string('Reading').tag(2, WireType.Varint).int64(1));
    message(w, 2, (c) => c.tag(1, WireType.LengthDelimited).string('Weekly').tag(2, WireType.Varint).int64(2));
    message(w, 1, (m) => {
      m.tag(1, WireType.Varint).int64(MANGADEX);
      m.tag(2, WireType.LengthDelimited).string('/title/abc');
      m.tag(3, WireType.LengthDelimited).string('Blue Period');
      m.tag(9, WireType.LengthDelimited).string('https://img.example/abc.jpg');
      m.tag(13, WireType.Varint).int64(1_690_000_000_000);
      const chapter = (url: string, name: string, number: number, build: Build) =>
        message(m, 16, (c) => {
          c.tag(1, WireType.LengthDelimited).string(url);
          c.tag(2, WireType.LengthDelimited).string(name);
          c.tag(9, WireType.Bit32).float(number);
          build(c);
        });
      chapter('/chapter/1', 'Ch. 1', 1, (c) => c.tag(4, WireType.Varint).bool(true));
      chapter('/chapter/2', 'Ch. 2', 2, (c) => c.tag(6, WireType.Varint).int64(7));
      chapter('/chapter/3', 'Ch. 3', 3, (c) => c.tag(5, WireType.Varint).bool(true)); // bookmarked only
      chapter('/chapter/x', 'Extra', -1, (c) => c.tag(4, WireType.Varint).bool(true));
      m.tag(17, WireType.LengthDelimited).fork().int64(1).int64(2).join();
      const history = (url: string, lastRead: number, duration: number) =>
        message(m, 104, (h) => {
          h.tag(1, WireType.LengthDelimited).string(url);
          h.tag(2, WireType.Varint).int64(lastRead);
          h.tag(3, WireType.Varint).int64(duration);
        });
      history('/chapter/1', 1_690_000_100_000, 300_000);
      history('/chapter/1', 1_690_000_500_000, 60_000); // the latest read of chapter 1
      history('/chapter/2', 1_690_000_200_000, 10_000);
    });
    message(w, 1, (m) => {
      m.tag(1, WireType.Varint).int64(GONE);
      m.tag(2, WireType.LengthDelimited).string('/manga/old');
      m.tag(3, WireType.LengthDelimited).string('Dropped from the library');
      m.tag(17, WireType.Varint).int64(2);
      m.tag(100, WireType.Varint).bool(false);
    });
    message(w, 101, (s) =>
      s.tag(1, WireType.LengthDelimited).string('MangaDex').tag(2, WireType.Varint).int64(MANGADEX),
    );
    message(w, 101, (s) => s.tag(1, WireType.LengthDelimited).string('Old Site').tag(2, WireType.Varint).int64(GONE));
  });
}

const replacements = mihonReplacements([
  { sourceId: 'mangadex', name: 'MangaDex (aWASM)', replaces: [{ mihonSourceId: MANGADEX, name: 'MangaDex' }] },
  { sourceId: 'demo-library', name: 'Demo Library' },
]);

const databases: CatalogDatabase[] = [];
afterEach(() => {
  for (const db of databases.splice(0)) db.close();
});

function freshStore(): LibraryStore {
  const db = CatalogDatabase.open(':memory:');
  databases.push(db);
  return new SqliteLibraryStore(db);
}

let counter = 0;
const options = (): ImportOptions => ({
  installedSources: new Set(['mangadex', 'demo-library']),
  now: 1_800_000_000_000,
  newId: () => `id-${++counter}`,
});

async function refusal(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(BackupFormatError);
    return (error as Error).message;
  }
  throw new Error('expected a BackupFormatError');
}

describe('importTachibk', () => {
  it('imports a Mihon backup with its categories, read chapters and history', async () => {
    const store = freshStore();
    const report = await importTachibk(store, 'bob', mihonBackup(), replacements, options());
    expect(report).toEqual({
      entriesAdded: 2,
      entriesExisting: 0,
      categoriesAdded: 2,
      progressChanged: 3,
      historyAdded: 2,
      orphaned: 1,
      worksLinked: 0,
    });
    const doc = await exportBackup(store, 'bob', 0);
    expect(doc.categories.map((c) => [c.name, c.position])).toEqual([
      ['Reading', 0],
      ['Weekly', 1],
    ]);
    const [reading, weekly] = doc.categories.map((c) => c.id);
    const blue = doc.entries.find((e) => e.mediaId === '/title/abc');
    const old = doc.entries.find((e) => e.mediaId === '/manga/old');
    expect(blue).toMatchObject({
      sourceId: 'mangadex',
      mediaId: '/title/abc',
      sourceName: 'MangaDex (aWASM)',
      title: 'Blue Period',
      kind: 'manga',
      coverUrl: 'https://img.example/abc.jpg',
      status: 'reading',
      favourite: true,
      addedAt: 1_690_000_000_000,
      categoryIds: [reading, weekly],
    });
    expect(blue?.orphaned).toBeUndefined();
    expect(blue?.progress).toEqual([
      {
        unitId: '/chapter/1',
        unitNumber: 1,
        unitTitle: 'Ch. 1',
        read: true,
        position: 0,
        total: 0,
        positionAt: 0,
        readAt: 1_690_000_500_000,
      },
      {
        unitId: '/chapter/2',
        unitNumber: 2,
        unitTitle: 'Ch. 2',
        read: false,
        position: 7,
        total: 0,
        positionAt: 1_690_000_200_000,
        readAt: 0,
      },
      { unitId: '/chapter/x', unitTitle: 'Extra', read: true, position: 0, total: 0, positionAt: 0, readAt: 0 },
    ]);
    expect(blue?.history).toEqual([
      { unitId: '/chapter/2', openedAt: 1_690_000_200_000, durationMs: 10_000 },
      { unitId: '/chapter/1', openedAt: 1_690_000_500_000, durationMs: 60_000 },
    ]);
    expect(old).toMatchObject({
      sourceId: `mihon:${GONE}`,
      mediaId: '/manga/old',
      sourceName: 'Old Site',
      favourite: false,
      status: 'planned',
      categoryIds: [weekly],
      orphaned: { reason: 'unknown_source', detail: 'Old Site' },
    });
  });

  it('imports the same backup twice without changing anything the second time', async () => {
    const store = freshStore();
    await importTachibk(store, 'bob', mihonBackup(), replacements, options());
    const before = await exportBackup(store, 'bob', 0);
    const second = await importTachibk(store, 'bob', mihonBackup(), replacements, options());
    expect(second).toMatchObject({ entriesAdded: 0, entriesExisting: 2, progressChanged: 0, historyAdded: 0 });
    expect(await exportBackup(store, 'bob', 0)).toEqual(before);
  });

  it('never clears a read flag the library has', async () => {
    const store = freshStore();
    await importTachibk(store, 'bob', mihonBackup(), replacements, options());
    const entry = (await store.findEntry('bob', 'mangadex', '/title/abc'))?.entryId as string;
    await store.writeProgress('bob', entry, [{ unitId: '/chapter/2', read: true, clientTime: 1 }], 2);
    await importTachibk(store, 'bob', mihonBackup(), replacements, options());
    const rows = await store.listProgress('bob', entry);
    expect(rows?.find((p) => p.unitId === '/chapter/2')?.read).toBe(true);
  });

  it('maps two categories of one name in different cases to one, and ignores unknown orders', async () => {
    const bytes = tachibk((w) => {
      message(w, 2, (c) => c.tag(1, WireType.LengthDelimited).string('Later').tag(2, WireType.Varint).int64(1));
      message(w, 2, (c) => c.tag(1, WireType.LengthDelimited).string('LATER').tag(2, WireType.Varint).int64(2));
      message(w, 1, (m) => {
        m.tag(1, WireType.Varint).int64(MANGADEX);
        m.tag(2, WireType.LengthDelimited).string('/a');
        m.tag(3, WireType.LengthDelimited).string('A');
        m.tag(17, WireType.LengthDelimited).fork().int64(2).int64(1).int64(99).join();
      });
    });
    const store = freshStore();
    await importTachibk(store, 'bob', bytes, replacements, options());
    const categories = await store.listCategories('bob');
    expect(categories.map((c) => c.name)).toEqual(['Later']);
    expect((await store.findEntry('bob', 'mangadex', '/a'))?.categoryIds).toEqual([categories[0]?.categoryId]);
  });

  it('names the manga when a field does not fit the library, e.g. a title past 1,000 characters', async () => {
    const decoded = {
      mangas: [
        {
          source: MANGADEX,
          url: '/a',
          title: 't'.repeat(1001),
          genres: [],
          status: 0,
          dateAdded: 0,
          chapters: [],
          categories: [],
          favorite: true,
          history: [],
        },
      ],
      categories: [],
      sources: [],
    };
    expect(() => backupFromTachibk(decoded, replacements, 0)).toThrow(
      'entries[0].title: must be at most 1000 characters, got 1001 (in the .tachibk, entries[i] is backupManga[i])',
    );
  });

  describe('refuses hostile and broken files whole, with nothing stored changed', () => {
    /** 128 MiB of zeros in a few hundred KiB of gzip: twice the inflate cap */
    const bomb = async () => {
      const zeros = Buffer.alloc(1024 * 1024);
      const chunks: Buffer[] = [];
      const gzip = Readable.from(
        (function* () {
          for (let i = 0; i < 128; i++) yield zeros;
        })(),
      ).pipe(createGzip());
      for await (const chunk of gzip) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };

    const whole = mihonBackup();
    const raw = (build: Build) => {
      const w = new BinaryWriter();
      build(w);
      return w.finish();
    };
    // a manga, then a title claiming 4 GiB of which a few bytes follow
    const hugeLength = gzipSync(
      Buffer.concat([
        raw((w) => message(w, 1, (m) => m.tag(2, WireType.LengthDelimited).string('/ok'))),
        raw((w) => w.tag(1, WireType.LengthDelimited).uint32(0xffff_fff0)),
        Buffer.from('abc'),
      ]),
    );
    const truncated = gzipSync(
      raw((w) => {
        message(w, 1, (m) => m.tag(2, WireType.LengthDelimited).string('/ok'));
        message(w, 1, (m) => {
          m.tag(2, WireType.LengthDelimited).string('/cut');
          m.tag(3, WireType.LengthDelimited).string('A title cut short');
        });
      }).subarray(0, -5),
    );

    it.each([
      ['a gzip bomb', bomb, 'backup: inflated size exceeds the cap of 67108864 bytes'],
      ['a truncated protobuf', () => truncated, 'backupManga[1]: truncated'],
      ['a huge string length prefix', () => hugeLength, 'backupManga[1]: truncated'],
      [
        'a JSON backup',
        () => new TextEncoder().encode('{"format":"awasm-backup"}'),
        'backup: not a .tachibk (gzip) file',
      ],
      ['a gzip stream cut short', () => whole.subarray(0, whole.length - 10), /^backup: not a valid gzip stream/],
    ])('%s', async (_name, bytes, error) => {
      const store = freshStore();
      await importTachibk(store, 'bob', mihonBackup(), replacements, options());
      const before = await exportBackup(store, 'bob', 0);
      const input = await bytes();
      const message = await refusal(() =>
        importTachibk(store, 'bob', input, replacements, { ...options(), installedSources: new Set() }),
      );
      if (typeof error === 'string') expect(message).toBe(error);
      else expect(message).toMatch(error);
      expect(await exportBackup(store, 'bob', 0)).toEqual(before);
    });
  });
});

describe('mihonReplacements', () => {
  it('maps each declared Mihon id to its plugin, the smaller source id winning a tie', () => {
    const map = mihonReplacements([
      { sourceId: 'zeta', name: 'Zeta', replaces: [{ mihonSourceId: '1', name: 'One' }] },
      {
        sourceId: 'alpha',
        name: 'Alpha',
        replaces: [
          { mihonSourceId: '1', name: 'One' },
          { mihonSourceId: '2', name: 'Two' },
        ],
      },
    ]);
    expect([...map]).toEqual([
      ['1', { sourceId: 'alpha', sourceName: 'Alpha' }],
      ['2', { sourceId: 'alpha', sourceName: 'Alpha' }],
    ]);
  });
});
