import type { TrackedWorks } from '../updates/tracked-works.js';

/** Where a user is with a work. */
export type LibraryStatus = 'reading' | 'completed' | 'on_hold' | 'dropped' | 'planned';

export const LIBRARY_STATUSES: readonly LibraryStatus[] = ['reading', 'completed', 'on_hold', 'dropped', 'planned'];

/** The media kinds of media.proto, lower case. */
export type LibraryMediaKind = 'manga' | 'anime' | 'comic' | 'book' | 'tv' | 'movie' | 'unspecified';

/** Why an entry's source cannot serve it any more; the entry stays, ready to be moved. */
export type OrphanReason = 'uninstalled' | 'domain_moved' | 'unknown_source';

export interface Orphaned {
  reason: OrphanReason;
  /** for domain_moved the new base URL; for unknown_source the source's name from a backup */
  detail?: string;
}

/** What the library remembers of a work, so an entry shows even when its source is gone. */
export interface EntryMetadata {
  title: string;
  kind: LibraryMediaKind;
  coverUrl?: string;
  /** the source's display name when the entry was added */
  sourceName: string;
}

/** One work in one user's library. */
export interface LibraryEntry extends EntryMetadata {
  /** random, chosen by the service; unique over all users */
  entryId: string;
  userId: string;
  sourceId: string;
  mediaId: string;
  status: LibraryStatus;
  favourite: boolean;
  notes: string;
  /** the user's category ids, in the order of the user's categories */
  categoryIds: string[];
  /** unix ms */
  addedAt: number;
  /** unix ms of the last change to the entry itself (status, notes, categories, move, link) */
  updatedAt: number;
  /** unix ms: the newest clientTime of a progress write that changed something */
  lastReadAt?: number;
  /** units the last refresh saw (recordUnits) */
  unitCount: number;
  /** units with read = true */
  readCount: number;
  /** unix ms: the newest unit's publication (or discovery) time, from recordUnits */
  lastUnitAt?: number;
  orphaned?: Orphaned;
  /** entries of one user with the same workId are one work read on several sources */
  workId?: string;
}

/** What addEntry needs; the rest starts empty. */
export interface NewEntry extends EntryMetadata {
  entryId: string;
  userId: string;
  sourceId: string;
  mediaId: string;
  addedAt: number;
  status?: LibraryStatus;
  favourite?: boolean;
  notes?: string;
  categoryIds?: string[];
  orphaned?: Orphaned;
}

/** Fields updateEntry may change; an omitted field keeps its value. */
export interface EntryPatch {
  status?: LibraryStatus;
  favourite?: boolean;
  notes?: string;
  /** replaces the entry's categories */
  categoryIds?: string[];
  title?: string;
  coverUrl?: string;
}

export type EntrySort = 'title' | 'added' | 'last_read' | 'last_updated';

export interface EntryQuery {
  kinds?: LibraryMediaKind[];
  /** only entries in this category */
  categoryId?: string;
  statuses?: LibraryStatus[];
  /** only entries with readCount < unitCount */
  unreadOnly?: boolean;
  /** case-insensitive substring of the title */
  text?: string;
  /** only entries whose source cannot serve them */
  orphanedOnly?: boolean;
  sort: EntrySort;
  /**
   * Title sorts A to Z by default, the time sorts newest first; `reverse` flips either.
   * Entries without the sorted time (never read, never refreshed) come last either way.
   */
  reverse?: boolean;
  /** entries per page, at least 1 */
  limit: number;
  /** nextCursor of the previous page with the same filters and sort */
  cursor?: string;
}

export interface EntryPage {
  entries: LibraryEntry[];
  /** undefined on the last page */
  nextCursor?: string;
}

/** A user's named group of entries; the user orders them. */
export interface Category {
  categoryId: string;
  userId: string;
  name: string;
  /** 0-based; categories list in this order */
  position: number;
}

/** Where a user is within one unit of an entry. */
export interface UnitProgress {
  entryId: string;
  unitId: string;
  /** remembered so a move to another source can match the unit */
  unitNumber?: number;
  unitTitle?: string;
  read: boolean;
  /** page, or seconds for video and audio */
  position: number;
  /** pages, or seconds; 0 when unknown */
  total: number;
  /** the clientTime of the write the position came from */
  positionAt: number;
  /** the clientTime of the write the read flag came from; 0 when no write set it */
  readAt: number;
  /** unix ms, server time of the last change */
  updatedAt: number;
}

/**
 * One client's report on one unit. The merge (progress-merge.ts) is the same in every store:
 * - position and total come from the write with the newest clientTime; on equal clientTime the
 *   greater position wins, so the order two clients' writes arrive in does not matter;
 * - read changes only when the write says read; the explicit read flag with the newest clientTime
 *   wins, and true wins a tie: a sync that omits read never clears it;
 * - a write that changes nothing (a retry) leaves the row and its updatedAt as they were.
 */
export interface ProgressWrite {
  unitId: string;
  unitNumber?: number;
  unitTitle?: string;
  read?: boolean;
  position?: number;
  total?: number;
  /** unix ms on the client when the user was there */
  clientTime: number;
}

/** A unit opened at a time, for how long. */
export interface HistoryRecord {
  entryId: string;
  unitId: string;
  /** unix ms */
  openedAt: number;
  durationMs: number;
}

export interface HistoryQuery {
  entryId?: string;
  limit: number;
  cursor?: string;
}

export interface HistoryPage {
  /** newest openedAt first */
  records: HistoryRecord[];
  nextCursor?: string;
}

/** Where an entry moves to. */
export interface MoveTarget extends EntryMetadata {
  sourceId: string;
  mediaId: string;
}

/** The result of a move: which progress rows followed and which found no unit on the target. */
export interface MoveResult {
  entry: LibraryEntry;
  /** progress rows rewritten to the target's unit ids */
  moved: number;
  /** progress rows whose unit the mapping did not match; they are removed from the entry */
  unmatched: UnitProgress[];
}

/** A cursor this store did not hand out (or one that was altered). */
export class InvalidLibraryCursorError extends Error {
  constructor(cursor: string) {
    super(`invalid page token '${cursor.slice(0, 64)}'`);
    this.name = 'InvalidLibraryCursorError';
  }
}

/** A category id in a write that is not one of the user's categories. */
export class UnknownCategoryError extends Error {
  constructor(readonly categoryId: string) {
    super(`no category '${categoryId.slice(0, 64)}'`);
    this.name = 'UnknownCategoryError';
  }
}

/** A user's category name that is taken (names compare case-insensitively). */
export class CategoryNameTakenError extends Error {
  constructor(readonly categoryName: string) {
    super(`a category named '${categoryName.slice(0, 64)}' exists`);
    this.name = 'CategoryNameTakenError';
  }
}

/** A move or add onto a (source, media) the user's library already has. */
export class EntryExistsError extends Error {
  constructor(readonly existing: LibraryEntry) {
    super(`the library already has ${existing.sourceId}/${existing.mediaId} as entry ${existing.entryId}`);
    this.name = 'EntryExistsError';
  }
}

/**
 * Users' libraries: entries, categories, per-unit progress and history. Every read and write
 * takes the user id and finds only that user's rows, so an entry id of another user reads as
 * missing. SQLite in embedded mode, MongoDB in distributed mode, behind library-store.contract.ts.
 *
 * Also the TrackedWorks of the update scheduler: the works any library follows.
 */
export interface LibraryStore extends TrackedWorks {
  /**
   * Adds the entry; when the user's library already has (sourceId, mediaId), returns that entry
   * unchanged with created false, so a retried add is harmless.
   */
  addEntry(entry: NewEntry): Promise<{ entry: LibraryEntry; created: boolean }>;
  getEntry(userId: string, entryId: string): Promise<LibraryEntry | undefined>;
  findEntry(userId: string, sourceId: string, mediaId: string): Promise<LibraryEntry | undefined>;
  /** undefined when the user has no such entry; throws UnknownCategoryError */
  updateEntry(userId: string, entryId: string, patch: EntryPatch, at: number): Promise<LibraryEntry | undefined>;
  /** Removes the entry with its progress and history; false when the user has no such entry. */
  removeEntry(userId: string, entryId: string): Promise<boolean>;
  /** throws InvalidLibraryCursorError */
  listEntries(userId: string, query: EntryQuery): Promise<EntryPage>;

  /** Appends a category at the end; throws CategoryNameTakenError. */
  addCategory(userId: string, categoryId: string, name: string): Promise<Category>;
  /** ordered by position */
  listCategories(userId: string): Promise<Category[]>;
  /** undefined when there is no such category; throws CategoryNameTakenError */
  renameCategory(userId: string, categoryId: string, name: string): Promise<Category | undefined>;
  /** `categoryIds` must be exactly the user's category ids in the new order; throws UnknownCategoryError */
  reorderCategories(userId: string, categoryIds: string[]): Promise<Category[]>;
  /** Removes it from the user and from every entry in it; false when there was none. */
  removeCategory(userId: string, categoryId: string): Promise<boolean>;

  /**
   * Merges the writes (see ProgressWrite) into the entry's progress and updates the entry's
   * readCount and lastReadAt; returns the resulting rows of the written units, or undefined when
   * the user has no such entry. Several writes for one unit apply in array order.
   */
  writeProgress(
    userId: string,
    entryId: string,
    writes: ProgressWrite[],
    at: number,
  ): Promise<UnitProgress[] | undefined>;
  /** the entry's progress rows by unitId, or undefined when the user has no such entry */
  listProgress(userId: string, entryId: string): Promise<UnitProgress[] | undefined>;

  /**
   * Adds history records of the user's entries; a record with the same (entry, unit, openedAt)
   * as a stored one keeps the longer duration. Records of entries the user does not have are
   * ignored. Returns how many were added or lengthened.
   */
  addHistory(userId: string, records: HistoryRecord[]): Promise<number>;
  listHistory(userId: string, query: HistoryQuery): Promise<HistoryPage>;

  /**
   * Gives the entries one workId (an existing one of theirs, or a new one); returns it, or
   * undefined when any entry is not the user's (then nothing changes).
   */
  linkEntries(userId: string, entryIds: string[], newWorkId: string, at: number): Promise<string | undefined>;
  /** false when the user has no such entry */
  unlinkEntry(userId: string, entryId: string, at: number): Promise<boolean>;
  /**
   * Points the entry at another (source, media), keeping its id, status, categories and notes;
   * progress rows are rewritten by `unitMapping` (old unit id -> new unit id); history keeps its
   * records, rewritten where mapped. Clears orphaned. undefined when the user has no such entry;
   * throws EntryExistsError when the user's library already has the target.
   */
  moveEntry(
    userId: string,
    entryId: string,
    target: MoveTarget,
    unitMapping: ReadonlyMap<string, string>,
    at: number,
  ): Promise<MoveResult | undefined>;

  /** Marks every entry of the source (all users) orphaned; returns how many changed. */
  markOrphaned(sourceId: string, orphaned: Orphaned): Promise<number>;
  /** Clears orphaned on every entry of the source (reinstalled); returns how many changed. */
  clearOrphaned(sourceId: string): Promise<number>;

  /** Removes all of a user's library; returns how many entries went. */
  removeUser(userId: string): Promise<number>;
  close(): Promise<void>;
}
