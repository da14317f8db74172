import { type EntrySort, InvalidLibraryCursorError } from './library-store.js';

/**
 * Where a page of entries ended: the sort (so a cursor of another sort is refused), the last
 * entry's sort key (undefined for an entry without the sorted time, which lists after every entry
 * with one) and its entryId, the tie-break.
 */
export interface EntryCursor {
  sort: EntrySort;
  reverse: boolean;
  key: string | number | undefined;
  entryId: string;
}

const SORTS: readonly EntrySort[] = ['title', 'added', 'last_read', 'last_updated'];

export function encodeEntryCursor(cursor: EntryCursor): string {
  return Buffer.from(
    JSON.stringify([cursor.sort, cursor.reverse ? 1 : 0, cursor.key ?? null, cursor.entryId]),
  ).toString('base64url');
}

function parse(cursor: string): unknown {
  // base64url that does not round-trip was altered (or is not base64url at all)
  const bytes = Buffer.from(cursor, 'base64url');
  if (cursor.length === 0 || bytes.toString('base64url') !== cursor) throw new InvalidLibraryCursorError(cursor);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new InvalidLibraryCursorError(cursor);
  }
}

/** The cursor, checked against the query it comes back with; throws InvalidLibraryCursorError. */
export function decodeEntryCursor(cursor: string, sort: EntrySort, reverse: boolean): EntryCursor {
  const value = parse(cursor);
  if (Array.isArray(value) && value.length === 4) {
    const [cursorSort, cursorReverse, key, entryId] = value as unknown[];
    const keyFits =
      sort === 'title'
        ? typeof key === 'string'
        : (typeof key === 'number' && Number.isSafeInteger(key)) || (key === null && sort !== 'added');
    if (
      SORTS.includes(sort) &&
      cursorSort === sort &&
      cursorReverse === (reverse ? 1 : 0) &&
      keyFits &&
      typeof entryId === 'string' &&
      entryId.length > 0
    ) {
      return { sort, reverse, key: key === null ? undefined : (key as string | number), entryId };
    }
  }
  throw new InvalidLibraryCursorError(cursor);
}

/** Where a page of history ended: newest first, tie-broken by entry then unit, both descending. */
export interface HistoryCursor {
  openedAt: number;
  entryId: string;
  unitId: string;
}

export function encodeHistoryCursor(cursor: HistoryCursor): string {
  return Buffer.from(JSON.stringify([cursor.openedAt, cursor.entryId, cursor.unitId])).toString('base64url');
}

export function decodeHistoryCursor(cursor: string): HistoryCursor {
  const value = parse(cursor);
  if (Array.isArray(value) && value.length === 3) {
    const [openedAt, entryId, unitId] = value as unknown[];
    if (Number.isSafeInteger(openedAt) && typeof entryId === 'string' && typeof unitId === 'string') {
      return { openedAt: openedAt as number, entryId, unitId };
    }
  }
  throw new InvalidLibraryCursorError(cursor);
}

/** The largest page a store hands out: a page is read, and its categories looked up, at once. */
export const MAX_LIBRARY_PAGE = 1_000;

/** A page size the store accepts: a whole number from 1 to MAX_LIBRARY_PAGE. */
export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIBRARY_PAGE) {
    throw new RangeError(`limit must be a whole number from 1 to ${MAX_LIBRARY_PAGE}, not ${limit}`);
  }
}
