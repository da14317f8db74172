import type {
  HistoryRecord,
  LibraryEntry,
  LibraryStore,
  NewEntry,
  Orphaned,
  ProgressWrite,
  UnitProgress,
} from '../library/library-store.js';
import { CategoryNameTakenError } from '../library/library-store.js';
import { foldText } from '../library/library-text.js';
import { mergeProgress } from '../library/progress-merge.js';
import {
  BACKUP_LIMITS,
  type BackupDocument,
  type BackupEntry,
  BackupFormatError,
  type BackupProgress,
} from './backup-format.js';

export interface ImportOptions {
  /** the source ids (plugin ids) this server has installed; entries of others are kept as orphaned */
  installedSources: ReadonlySet<string>;
  /** unix ms: the server time of every write */
  now: number;
  /** a new random id for an entry, category or work */
  newId: () => string;
  /** plan and report only; nothing is written */
  dryRun?: boolean;
}

/** What an import did (or, with dryRun, would do). Importing the same file again reports only existing entries. */
export interface ImportReport {
  entriesAdded: number;
  /** entries of the file the library had already, matched by (sourceId, mediaId) */
  entriesExisting: number;
  /** categories of the file the library had no category of that name for */
  categoriesAdded: number;
  /** progress rows created or changed by the merge */
  progressChanged: number;
  /** history records added or lengthened */
  historyAdded: number;
  /** entries of the file whose source is not installed, kept as orphaned */
  orphaned: number;
  /** groups of entries of the file given one work id */
  worksLinked: number;
}

/** One entry's planned writes, from the file and what the store holds. */
interface EntryPlan {
  source: BackupEntry;
  existing?: LibraryEntry;
  /** set for an entry to add */
  add?: NewEntry;
  /** the entry's categories after the import, when they change */
  categoryIds?: string[];
  writes: ProgressWrite[];
  history: HistoryRecord[];
  changedUnits: number;
}

/**
 * Applies a validated backup (validateBackup) to one user's library. Matching makes it
 * idempotent: entries by (sourceId, mediaId) through addEntry, categories by name, progress
 * through writeProgress's merge (progress-merge.ts) and history through addHistory's dedupe; an
 * existing entry keeps its status, notes and metadata and gains the file's categories. Everything
 * is planned from reads first and only what changes is written, so importing a file twice writes
 * nothing the second time. A store failure part way leaves a partial import that importing the
 * file again completes. Throws BackupFormatError, before any write, when the library and the file
 * together would break a limit the library API keeps (categories per user and per entry).
 */
export async function importBackup(
  store: LibraryStore,
  userId: string,
  doc: BackupDocument,
  options: ImportOptions,
): Promise<ImportReport> {
  const report: ImportReport = {
    entriesAdded: 0,
    entriesExisting: 0,
    categoriesAdded: 0,
    progressChanged: 0,
    historyAdded: 0,
    orphaned: 0,
    worksLinked: 0,
  };

  const userCategories = await store.listCategories(userId);
  const byName = new Map(userCategories.map((c) => [foldText(c.name), c.categoryId]));
  const categoryOrder = new Map(userCategories.map((c, i) => [c.categoryId, i]));
  /** file category id -> the user's category id */
  const categoryIds = new Map<string, string>();
  const newCategories: { categoryId: string; name: string }[] = [];
  for (const c of [...doc.categories].sort((a, b) => a.position - b.position)) {
    let categoryId = byName.get(foldText(c.name));
    if (categoryId === undefined) {
      categoryId = options.newId();
      byName.set(foldText(c.name), categoryId);
      newCategories.push({ categoryId, name: c.name });
    }
    categoryIds.set(c.id, categoryId);
    if (!categoryOrder.has(categoryId)) categoryOrder.set(categoryId, categoryOrder.size);
  }
  report.categoriesAdded = newCategories.length;
  const total = userCategories.length + newCategories.length;
  if (total > BACKUP_LIMITS.maxCategories) {
    throw new BackupFormatError(
      `categories: the library would have ${total} categories, more than the ${BACKUP_LIMITS.maxCategories} it may have`,
    );
  }
  const inUserOrder = (ids: Iterable<string>) =>
    [...new Set(ids)].sort((a, b) => (categoryOrder.get(a) ?? 0) - (categoryOrder.get(b) ?? 0));

  const plans: EntryPlan[] = [];
  for (const [index, source] of doc.entries.entries()) {
    const existing = await store.findEntry(userId, source.sourceId, source.mediaId);
    const wanted = source.categoryIds.map((id) => categoryIds.get(id) as string);
    const plan: EntryPlan = { source, writes: [], history: [], changedUnits: 0 };
    const orphaned = orphanedOf(source, options.installedSources);
    if (orphaned?.reason === 'unknown_source') report.orphaned++;
    let entryId: string;
    if (existing) {
      report.entriesExisting++;
      plan.existing = existing;
      entryId = existing.entryId;
      const union = inUserOrder([...existing.categoryIds, ...wanted]);
      if (union.length > BACKUP_LIMITS.maxCategoriesPerEntry) {
        throw new BackupFormatError(
          `entries[${index}].categoryIds: the entry would be in ${union.length} categories, more than the ${BACKUP_LIMITS.maxCategoriesPerEntry} it may be in`,
        );
      }
      if (union.length !== existing.categoryIds.length) plan.categoryIds = union;
    } else {
      report.entriesAdded++;
      entryId = options.newId();
      plan.add = {
        entryId,
        userId,
        sourceId: source.sourceId,
        mediaId: source.mediaId,
        title: source.title,
        kind: source.kind,
        sourceName: source.sourceName,
        ...(source.coverUrl === undefined ? {} : { coverUrl: source.coverUrl }),
        addedAt: source.addedAt,
        status: source.status,
        favourite: source.favourite,
        notes: source.notes,
        categoryIds: inUserOrder(wanted),
        ...(orphaned === undefined ? {} : { orphaned }),
      };
    }
    await planProgress(store, userId, entryId, existing !== undefined, source.progress, plan, options.now);
    await planHistory(store, userId, entryId, existing !== undefined, source, plan);
    report.progressChanged += plan.changedUnits;
    report.historyAdded += plan.history.length;
    plans.push(plan);
  }

  const links = workLinks(plans);
  report.worksLinked = links.length;
  if (options.dryRun) return report;

  for (const c of newCategories) {
    try {
      await store.addCategory(userId, c.categoryId, c.name);
    } catch (error) {
      // another client made it since the plan: use theirs
      if (!(error instanceof CategoryNameTakenError)) throw error;
      const theirs = (await store.listCategories(userId)).find((u) => foldText(u.name) === foldText(c.name));
      if (!theirs) throw error;
      remapCategory(plans, c.categoryId, theirs.categoryId);
    }
  }
  for (const plan of plans) await applyEntry(store, userId, plan, options.now);
  for (const group of links) await store.linkEntries(userId, group.map(entryIdOf), options.newId(), options.now);
  return report;
}

/** An entry of an uninstalled source is kept as orphaned; a moved domain stays known. */
function orphanedOf(source: BackupEntry, installed: ReadonlySet<string>): Orphaned | undefined {
  if (!installed.has(source.sourceId)) {
    // a file that knew the source's name better (an earlier import's) keeps it
    if (source.orphaned?.reason === 'unknown_source' && source.orphaned.detail !== undefined)
      return { ...source.orphaned };
    return { reason: 'unknown_source', detail: source.sourceName };
  }
  if (source.orphaned?.reason === 'domain_moved') return { ...source.orphaned };
  return undefined;
}

/**
 * The writes that reproduce a row through the merge: its position at positionAt, then its read
 * flag at readAt when something set it. Replaying them changes nothing, so retries are harmless.
 */
export function progressWrites(row: BackupProgress): ProgressWrite[] {
  const names = {
    ...(row.unitNumber === undefined ? {} : { unitNumber: row.unitNumber }),
    ...(row.unitTitle === undefined ? {} : { unitTitle: row.unitTitle }),
  };
  const writes: ProgressWrite[] = [
    { unitId: row.unitId, ...names, position: row.position, total: row.total, clientTime: row.positionAt },
  ];
  if (row.read || row.readAt > 0) writes.push({ unitId: row.unitId, read: row.read, clientTime: row.readAt });
  return writes;
}

async function planProgress(
  store: LibraryStore,
  userId: string,
  entryId: string,
  exists: boolean,
  rows: BackupProgress[],
  plan: EntryPlan,
  now: number,
): Promise<void> {
  const stored = new Map<string, UnitProgress>();
  if (exists) for (const p of (await store.listProgress(userId, entryId)) ?? []) stored.set(p.unitId, p);
  for (const row of rows) {
    let current = stored.get(row.unitId);
    let changed = false;
    const writes = progressWrites(row);
    for (const write of writes) {
      const next = mergeProgress(entryId, current, write, now);
      if (next !== undefined) {
        current = next;
        changed = true;
      }
    }
    if (changed) {
      plan.writes.push(...writes);
      plan.changedUnits++;
    }
  }
}

async function planHistory(
  store: LibraryStore,
  userId: string,
  entryId: string,
  exists: boolean,
  source: BackupEntry,
  plan: EntryPlan,
): Promise<void> {
  const key = (unitId: string, openedAt: number) => `${unitId}\u0000${openedAt}`;
  const stored = new Map<string, number>();
  if (exists && source.history.length > 0) {
    let cursor: string | undefined;
    do {
      const page = await store.listHistory(userId, {
        entryId,
        limit: 500,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const h of page.records) stored.set(key(h.unitId, h.openedAt), h.durationMs);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }
  // the file may repeat a record; the longest duration is the one addHistory would keep
  const wanted = new Map<string, HistoryRecord>();
  for (const h of source.history) {
    const k = key(h.unitId, h.openedAt);
    const seen = wanted.get(k);
    if (!seen || h.durationMs > seen.durationMs) {
      wanted.set(k, { entryId, unitId: h.unitId, openedAt: h.openedAt, durationMs: h.durationMs });
    }
  }
  for (const [k, record] of wanted) {
    const had = stored.get(k);
    if (had === undefined || record.durationMs > had) plan.history.push(record);
  }
}

/** Entries of the file sharing a workId that the library does not have as one work yet. */
function workLinks(plans: EntryPlan[]): EntryPlan[][] {
  const groups = new Map<string, EntryPlan[]>();
  for (const plan of plans) {
    const workId = plan.source.workId;
    if (workId === undefined) continue;
    const group = groups.get(workId) ?? [];
    group.push(plan);
    groups.set(workId, group);
  }
  const links: EntryPlan[][] = [];
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const first = group[0]?.existing?.workId;
    const linked = first !== undefined && group.every((p) => p.existing?.workId === first);
    if (!linked) links.push(group);
  }
  return links;
}

function entryIdOf(plan: EntryPlan): string {
  return (plan.existing?.entryId ?? plan.add?.entryId) as string;
}

function remapCategory(plans: EntryPlan[], from: string, to: string): void {
  const swap = (ids: string[]) => ids.map((id) => (id === from ? to : id));
  for (const plan of plans) {
    if (plan.add?.categoryIds) plan.add.categoryIds = swap(plan.add.categoryIds);
    if (plan.categoryIds) plan.categoryIds = swap(plan.categoryIds);
  }
}

async function applyEntry(store: LibraryStore, userId: string, plan: EntryPlan, now: number): Promise<void> {
  let entryId = entryIdOf(plan);
  if (plan.add) {
    const { entry, created } = await store.addEntry(plan.add);
    if (!created) {
      // another client added it since the plan; the writes follow it to that entry
      entryId = entry.entryId;
      plan.existing = entry;
      plan.add = undefined;
      plan.history = plan.history.map((h) => ({ ...h, entryId }));
    }
  }
  if (plan.categoryIds) await store.updateEntry(userId, entryId, { categoryIds: plan.categoryIds }, now);
  if (plan.writes.length > 0) await store.writeProgress(userId, entryId, plan.writes, now);
  if (plan.history.length > 0) await store.addHistory(userId, plan.history);
}
