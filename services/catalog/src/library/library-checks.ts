import { ARG_LIMITS } from '@awasm/runner-api';
import { type Duration, durationMs, type Timestamp, timestampMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';

/** The limits of what one LibraryService call may carry; every one is checked before any work. */
export const LIBRARY_LIMITS = {
  /** entry, category and work ids (the server's own are far shorter) */
  id: 256,
  /** media and unit ids: what a source may use, as the runner seam allows */
  sourceId: ARG_LIMITS.id,
  notes: 10_000,
  categoryName: 100,
  unitTitle: 1000,
  text: 200,
  /** page tokens are the store's own, far shorter */
  pageToken: 4096,
  /** kinds or statuses one listing filters by */
  filterValues: 16,
  /** categories one entry may be in, and categories one user may have */
  entryCategories: 100,
  categories: 500,
  progressWrites: 1000,
  historyRecords: 1000,
  linkedEntries: 100,
  pageSize: 500,
  defaultPageSize: 50,
  /** how long a unit may stay open in one history record */
  historyDurationMs: 7 * 24 * 3600 * 1000,
};

/** Client times before this are a broken clock, not a reading session. */
const EARLIEST_CLIENT_TIME = Date.UTC(2000, 0, 1);
/** How far ahead of the server's clock a client's clock may run. */
const CLOCK_SKEW_MS = 24 * 3600 * 1000;
const MAX_QUOTED = 64;

export function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** A client's text as an error repeats it: cut, so no input makes the message large. */
export function quote(text: string): string {
  return text.length <= MAX_QUOTED ? `'${text}'` : `'${text.slice(0, MAX_QUOTED)}…' (${text.length} characters)`;
}

/** A non-empty id of at most `max` characters. */
export function requireId(field: string, value: string, max = LIBRARY_LIMITS.id): string {
  if (value === '') throw invalid(`${field} must not be empty`);
  if (value.length > max) throw invalid(`${field} has ${value.length} characters; at most ${max}`);
  return value;
}

/** A media or unit id of the source. */
export function requireSourceItemId(field: string, value: string): string {
  return requireId(field, value, LIBRARY_LIMITS.sourceId);
}

/** Text of at most `max` characters (empty allowed). */
export function requireText(field: string, value: string, max: number): string {
  if (value.length > max) throw invalid(`${field} has ${value.length} characters; at most ${max}`);
  return value;
}

/** A category name: trimmed, 1 to 100 characters. */
export function requireCategoryName(field: string, value: string): string {
  const name = value.trim();
  if (name === '') throw invalid(`${field} must not be empty`);
  return requireText(field, name, LIBRARY_LIMITS.categoryName);
}

/** A list of at least `min` and at most `max` items. */
export function requireCount<T>(field: string, list: readonly T[], min: number, max: number): readonly T[] {
  if (list.length < min) throw invalid(`${field} needs at least ${min} item${min === 1 ? '' : 's'}`);
  if (list.length > max) throw invalid(`${field} holds ${list.length} items; at most ${max} per call`);
  return list;
}

/** Ids, each checked, each once. */
export function requireIds(field: string, ids: readonly string[], min: number, max: number): string[] {
  requireCount(field, ids, min, max);
  const seen = new Set<string>();
  for (const [i, id] of ids.entries()) {
    requireId(`${field}[${i}]`, id);
    if (seen.has(id)) throw invalid(`${field} names ${quote(id)} more than once`);
    seen.add(id);
  }
  return [...ids];
}

/** A page size: 0 means the default. */
export function pageSizeOf(requested: number): number {
  if (requested === 0) return LIBRARY_LIMITS.defaultPageSize;
  if (!Number.isInteger(requested) || requested < 1 || requested > LIBRARY_LIMITS.pageSize) {
    throw invalid(
      `page_size must be 1 to ${LIBRARY_LIMITS.pageSize} (or 0 for ${LIBRARY_LIMITS.defaultPageSize}), got ${requested}`,
    );
  }
  return requested;
}

/** A page, or seconds, or a unit number: finite, and not negative unless `allowNegative`. */
export function requireAmount(field: string, value: number, allowNegative = false): number {
  if (!Number.isFinite(value)) throw invalid(`${field} must be a finite number, got ${value}`);
  if (!allowNegative && value < 0) throw invalid(`${field} must not be negative, got ${value}`);
  return value;
}

/** A time a client reports, as unix ms: set, after 2000, and at most a day past the server's clock. */
export function requireClientTime(field: string, value: Timestamp | undefined, now: number): number {
  if (value === undefined) throw invalid(`${field} is required`);
  const ms = timestampMs(value);
  if (!Number.isFinite(ms) || ms < EARLIEST_CLIENT_TIME || ms > now + CLOCK_SKEW_MS) {
    throw invalid(`${field} must be between 2000-01-01 and a day after the server's clock`);
  }
  return ms;
}

/** A history record's duration as ms: set, not negative, at most a week. */
export function requireDuration(field: string, value: Duration | undefined): number {
  if (value === undefined) throw invalid(`${field} is required`);
  const ms = durationMs(value);
  if (!Number.isFinite(ms) || ms < 0 || ms > LIBRARY_LIMITS.historyDurationMs) {
    throw invalid(`${field} must be from 0 to ${LIBRARY_LIMITS.historyDurationMs / 3_600_000} hours`);
  }
  return ms;
}
