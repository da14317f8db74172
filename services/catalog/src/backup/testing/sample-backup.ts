import type { BackupDocument } from '../backup-format.js';

/** A backup using every field of the format at least once. */
export function sampleBackup(): BackupDocument {
  return {
    format: 'awasm-backup',
    version: 1,
    exportedAt: 1_700_000_900_000,
    categories: [
      { id: 'c-reading', name: 'Reading', position: 0 },
      { id: 'c-later', name: 'Later', position: 1 },
    ],
    entries: [
      {
        id: 'e-1',
        sourceId: 'demo-library',
        mediaId: 'book-1',
        sourceName: 'Demo Library',
        title: 'Ōkami – 狼 [vol. 1]',
        kind: 'manga',
        coverUrl: 'https://img.example/1.jpg',
        status: 'reading',
        favourite: true,
        notes: 'with "quotes" and [brackets] {braces}',
        categoryIds: ['c-reading', 'c-later'],
        addedAt: 1_700_000_000_000,
        workId: 'w-1',
        progress: [
          {
            unitId: 'u-1',
            unitNumber: 1,
            unitTitle: 'Chapter 1',
            read: true,
            position: 20,
            total: 20,
            positionAt: 1_700_000_100_000,
            readAt: 1_700_000_100_000,
          },
          {
            unitId: 'u-2',
            unitNumber: 1.5,
            read: false,
            position: 3,
            total: 0,
            positionAt: 1_700_000_200_000,
            readAt: 0,
          },
        ],
        history: [
          { unitId: 'u-1', openedAt: 1_700_000_050_000, durationMs: 60_000 },
          { unitId: 'u-2', openedAt: 1_700_000_150_000, durationMs: 0 },
        ],
      },
      {
        id: 'e-2',
        sourceId: 'other-source',
        mediaId: 'book-1',
        sourceName: 'Other Source',
        title: 'Ōkami',
        kind: 'book',
        status: 'planned',
        favourite: false,
        notes: '',
        categoryIds: [],
        addedAt: 1_700_000_300_000,
        workId: 'w-1',
        orphaned: { reason: 'domain_moved', detail: 'https://new.example' },
        progress: [],
        history: [],
      },
    ],
  };
}

/**
 * A copy of the document with the value at `path` replaced (or removed, for undefined), to build
 * bad inputs of any type without casts.
 */
export function edited(doc: BackupDocument, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(doc) as unknown;
  let at = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

/** Structurally bad backups, the error validateBackup gives, and so what the schema must refuse too. */
export function badBackups(): [name: string, value: unknown, error: string][] {
  const doc = sampleBackup();
  const e = (i: number, ...rest: (string | number)[]) => ['entries', i, ...rest];
  return [
    ['not an object', [doc], 'backup: must be an object, got an array'],
    ['another format', edited(doc, ['format'], 'tachiyomi'), 'format: must be "awasm-backup", got "tachiyomi"'],
    ['a newer version', edited(doc, ['version'], 2), 'version: must be 1 (the version this server reads), got 2'],
    ['no entries', edited(doc, ['entries'], undefined), 'entries: is required'],
    ['an unknown top-level field', edited(doc, ['owner'], 'alice'), 'owner: unknown field'],
    ['an unknown entry field', edited(doc, e(1, 'rating'), 5), 'entries[1].rating: unknown field'],
    ['entries as an object', edited(doc, ['entries'], {}), 'entries: must be an array, got an object'],
    [
      'a position as a string',
      edited(doc, e(0, 'progress', 0, 'position'), '20'),
      'entries[0].progress[0].position: must be a finite number >= 0, got "20"',
    ],
    [
      'a negative position',
      edited(doc, e(0, 'progress', 1, 'position'), -1),
      'entries[0].progress[1].position: must be a finite number >= 0, got -1',
    ],
    [
      'a fractional time',
      edited(doc, e(0, 'history', 0, 'openedAt'), 1.5),
      'entries[0].history[0].openedAt: must be an integer from 0 to 9007199254740991, got 1.5',
    ],
    [
      'a time past 2^53',
      edited(doc, e(0, 'addedAt'), 2 ** 53),
      'entries[0].addedAt: must be an integer from 0 to 9007199254740991, got 9007199254740992',
    ],
    [
      'read as a string',
      edited(doc, e(0, 'progress', 0, 'read'), 'yes'),
      'entries[0].progress[0].read: must be true or false, got a string',
    ],
    [
      'an unknown status',
      edited(doc, e(1, 'status'), 'watching'),
      'entries[1].status: must be one of reading, completed, on_hold, dropped, planned, got "watching"',
    ],
    [
      'an unknown orphan reason',
      edited(doc, e(1, 'orphaned', 'reason'), 'gone'),
      'entries[1].orphaned.reason: must be one of uninstalled, domain_moved, unknown_source, got "gone"',
    ],
    ['an empty id', edited(doc, e(0, 'id'), ''), 'entries[0].id: must not be empty'],
    [
      'an id over 256 characters',
      edited(doc, e(0, 'sourceId'), 's'.repeat(257)),
      'entries[0].sourceId: must be at most 256 characters, got 257',
    ],
    [
      'a media id over 2,048 characters',
      edited(doc, e(0, 'mediaId'), 'm'.repeat(2049)),
      'entries[0].mediaId: must be at most 2048 characters, got 2049',
    ],
    [
      'a unit id over 2,048 characters',
      edited(doc, e(0, 'history', 1, 'unitId'), 'u'.repeat(2049)),
      'entries[0].history[1].unitId: must be at most 2048 characters, got 2049',
    ],
    [
      'a title over 1,000 characters',
      edited(doc, e(0, 'title'), 't'.repeat(1001)),
      'entries[0].title: must be at most 1000 characters, got 1001',
    ],
    [
      'a blank category name',
      edited(doc, ['categories', 0, 'name'], ' \t'),
      'categories[0].name: must not be empty or blank',
    ],
    [
      'notes over 10,000 characters',
      edited(doc, e(0, 'notes'), 'n'.repeat(10_001)),
      'entries[0].notes: must be at most 10000 characters, got 10001',
    ],
    [
      'a missing unit id',
      edited(doc, e(0, 'progress', 1, 'unitId'), undefined),
      'entries[0].progress[1].unitId: is required',
    ],
    [
      'a category name over 100 characters',
      edited(doc, ['categories', 0, 'name'], 'c'.repeat(101)),
      'categories[0].name: must be at most 100 characters, got 101',
    ],
    [
      'a history record open for more than a week',
      edited(doc, e(0, 'history', 0, 'durationMs'), 604_800_001),
      'entries[0].history[0].durationMs: must be an integer from 0 to 604800000, got 604800001',
    ],
    [
      'a category without a name',
      edited(doc, ['categories', 1, 'name'], null),
      'categories[1].name: must be a string, got null',
    ],
    [
      'a category id listed twice in an entry',
      edited(doc, e(0, 'categoryIds'), ['c-later', 'c-later']),
      'entries[0].categoryIds[1]: "c-later" is listed twice',
    ],
  ];
}

/** Backups only validateBackup refuses: what JSON Schema cannot say (uniqueness of fields, references). */
export function semanticallyBadBackups(): [name: string, value: unknown, error: string][] {
  const doc = sampleBackup();
  return [
    ['a duplicate entry id', edited(doc, ['entries', 1, 'id'], 'e-1'), 'entries[1].id: duplicate of entries[0].id'],
    [
      'a duplicate (source, media)',
      edited(doc, ['entries', 1, 'sourceId'], 'demo-library'),
      'entries[1]: duplicate of entries[0] (the same sourceId and mediaId)',
    ],
    [
      'a duplicate category name in another case and spacing',
      edited(doc, ['categories', 1, 'name'], ' READING '),
      'categories[1].name: duplicate of categories[0].name (names compare ignoring case and spacing)',
    ],
    [
      'a duplicate category id',
      edited(doc, ['categories', 1, 'id'], 'c-reading'),
      'categories[1].id: duplicate of categories[0].id',
    ],
    [
      'a category id no category defines',
      edited(doc, ['entries', 0, 'categoryIds'], ['c-reading', 'c-gone']),
      'entries[0].categoryIds[1]: no category with id "c-gone" in categories',
    ],
    [
      'a unit with two progress rows',
      edited(doc, ['entries', 0, 'progress', 1, 'unitId'], 'u-1'),
      'entries[0].progress[1].unitId: duplicate of entries[0].progress[0].unitId',
    ],
  ];
}
