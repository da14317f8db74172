import type { HistoryRecord, LibraryEntry, LibraryStore } from '../library/library-store.js';
import {
  BACKUP_FORMAT,
  BACKUP_LIMITS,
  BACKUP_VERSION,
  type BackupDocument,
  type BackupEntry,
  BackupFormatError,
} from './backup-format.js';
import { validateBackup } from './backup-validate.js';

/** Entries and history records read per store call. */
const PAGE_SIZE = 500;

/** The user's library holds what a backup may not (see BACKUP_LIMITS); the message says what. */
export class BackupTooLargeError extends Error {
  override readonly name = 'BackupTooLargeError';
}

/**
 * One user's whole library as an awasm backup: categories in their order, entries oldest first
 * with their progress and history. The result is checked by validateBackup, so an export is
 * always a file this server imports.
 */
export async function exportBackup(store: LibraryStore, userId: string, now: number): Promise<BackupDocument> {
  const categories = (await store.listCategories(userId)).map((c) => ({
    id: c.categoryId,
    name: c.name,
    position: c.position,
  }));
  const entries: BackupEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listEntries(userId, {
      sort: 'added',
      reverse: true,
      limit: PAGE_SIZE,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const entry of page.entries) {
      if (entries.length >= BACKUP_LIMITS.maxEntries) {
        throw new BackupTooLargeError(`the library has more than ${BACKUP_LIMITS.maxEntries} entries`);
      }
      entries.push(await exportEntry(store, userId, entry));
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);

  const doc: BackupDocument = { format: BACKUP_FORMAT, version: BACKUP_VERSION, exportedAt: now, categories, entries };
  try {
    return validateBackup(doc);
  } catch (error) {
    if (error instanceof BackupFormatError) {
      throw new BackupTooLargeError(`the library cannot be written as a backup: ${error.message}`);
    }
    throw error;
  }
}

async function exportEntry(store: LibraryStore, userId: string, entry: LibraryEntry): Promise<BackupEntry> {
  const rows = (await store.listProgress(userId, entry.entryId)) ?? [];
  if (rows.length > BACKUP_LIMITS.maxProgressPerEntry) {
    throw new BackupTooLargeError(
      `entry ${entry.entryId} has ${rows.length} progress rows, more than the ${BACKUP_LIMITS.maxProgressPerEntry} a backup holds`,
    );
  }
  const history = await entryHistory(store, userId, entry.entryId);
  return {
    id: entry.entryId,
    sourceId: entry.sourceId,
    mediaId: entry.mediaId,
    // what the source said of the work is a cache: cut to the format's caps rather than refuse
    sourceName: clip(entry.sourceName, BACKUP_LIMITS.maxTitleLength),
    title: clip(entry.title, BACKUP_LIMITS.maxTitleLength),
    kind: entry.kind,
    ...(entry.coverUrl === undefined || entry.coverUrl.length > BACKUP_LIMITS.maxUrlLength
      ? {}
      : { coverUrl: entry.coverUrl }),
    status: entry.status,
    favourite: entry.favourite,
    notes: entry.notes,
    categoryIds: [...entry.categoryIds],
    addedAt: entry.addedAt,
    ...(entry.workId === undefined ? {} : { workId: entry.workId }),
    ...(entry.orphaned === undefined
      ? {}
      : {
          orphaned: {
            reason: entry.orphaned.reason,
            ...(entry.orphaned.detail === undefined
              ? {}
              : { detail: clip(entry.orphaned.detail, BACKUP_LIMITS.maxTitleLength) }),
          },
        }),
    progress: rows.map((p) => ({
      unitId: p.unitId,
      ...(p.unitNumber === undefined ? {} : { unitNumber: p.unitNumber }),
      ...(p.unitTitle === undefined ? {} : { unitTitle: p.unitTitle }),
      read: p.read,
      position: p.position,
      total: p.total,
      positionAt: p.positionAt,
      readAt: p.readAt,
    })),
    history: history.map((h) => ({ unitId: h.unitId, openedAt: h.openedAt, durationMs: h.durationMs })),
  };
}

/** The text cut to at most `max` code points. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  return points.length <= max ? text : points.slice(0, max).join('');
}

/** The entry's history, oldest first. */
async function entryHistory(store: LibraryStore, userId: string, entryId: string): Promise<HistoryRecord[]> {
  const records: HistoryRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listHistory(userId, {
      entryId,
      limit: PAGE_SIZE,
      ...(cursor === undefined ? {} : { cursor }),
    });
    records.push(...page.records);
    if (records.length > BACKUP_LIMITS.maxHistoryPerEntry) {
      throw new BackupTooLargeError(
        `entry ${entryId} has more than the ${BACKUP_LIMITS.maxHistoryPerEntry} history records a backup holds`,
      );
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return records.reverse();
}
