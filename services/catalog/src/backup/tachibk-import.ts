import type { ReplacedSource } from '@awasm/shared';
import type { LibraryStore } from '../library/library-store.js';
import { foldText } from '../library/library-text.js';
import {
  BACKUP_FORMAT,
  BACKUP_LIMITS,
  BACKUP_VERSION,
  type BackupCategory,
  type BackupDocument,
  type BackupEntry,
  BackupFormatError,
  type BackupHistory,
  type BackupProgress,
} from './backup-format.js';
import { type ImportOptions, type ImportReport, importBackup } from './backup-import.js';
import { validateBackup } from './backup-validate.js';
import { decodeTachibk, type Int64, type TachibkBackup, type TachibkManga } from './tachibk.js';

/** An installed source as the mapping needs it: its id, name and the Mihon sources it replaces. */
export interface ReplacingSource {
  sourceId: string;
  name: string;
  replaces?: readonly ReplacedSource[];
}

/** The installed source that serves a Mihon source id. */
export interface MihonReplacement {
  sourceId: string;
  sourceName: string;
}

/** Source ids of Mihon sources no installed plugin replaces; never a plugin id, which has no colon. */
export const MIHON_SOURCE_PREFIX = 'mihon:';

/**
 * Which installed source serves each Mihon source id, from the manifests' `[[replaces]]`. When
 * two plugins claim one id the one with the smaller source id wins, so the answer does not
 * depend on install order.
 */
export function mihonReplacements(sources: readonly ReplacingSource[]): Map<string, MihonReplacement> {
  const out = new Map<string, MihonReplacement>();
  for (const s of [...sources].sort((a, b) => (a.sourceId < b.sourceId ? -1 : a.sourceId > b.sourceId ? 1 : 0))) {
    for (const r of s.replaces ?? []) {
      if (!out.has(r.mihonSourceId)) out.set(r.mihonSourceId, { sourceId: s.sourceId, sourceName: s.name });
    }
  }
  return out;
}

/**
 * A decoded .tachibk as an awasm backup, so both formats take one validated import path.
 * - a manga is an entry of the plugin that replaces its Mihon source, media id = the manga url;
 *   without one, source `mihon:<id>` (kept as a string: ids exceed 2^53), which the import keeps
 *   as orphaned with the source's name from backupSources;
 * - categories are named through their order values; favorite absent means true;
 * - read chapters and chapters with a page read become progress rows keyed by chapter url, the
 *   number and name kept for a later move; read is only ever set, never cleared;
 * - history is one record per chapter url, at its latest lastRead.
 * Mihon's bookmarks have no place in the library model and are not imported.
 * The result passes validateBackup; a problem names the entry (entries[i] is backupManga[i]).
 */
export function backupFromTachibk(
  backup: TachibkBackup,
  replacements: ReadonlyMap<string, MihonReplacement>,
  now: number,
): BackupDocument {
  const sourceNames = new Map(backup.sources.map((s) => [s.sourceId, s.name]));

  const categories: BackupCategory[] = [];
  const categoryByOrder = new Map<string, string>();
  const categoryByName = new Map<string, string>();
  const ordered = [...backup.categories].sort((a, b) => compareInt64(a.order, b.order));
  for (const c of ordered) {
    const order = String(c.order);
    if (categoryByOrder.has(order)) continue;
    // the library compares names folded (case, spacing, NFKC): two Mihon categories of one name become one
    const known = categoryByName.get(foldText(c.name));
    if (known !== undefined) {
      categoryByOrder.set(order, known);
      continue;
    }
    const id = `category-${categories.length}`;
    categories.push({ id, name: c.name, position: categories.length });
    categoryByOrder.set(order, id);
    categoryByName.set(foldText(c.name), id);
  }

  const entries = backup.mangas.map((m, index) => {
    const replacement = replacements.get(m.source);
    const sourceId = replacement?.sourceId ?? `${MIHON_SOURCE_PREFIX}${m.source}`;
    const sourceName = replacement?.sourceName ?? sourceNames.get(m.source) ?? `Mihon source ${m.source}`;
    return toEntry(m, index, sourceId, sourceName, categoryByOrder);
  });

  const doc: BackupDocument = { format: BACKUP_FORMAT, version: BACKUP_VERSION, exportedAt: now, categories, entries };
  try {
    return validateBackup(doc);
  } catch (error) {
    if (!(error instanceof BackupFormatError)) throw error;
    throw new BackupFormatError(`${error.message} (in the .tachibk, entries[i] is backupManga[i])`);
  }
}

/**
 * Imports a .tachibk file: decoded, mapped and validated whole before importBackup writes
 * anything, so a hostile or broken file changes nothing.
 */
export async function importTachibk(
  store: LibraryStore,
  userId: string,
  bytes: Uint8Array,
  replacements: ReadonlyMap<string, MihonReplacement>,
  options: ImportOptions,
): Promise<ImportReport> {
  const doc = backupFromTachibk(await decodeTachibk(bytes), replacements, options.now);
  return importBackup(store, userId, doc, options);
}

function toEntry(
  m: TachibkManga,
  index: number,
  sourceId: string,
  sourceName: string,
  categoryByOrder: ReadonlyMap<string, string>,
): BackupEntry {
  // the latest lastRead per chapter url: the time of its history record and of its progress
  const lastRead = new Map<string, { at: number; durationMs: number }>();
  for (const h of m.history) {
    const at = toNumber(h.lastRead);
    if (at <= 0) continue;
    const seen = lastRead.get(h.url);
    // a duration past what the library keeps is Mihon's clock, not a reading session: cut it
    const durationMs = Math.min(Math.max(toNumber(h.readDuration), 0), BACKUP_LIMITS.maxHistoryDurationMs);
    if (!seen || at > seen.at) lastRead.set(h.url, { at, durationMs });
  }

  const progress: BackupProgress[] = [];
  const units = new Set<string>();
  let anyRead = false;
  for (const c of m.chapters) {
    const page = toNumber(c.lastPageRead);
    if ((!c.read && page <= 0) || units.has(c.url)) continue;
    units.add(c.url);
    anyRead ||= c.read;
    const at = lastRead.get(c.url)?.at ?? 0;
    progress.push({
      unitId: c.url,
      // Mihon writes -1 for a chapter without a number
      ...(c.chapterNumber >= 0 && Number.isFinite(c.chapterNumber) ? { unitNumber: c.chapterNumber } : {}),
      ...(c.name.trim() === '' ? {} : { unitTitle: c.name }),
      read: c.read,
      position: Math.max(page, 0),
      total: 0,
      positionAt: page > 0 ? at : 0,
      readAt: c.read ? at : 0,
    });
  }

  const history: BackupHistory[] = [...lastRead].map(([url, h]) => ({
    unitId: url,
    openedAt: h.at,
    durationMs: h.durationMs,
  }));

  const categoryIds = [
    ...new Set(m.categories.map((order) => categoryByOrder.get(String(order))).filter((id) => id !== undefined)),
  ];

  return {
    id: `manga-${index}`,
    sourceId,
    mediaId: m.url,
    sourceName,
    title: m.title.trim() === '' ? m.url : m.title,
    kind: 'manga',
    ...(m.thumbnailUrl ? { coverUrl: m.thumbnailUrl } : {}),
    status: anyRead ? 'reading' : 'planned',
    favourite: m.favorite,
    notes: '',
    categoryIds,
    addedAt: toNumber(m.dateAdded),
    progress,
    history,
  };
}

/** An Int64 as a number; one past 2^53 stays a string form's Number, which validateBackup refuses by path. */
function toNumber(value: Int64): number {
  return typeof value === 'number' ? value : Number(value);
}

function compareInt64(a: Int64, b: Int64): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
