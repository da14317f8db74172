import { ARG_LIMITS } from '@awasm/runner-api';
import { LIBRARY_LIMITS } from '../library/library-checks.js';
import type { LibraryMediaKind, LibraryStatus, OrphanReason } from '../library/library-store.js';

/**
 * The awasm backup: one user's library as JSON (docs/backup-format.md, schemas/backup.schema.json).
 * Times are unix milliseconds. Ids are the exporting server's; an import matches entries by
 * (sourceId, mediaId) and categories by name, so they only have to agree within the file.
 */
export const BACKUP_FORMAT = 'awasm-backup';
export const BACKUP_VERSION = 1;

export const BACKUP_MEDIA_KINDS: readonly LibraryMediaKind[] = [
  'manga',
  'anime',
  'comic',
  'book',
  'tv',
  'movie',
  'unspecified',
];
export const BACKUP_ORPHAN_REASONS: readonly OrphanReason[] = ['uninstalled', 'domain_moved', 'unknown_source'];

export interface BackupDocument {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  /** when the export was made */
  exportedAt: number;
  /** in the user's order */
  categories: BackupCategory[];
  entries: BackupEntry[];
}

export interface BackupCategory {
  id: string;
  name: string;
  /** 0-based; an import appends new categories in this order */
  position: number;
}

export interface BackupEntry {
  id: string;
  sourceId: string;
  mediaId: string;
  /** the source's display name, kept for an entry whose source the importing server lacks */
  sourceName: string;
  title: string;
  kind: LibraryMediaKind;
  coverUrl?: string;
  status: LibraryStatus;
  favourite: boolean;
  notes: string;
  /** ids of categories of this file */
  categoryIds: string[];
  addedAt: number;
  /** entries of the file with the same workId are one work read on several sources */
  workId?: string;
  orphaned?: BackupOrphaned;
  progress: BackupProgress[];
  history: BackupHistory[];
}

export interface BackupOrphaned {
  reason: OrphanReason;
  detail?: string;
}

/** A unit's progress as the store keeps it (UnitProgress without the entry and server time). */
export interface BackupProgress {
  unitId: string;
  unitNumber?: number;
  unitTitle?: string;
  read: boolean;
  /** page, or seconds for video and audio */
  position: number;
  /** pages, or seconds; 0 when unknown */
  total: number;
  /** the client time the position came from */
  positionAt: number;
  /** the client time the read flag came from; 0 when nothing set it */
  readAt: number;
}

export interface BackupHistory {
  unitId: string;
  openedAt: number;
  durationMs: number;
}

/**
 * What a backup may hold. Every one is checked before the value is copied or stored. Where the
 * library API has a limit (LIBRARY_LIMITS) the backup has the same, so an import makes nothing
 * the API would refuse.
 */
export const BACKUP_LIMITS = Object.freeze({
  /** the raw file, checked before it is decoded or parsed */
  maxBytes: 64 * 1024 * 1024,
  /** objects and arrays inside one another; the format itself needs 5 (document, entries, entry, progress, row) */
  maxDepth: 5,
  maxEntries: 100_000,
  maxCategories: LIBRARY_LIMITS.categories,
  maxCategoriesPerEntry: LIBRARY_LIMITS.entryCategories,
  maxCategoryNameLength: LIBRARY_LIMITS.categoryName,
  maxProgressPerEntry: 20_000,
  maxHistoryPerEntry: 20_000,
  /** characters (code points) of the ids a server chooses: entries, categories, works, sources */
  maxIdLength: 256,
  /** characters of the ids a source chooses (media and units), as the runner seam allows them */
  maxSourceItemIdLength: ARG_LIMITS.id,
  /** characters of titles, names, unit titles and an orphan's detail */
  maxTitleLength: 1_000,
  /** how long one history record may say a unit stayed open */
  maxHistoryDurationMs: LIBRARY_LIMITS.historyDurationMs,
  maxNotesLength: 10_000,
  maxUrlLength: 4_096,
});

/** The backup is refused whole; the message names the first bad field by its path and why. */
export class BackupFormatError extends Error {
  override readonly name = 'BackupFormatError';
}
