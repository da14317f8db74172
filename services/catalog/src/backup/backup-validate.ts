import { LIBRARY_STATUSES } from '../library/library-store.js';
import { foldText } from '../library/library-text.js';
import {
  BACKUP_FORMAT,
  BACKUP_LIMITS,
  BACKUP_MEDIA_KINDS,
  BACKUP_ORPHAN_REASONS,
  BACKUP_VERSION,
  type BackupCategory,
  type BackupDocument,
  type BackupEntry,
  BackupFormatError,
  type BackupHistory,
  type BackupOrphaned,
  type BackupProgress,
} from './backup-format.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Longest part of a refused value quoted back in an error. */
const MAX_QUOTED = 64;

/**
 * Parses an awasm backup file and validates all of it (validateBackup) before anything may be
 * written. The size is checked on the raw bytes and the nesting on the raw text, so neither a
 * huge file nor a deeply nested one ever reaches JSON.parse.
 */
export function parseBackupJson(bytes: Uint8Array): BackupDocument {
  if (bytes.length > BACKUP_LIMITS.maxBytes) {
    throw new BackupFormatError(`backup: ${bytes.length} bytes exceeds the cap of ${BACKUP_LIMITS.maxBytes} bytes`);
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new BackupFormatError('backup: not UTF-8 text');
  }
  checkNesting(text, BACKUP_LIMITS.maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BackupFormatError(`backup: not valid JSON (${(error as Error).message})`);
  }
  return validateBackup(value);
}

/** Refuses text whose arrays and objects nest deeper than `maxDepth`, without parsing it. */
export function checkNesting(text: string, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character, a quote among them
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) {
        throw new BackupFormatError(`backup: nested deeper than ${maxDepth} levels (at character ${i})`);
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
}

/**
 * Checks a parsed backup field by field in document order and returns a copy holding only the
 * format's fields. The first problem throws BackupFormatError naming the field's path, as in
 * `entries[3].progress[0].position: must be a finite number >= 0`.
 */
export function validateBackup(value: unknown): BackupDocument {
  const doc = object(value, 'backup', ['format', 'version', 'exportedAt', 'categories', 'entries']);
  if (doc.format !== BACKUP_FORMAT) {
    throw new BackupFormatError(`format: must be "${BACKUP_FORMAT}", got ${describe(doc.format)}`);
  }
  if (doc.version !== BACKUP_VERSION) {
    throw new BackupFormatError(
      `version: must be ${BACKUP_VERSION} (the version this server reads), got ${describe(doc.version)}`,
    );
  }
  const exportedAt = time(doc.exportedAt, 'exportedAt');
  const categories = list(doc.categories, 'categories', BACKUP_LIMITS.maxCategories, 'categories', category);
  const categoryById = new Map<string, number>();
  const categoryByName = new Map<string, number>();
  categories.forEach((c, i) => {
    const sameId = categoryById.get(c.id);
    if (sameId !== undefined) throw new BackupFormatError(`categories[${i}].id: duplicate of categories[${sameId}].id`);
    categoryById.set(c.id, i);
    // the store compares category names folded (foldText), so the file must too
    const key = foldText(c.name);
    const sameName = categoryByName.get(key);
    if (sameName !== undefined) {
      throw new BackupFormatError(
        `categories[${i}].name: duplicate of categories[${sameName}].name (names compare ignoring case and spacing)`,
      );
    }
    categoryByName.set(key, i);
  });

  const entryIds = new Map<string, number>();
  const entryKeys = new Map<string, number>();
  const entries = list(doc.entries, 'entries', BACKUP_LIMITS.maxEntries, 'entries', (raw, path) => {
    const e = entry(raw, path, categoryById);
    const index = entryIds.size;
    const sameId = entryIds.get(e.id);
    if (sameId !== undefined) throw new BackupFormatError(`${path}.id: duplicate of entries[${sameId}].id`);
    entryIds.set(e.id, index);
    // ids may hold any character, so the pair is encoded rather than joined
    const key = JSON.stringify([e.sourceId, e.mediaId]);
    const sameKey = entryKeys.get(key);
    if (sameKey !== undefined) {
      throw new BackupFormatError(`${path}: duplicate of entries[${sameKey}] (the same sourceId and mediaId)`);
    }
    entryKeys.set(key, index);
    return e;
  });
  return { format: BACKUP_FORMAT, version: BACKUP_VERSION, exportedAt, categories, entries };
}

function category(value: unknown, path: string): BackupCategory {
  const o = object(value, path, ['id', 'name', 'position']);
  return {
    id: id(o.id, `${path}.id`),
    name: text(o.name, `${path}.name`, BACKUP_LIMITS.maxCategoryNameLength, true),
    position: integer(o.position, `${path}.position`),
  };
}

const ENTRY_FIELDS = [
  'id',
  'sourceId',
  'mediaId',
  'sourceName',
  'title',
  'kind',
  'coverUrl',
  'status',
  'favourite',
  'notes',
  'categoryIds',
  'addedAt',
  'workId',
  'orphaned',
  'progress',
  'history',
];

function entry(value: unknown, path: string, categories: ReadonlyMap<string, number>): BackupEntry {
  const o = object(value, path, ENTRY_FIELDS);
  const e: BackupEntry = {
    id: id(o.id, `${path}.id`),
    sourceId: id(o.sourceId, `${path}.sourceId`),
    mediaId: id(o.mediaId, `${path}.mediaId`, BACKUP_LIMITS.maxSourceItemIdLength),
    sourceName: text(o.sourceName, `${path}.sourceName`, BACKUP_LIMITS.maxTitleLength),
    title: text(o.title, `${path}.title`, BACKUP_LIMITS.maxTitleLength),
    kind: oneOf(o.kind, `${path}.kind`, BACKUP_MEDIA_KINDS),
    status: oneOf(o.status, `${path}.status`, LIBRARY_STATUSES),
    favourite: boolean(o.favourite, `${path}.favourite`),
    notes: text(o.notes, `${path}.notes`, BACKUP_LIMITS.maxNotesLength),
    categoryIds: [],
    addedAt: 0,
    progress: [],
    history: [],
  };
  if (o.coverUrl !== undefined) e.coverUrl = text(o.coverUrl, `${path}.coverUrl`, BACKUP_LIMITS.maxUrlLength);
  const seen = new Set<string>();
  e.categoryIds = list(
    o.categoryIds,
    `${path}.categoryIds`,
    BACKUP_LIMITS.maxCategoriesPerEntry,
    'category ids',
    (raw, itemPath) => {
      const categoryId = id(raw, itemPath);
      if (!categories.has(categoryId)) {
        throw new BackupFormatError(`${itemPath}: no category with id ${describe(categoryId)} in categories`);
      }
      if (seen.has(categoryId)) throw new BackupFormatError(`${itemPath}: ${describe(categoryId)} is listed twice`);
      seen.add(categoryId);
      return categoryId;
    },
  );
  e.addedAt = time(o.addedAt, `${path}.addedAt`);
  if (o.workId !== undefined) e.workId = id(o.workId, `${path}.workId`);
  if (o.orphaned !== undefined) e.orphaned = orphaned(o.orphaned, `${path}.orphaned`);
  const units = new Map<string, number>();
  e.progress = list(
    o.progress,
    `${path}.progress`,
    BACKUP_LIMITS.maxProgressPerEntry,
    'progress rows',
    (raw, itemPath) => {
      const row = progress(raw, itemPath);
      const same = units.get(row.unitId);
      if (same !== undefined) {
        throw new BackupFormatError(`${itemPath}.unitId: duplicate of ${path}.progress[${same}].unitId`);
      }
      units.set(row.unitId, units.size);
      return row;
    },
  );
  e.history = list(o.history, `${path}.history`, BACKUP_LIMITS.maxHistoryPerEntry, 'history records', history);
  return e;
}

function orphaned(value: unknown, path: string): BackupOrphaned {
  const o = object(value, path, ['reason', 'detail']);
  const out: BackupOrphaned = { reason: oneOf(o.reason, `${path}.reason`, BACKUP_ORPHAN_REASONS) };
  if (o.detail !== undefined) out.detail = text(o.detail, `${path}.detail`, BACKUP_LIMITS.maxTitleLength);
  return out;
}

function progress(value: unknown, path: string): BackupProgress {
  const o = object(value, path, [
    'unitId',
    'unitNumber',
    'unitTitle',
    'read',
    'position',
    'total',
    'positionAt',
    'readAt',
  ]);
  const row: BackupProgress = {
    unitId: id(o.unitId, `${path}.unitId`, BACKUP_LIMITS.maxSourceItemIdLength),
    read: false,
    position: 0,
    total: 0,
    positionAt: 0,
    readAt: 0,
  };
  if (o.unitNumber !== undefined) row.unitNumber = finite(o.unitNumber, `${path}.unitNumber`, false);
  if (o.unitTitle !== undefined) row.unitTitle = text(o.unitTitle, `${path}.unitTitle`, BACKUP_LIMITS.maxTitleLength);
  row.read = boolean(o.read, `${path}.read`);
  row.position = finite(o.position, `${path}.position`, true);
  row.total = finite(o.total, `${path}.total`, true);
  row.positionAt = time(o.positionAt, `${path}.positionAt`);
  row.readAt = time(o.readAt, `${path}.readAt`);
  return row;
}

function history(value: unknown, path: string): BackupHistory {
  const o = object(value, path, ['unitId', 'openedAt', 'durationMs']);
  return {
    unitId: id(o.unitId, `${path}.unitId`, BACKUP_LIMITS.maxSourceItemIdLength),
    openedAt: time(o.openedAt, `${path}.openedAt`),
    durationMs: time(o.durationMs, `${path}.durationMs`, BACKUP_LIMITS.maxHistoryDurationMs),
  };
}

/** Fields of every kind but optional ones are required; the format's own fields only. */
const OPTIONAL = new Set(['coverUrl', 'workId', 'orphaned', 'unitNumber', 'unitTitle', 'detail']);

function object(value: unknown, path: string, fields: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BackupFormatError(`${path}: must be an object, got ${typeName(value)}`);
  }
  const o = value as Record<string, unknown>;
  const prefix = path === 'backup' ? '' : `${path}.`;
  for (const key of Object.keys(o)) {
    if (!fields.includes(key)) throw new BackupFormatError(`${prefix}${quoteKey(key)}: unknown field`);
  }
  for (const key of fields) {
    if (o[key] === undefined && !OPTIONAL.has(key)) throw new BackupFormatError(`${prefix}${key}: is required`);
  }
  return o;
}

function list<T>(
  value: unknown,
  path: string,
  max: number,
  what: string,
  item: (value: unknown, path: string) => T,
): T[] {
  if (!Array.isArray(value)) throw new BackupFormatError(`${path}: must be an array, got ${typeName(value)}`);
  if (value.length > max) throw new BackupFormatError(`${path}: more than ${max} ${what} (${value.length})`);
  return value.map((v, i) => item(v, `${path}[${i}]`));
}

function id(value: unknown, path: string, max: number = BACKUP_LIMITS.maxIdLength): string {
  const s = text(value, path, max);
  if (s === '') throw new BackupFormatError(`${path}: must not be empty`);
  return s;
}

/** A string of at most `max` code points (as JSON Schema counts them); `nonBlank` refuses "" and spaces only. */
function text(value: unknown, path: string, max: number, nonBlank = false): string {
  if (typeof value !== 'string') throw new BackupFormatError(`${path}: must be a string, got ${typeName(value)}`);
  if (value.length > max) {
    // UTF-16 units are at least as many as code points; count those only when it can matter
    let points = 0;
    for (const _ of value) points++;
    if (points > max) throw new BackupFormatError(`${path}: must be at most ${max} characters, got ${points}`);
  }
  if (nonBlank && value.trim() === '') throw new BackupFormatError(`${path}: must not be empty or blank`);
  return value;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new BackupFormatError(`${path}: must be true or false, got ${typeName(value)}`);
  return value;
}

function finite(value: unknown, path: string, nonNegative: boolean): number {
  // JSON.parse turns 1e999 into Infinity, so finiteness is checked, not assumed
  if (typeof value !== 'number' || !Number.isFinite(value) || (nonNegative && value < 0)) {
    throw new BackupFormatError(
      `${path}: must be a finite number${nonNegative ? ' >= 0' : ''}, got ${describe(value)}`,
    );
  }
  return value;
}

/** Unix ms times, durations and positions in a list: whole numbers from 0 to `max` (2^53 - 1). */
function time(value: unknown, path: string, max: number = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new BackupFormatError(`${path}: must be an integer from 0 to ${max}, got ${describe(value)}`);
  }
  return value;
}

const integer = time;

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new BackupFormatError(`${path}: must be one of ${allowed.join(', ')}, got ${describe(value)}`);
  }
  return value as T;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** The value for an error message, cut short. */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    const cut = value.length > MAX_QUOTED ? `${value.slice(0, MAX_QUOTED)}…` : value;
    return JSON.stringify(cut);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeName(value);
}

function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(key) ? key : `[${describe(key)}]`;
}
