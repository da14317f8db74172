import { type Collection, type Filter, MongoClient, MongoServerError, type Sort, type UpdateFilter } from 'mongodb';
import type { TrackedWork } from '../updates/tracked-works.js';
import { KeyedLock } from './keyed-lock.js';
import {
  checkLimit,
  decodeEntryCursor,
  decodeHistoryCursor,
  encodeEntryCursor,
  encodeHistoryCursor,
} from './library-cursor.js';
import {
  type Category,
  CategoryNameTakenError,
  EntryExistsError,
  type EntryPage,
  type EntryPatch,
  type EntryQuery,
  type EntrySort,
  type HistoryPage,
  type HistoryQuery,
  type HistoryRecord,
  type LibraryEntry,
  type LibraryMediaKind,
  type LibraryStatus,
  type LibraryStore,
  type MoveResult,
  type MoveTarget,
  type NewEntry,
  type Orphaned,
  type ProgressWrite,
  type UnitProgress,
  UnknownCategoryError,
} from './library-store.js';
import { foldText } from './library-text.js';
import { planHistoryMove, planProgressMove } from './move-plan.js';
import { mergeProgress } from './progress-merge.js';

interface EntryDoc {
  /** the entryId */
  _id: string;
  userId: string;
  sourceId: string;
  mediaId: string;
  title: string;
  titleFold: string;
  kind: LibraryMediaKind;
  coverUrl?: string;
  sourceName: string;
  status: LibraryStatus;
  favourite: boolean;
  notes: string;
  /** a set; reads order it by the user's categories */
  categoryIds: string[];
  addedAt: number;
  updatedAt: number;
  /** null rather than absent, so "has no time" is one equality filter */
  lastReadAt: number | null;
  unitCount: number;
  readCount: number;
  lastUnitAt: number | null;
  orphaned?: Orphaned | null;
  workId?: string | null;
}

interface CategoryDoc {
  /** JSON of [userId, categoryId]: category ids are unique per user only */
  _id: string;
  userId: string;
  categoryId: string;
  name: string;
  nameFold: string;
  position: number;
}

/**
 * One version of a progress row. A change inserts the next version, whose _id only one writer
 * can insert; the highest version is the row, older ones are removed after it.
 */
interface ProgressDoc extends Omit<UnitProgress, 'unitNumber' | 'unitTitle'> {
  /** JSON of [entryId, unitId, version] */
  _id: string;
  unitNumber: number | null;
  unitTitle: string | null;
  userId: string;
  version: number;
}

interface HistoryDoc extends HistoryRecord {
  /** JSON of [entryId, unitId, openedAt] */
  _id: string;
  userId: string;
}

const categoryKey = (userId: string, categoryId: string) => JSON.stringify([userId, categoryId]);
const progressKey = (entryId: string, unitId: string, version: number) => JSON.stringify([entryId, unitId, version]);
const historyKey = (r: HistoryRecord) => JSON.stringify([r.entryId, r.unitId, r.openedAt]);

/** How often a progress write re-reads a row another writer changed before giving up. */
const MAX_WRITE_ATTEMPTS = 50;
/** How often the entry's readCount and lastReadAt are stored again when another write undid them. */
const MAX_RECOUNT_ATTEMPTS = 10;

const SORT_FIELDS: Record<EntrySort, { field: keyof EntryDoc; nullable: boolean; ascending: boolean }> = {
  title: { field: 'titleFold', nullable: false, ascending: true },
  added: { field: 'addedAt', nullable: false, ascending: false },
  last_read: { field: 'lastReadAt', nullable: true, ascending: false },
  last_updated: { field: 'lastUnitAt', nullable: true, ascending: false },
};

function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function toProgress(doc: ProgressDoc): UnitProgress {
  const { _id, userId, version, unitNumber, unitTitle, ...rest } = doc;
  return {
    ...rest,
    ...(unitNumber === undefined || unitNumber === null ? {} : { unitNumber }),
    ...(unitTitle === undefined || unitTitle === null ? {} : { unitTitle }),
  };
}

function toHistory(doc: HistoryDoc): HistoryRecord {
  return { entryId: doc.entryId, unitId: doc.unitId, openedAt: doc.openedAt, durationMs: doc.durationMs };
}

function toCategory(doc: CategoryDoc): Category {
  return { categoryId: doc.categoryId, userId: doc.userId, name: doc.name, position: doc.position };
}

/**
 * Libraries in MongoDB: one document per entry, category, progress row and history record. Every
 * write is a single-document atomic update or an idempotent upsert (FerretDB has no
 * multi-document transactions); progress rows carry a version so concurrent writers merge instead
 * of overwriting each other. Where a change spans documents the comment says what a transaction
 * of a real MongoDB would add.
 */
export class MongoLibraryStore implements LibraryStore {
  /**
   * FerretDB applies an update as a read of the whole document and a write of it back, so two
   * updates of one entry at once can undo each other even on different fields (MongoDB applies
   * each atomically). Every update of an entry document therefore goes through this lock, by
   * entry id: one store is one process's writer. Stores of several processes on one FerretDB
   * stay exposed; the progress rows are safe either way (see replaceRow).
   */
  private readonly entryLocks = new KeyedLock();

  private constructor(
    private readonly client: MongoClient,
    private readonly entries: Collection<EntryDoc>,
    private readonly categories: Collection<CategoryDoc>,
    private readonly progress: Collection<ProgressDoc>,
    private readonly history: Collection<HistoryDoc>,
  ) {}

  static async connect(url: string, database = 'awasm'): Promise<MongoLibraryStore> {
    const client = new MongoClient(url, { writeConcern: { w: 'majority' }, serverSelectionTimeoutMS: 10_000 });
    await client.connect();
    try {
      const db = client.db(database);
      const entries = db.collection<EntryDoc>('library_entries');
      const categories = db.collection<CategoryDoc>('library_categories');
      const progress = db.collection<ProgressDoc>('library_progress');
      const history = db.collection<HistoryDoc>('library_history');
      await entries.createIndex({ userId: 1, sourceId: 1, mediaId: 1 }, { unique: true });
      await entries.createIndex({ userId: 1, titleFold: 1, _id: 1 });
      await entries.createIndex({ userId: 1, addedAt: 1, _id: 1 });
      await entries.createIndex({ userId: 1, lastReadAt: 1, _id: 1 });
      await entries.createIndex({ userId: 1, lastUnitAt: 1, _id: 1 });
      await entries.createIndex({ sourceId: 1, mediaId: 1 });
      await categories.createIndex({ userId: 1, nameFold: 1 }, { unique: true });
      await categories.createIndex({ userId: 1, position: 1 });
      await progress.createIndex({ entryId: 1, unitId: 1, version: -1 });
      await progress.createIndex({ userId: 1 });
      await history.createIndex({ userId: 1, openedAt: -1, entryId: -1, unitId: -1 });
      await history.createIndex({ entryId: 1 });
      return new MongoLibraryStore(client, entries, categories, progress, history);
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  /** Updates one entry under its lock; true when it changed. */
  private async updateEntryDoc(
    entryId: string,
    filter: Filter<EntryDoc>,
    update: UpdateFilter<EntryDoc>,
  ): Promise<boolean> {
    return this.entryLocks.run(
      entryId,
      async () => (await this.entries.updateOne({ $and: [{ _id: entryId }, filter] }, update)).modifiedCount > 0,
    );
  }

  /** Updates each entry the filter matches, one by one under its lock; returns how many changed. */
  private async updateEntryDocs(filter: Filter<EntryDoc>, update: UpdateFilter<EntryDoc>): Promise<number> {
    const ids = (await this.entries.find(filter, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
    let changed = 0;
    for (const id of ids) if (await this.updateEntryDoc(id, filter, update)) changed += 1;
    return changed;
  }

  /** The user's category positions by id, for ordering entries' categories. */
  private async positions(userId: string): Promise<Map<string, number>> {
    const docs = await this.categories.find({ userId }).toArray();
    return new Map(docs.map((d) => [d.categoryId, d.position]));
  }

  private toEntry(doc: EntryDoc, positions: ReadonlyMap<string, number>): LibraryEntry {
    // ids of a category removed half-way (see removeCategory) are not the user's any more
    const categoryIds = doc.categoryIds
      .filter((id) => positions.has(id))
      .sort((a, b) => (positions.get(a) as number) - (positions.get(b) as number));
    return {
      entryId: doc._id,
      userId: doc.userId,
      sourceId: doc.sourceId,
      mediaId: doc.mediaId,
      title: doc.title,
      kind: doc.kind,
      ...(doc.coverUrl === undefined || doc.coverUrl === null ? {} : { coverUrl: doc.coverUrl }),
      sourceName: doc.sourceName,
      status: doc.status,
      favourite: doc.favourite,
      notes: doc.notes,
      categoryIds,
      addedAt: doc.addedAt,
      updatedAt: doc.updatedAt,
      ...(doc.lastReadAt === null ? {} : { lastReadAt: doc.lastReadAt }),
      unitCount: doc.unitCount,
      readCount: doc.readCount,
      ...(doc.lastUnitAt === null ? {} : { lastUnitAt: doc.lastUnitAt }),
      ...(doc.orphaned === undefined || doc.orphaned === null
        ? {}
        : {
            orphaned: {
              reason: doc.orphaned.reason,
              ...(doc.orphaned.detail === undefined || doc.orphaned.detail === null
                ? {}
                : { detail: doc.orphaned.detail }),
            },
          }),
      ...(doc.workId === undefined || doc.workId === null ? {} : { workId: doc.workId }),
    };
  }

  private async loadEntry(filter: Filter<EntryDoc>): Promise<LibraryEntry | undefined> {
    const doc = await this.entries.findOne(filter);
    return doc ? this.toEntry(doc, await this.positions(doc.userId)) : undefined;
  }

  /** The distinct ids, each checked to be one of the user's categories; throws UnknownCategoryError. */
  private async checkCategories(userId: string, categoryIds: readonly string[]): Promise<string[]> {
    const distinct = [...new Set(categoryIds)];
    if (distinct.length === 0) return [];
    const found = await this.categories.find({ _id: { $in: distinct.map((id) => categoryKey(userId, id)) } }).toArray();
    const known = new Set(found.map((c) => c.categoryId));
    const unknown = distinct.find((id) => !known.has(id));
    if (unknown !== undefined) throw new UnknownCategoryError(unknown);
    return distinct;
  }

  async addEntry(entry: NewEntry): Promise<{ entry: LibraryEntry; created: boolean }> {
    const existing = await this.loadEntry({ userId: entry.userId, sourceId: entry.sourceId, mediaId: entry.mediaId });
    if (existing) return { entry: existing, created: false };
    const categoryIds = await this.checkCategories(entry.userId, entry.categoryIds ?? []);
    const doc: EntryDoc = {
      _id: entry.entryId,
      userId: entry.userId,
      sourceId: entry.sourceId,
      mediaId: entry.mediaId,
      title: entry.title,
      titleFold: foldText(entry.title),
      kind: entry.kind,
      ...(entry.coverUrl === undefined ? {} : { coverUrl: entry.coverUrl }),
      sourceName: entry.sourceName,
      status: entry.status ?? 'reading',
      favourite: entry.favourite ?? false,
      notes: entry.notes ?? '',
      categoryIds,
      addedAt: entry.addedAt,
      updatedAt: entry.addedAt,
      lastReadAt: null,
      unitCount: 0,
      readCount: 0,
      lastUnitAt: null,
      ...(entry.orphaned === undefined ? {} : { orphaned: { ...entry.orphaned } }),
    };
    try {
      await this.entries.insertOne(doc);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      // a concurrent add of the same work won: that one is the entry
      const winner = await this.loadEntry({ userId: entry.userId, sourceId: entry.sourceId, mediaId: entry.mediaId });
      if (winner) return { entry: winner, created: false };
      throw error;
    }
    return { entry: (await this.loadEntry({ _id: entry.entryId })) as LibraryEntry, created: true };
  }

  async getEntry(userId: string, entryId: string): Promise<LibraryEntry | undefined> {
    return this.loadEntry({ _id: entryId, userId });
  }

  async findEntry(userId: string, sourceId: string, mediaId: string): Promise<LibraryEntry | undefined> {
    return this.loadEntry({ userId, sourceId, mediaId });
  }

  async updateEntry(userId: string, entryId: string, patch: EntryPatch, at: number): Promise<LibraryEntry | undefined> {
    return this.entryLocks.run(entryId, () => this.patchEntry(userId, entryId, patch, at));
  }

  private async patchEntry(
    userId: string,
    entryId: string,
    patch: EntryPatch,
    at: number,
  ): Promise<LibraryEntry | undefined> {
    const before = await this.getEntry(userId, entryId);
    if (!before) return undefined;
    const set: Partial<EntryDoc> = {};
    if (patch.status !== undefined && patch.status !== before.status) set.status = patch.status;
    if (patch.favourite !== undefined && patch.favourite !== before.favourite) set.favourite = patch.favourite;
    if (patch.notes !== undefined && patch.notes !== before.notes) set.notes = patch.notes;
    if (patch.title !== undefined && patch.title !== before.title) {
      set.title = patch.title;
      set.titleFold = foldText(patch.title);
    }
    if (patch.coverUrl !== undefined && patch.coverUrl !== before.coverUrl) set.coverUrl = patch.coverUrl;
    if (patch.categoryIds !== undefined) {
      const categoryIds = await this.checkCategories(userId, patch.categoryIds);
      const same =
        categoryIds.length === before.categoryIds.length && categoryIds.every((id) => before.categoryIds.includes(id));
      if (!same) set.categoryIds = categoryIds;
    }
    // a repeated patch leaves updatedAt alone, like a repeated progress write
    if (Object.keys(set).length === 0) return before;
    await this.entries.updateOne({ _id: entryId, userId }, { $set: { ...set, updatedAt: at } });
    return this.getEntry(userId, entryId);
  }

  async removeEntry(userId: string, entryId: string): Promise<boolean> {
    if ((await this.entries.countDocuments({ _id: entryId, userId })) === 0) return false;
    // A transaction would remove all of it at once. Here the rows go first, so a crash leaves an
    // entry to remove again rather than rows of no entry; then once more after the entry, for a
    // progress write that raced the removal.
    await this.progress.deleteMany({ entryId, userId });
    await this.history.deleteMany({ entryId, userId });
    const removed = (await this.entries.deleteOne({ _id: entryId, userId })).deletedCount > 0;
    await this.progress.deleteMany({ entryId, userId });
    await this.history.deleteMany({ entryId, userId });
    return removed;
  }

  async listEntries(userId: string, query: EntryQuery): Promise<EntryPage> {
    checkLimit(query.limit);
    const reverse = query.reverse === true;
    const after = query.cursor === undefined ? undefined : decodeEntryCursor(query.cursor, query.sort, reverse);
    const { field, nullable, ascending } = SORT_FIELDS[query.sort];
    const up = ascending !== reverse;
    const beyond = up ? '$gt' : '$lt';
    const direction = up ? 1 : -1;

    const filters: Filter<EntryDoc>[] = [{ userId }];
    if (query.kinds && query.kinds.length > 0) filters.push({ kind: { $in: query.kinds } });
    if (query.statuses && query.statuses.length > 0) filters.push({ status: { $in: query.statuses } });
    if (query.categoryId !== undefined) filters.push({ categoryIds: query.categoryId });
    if (query.orphanedOnly) filters.push({ orphaned: { $ne: null } });
    const text = query.text === undefined ? '' : foldText(query.text);
    if (text !== '') filters.push({ titleFold: { $regex: escapeRegex(text) } });

    // readCount < unitCount compares two fields, which FerretDB cannot filter on ($expr): the
    // scan checks it, reading the sorted range until the page is full
    const wanted = query.limit + 1;
    const found: EntryDoc[] = [];
    const collect = async (filter: Filter<EntryDoc>, sort: Sort) => {
      const cursor = this.entries.find(filter).sort(sort);
      if (!query.unreadOnly) cursor.limit(wanted - found.length);
      try {
        for await (const doc of cursor) {
          if (query.unreadOnly && doc.readCount >= doc.unitCount) continue;
          found.push(doc);
          if (found.length >= wanted) break;
        }
      } finally {
        await cursor.close();
      }
    };

    // entries with the sorted value come first, then (for the optional times) those without it
    if (after === undefined || after.key !== undefined) {
      const part: Filter<EntryDoc>[] = [...filters];
      if (nullable) part.push({ [field]: { $ne: null } } as Filter<EntryDoc>);
      if (after?.key !== undefined) {
        part.push({
          $or: [{ [field]: { [beyond]: after.key } }, { [field]: after.key, _id: { [beyond]: after.entryId } }],
        } as Filter<EntryDoc>);
      }
      await collect({ $and: part }, { [field]: direction, _id: direction });
    }
    if (nullable && found.length < wanted) {
      const part: Filter<EntryDoc>[] = [...filters, { [field]: null } as Filter<EntryDoc>];
      if (after !== undefined && after.key === undefined) part.push({ _id: { [beyond]: after.entryId } });
      await collect({ $and: part }, { _id: direction });
    }

    const positions = await this.positions(userId);
    const entries = found.slice(0, query.limit).map((doc) => this.toEntry(doc, positions));
    const last = found.slice(0, query.limit).at(-1);
    if (found.length <= query.limit || !last) return { entries };
    const key = last[field] as string | number | null;
    return {
      entries,
      nextCursor: encodeEntryCursor({ sort: query.sort, reverse, key: key ?? undefined, entryId: last._id }),
    };
  }

  async addCategory(userId: string, categoryId: string, name: string): Promise<Category> {
    const existing = await this.categories.findOne({ _id: categoryKey(userId, categoryId) });
    // a retried add of the same category is harmless
    if (existing && existing.nameFold === foldText(name)) return toCategory(existing);
    if (existing) throw new CategoryNameTakenError(name);
    // two adds at once may share a position; listing breaks the tie by id and a reorder renumbers
    const lastOne = await this.categories.find({ userId }).sort({ position: -1 }).limit(1).next();
    const doc: CategoryDoc = {
      _id: categoryKey(userId, categoryId),
      userId,
      categoryId,
      name,
      nameFold: foldText(name),
      position: lastOne ? lastOne.position + 1 : 0,
    };
    try {
      await this.categories.insertOne(doc);
    } catch (error) {
      if (isDuplicateKey(error)) throw new CategoryNameTakenError(name);
      throw error;
    }
    return toCategory(doc);
  }

  async listCategories(userId: string): Promise<Category[]> {
    return (await this.categories.find({ userId }).sort({ position: 1, categoryId: 1 }).toArray()).map(toCategory);
  }

  async renameCategory(userId: string, categoryId: string, name: string): Promise<Category | undefined> {
    // FerretDB reports a findAndModify that breaks a unique index as an internal error, not 11000
    const holder = await this.categories.findOne({ userId, nameFold: foldText(name) });
    if (holder && holder.categoryId !== categoryId) throw new CategoryNameTakenError(name);
    try {
      const doc = await this.categories.findOneAndUpdate(
        { _id: categoryKey(userId, categoryId) },
        { $set: { name, nameFold: foldText(name) } },
        { returnDocument: 'after' },
      );
      return doc ? toCategory(doc) : undefined;
    } catch (error) {
      if (isDuplicateKey(error)) throw new CategoryNameTakenError(name);
      throw error;
    }
  }

  async reorderCategories(userId: string, categoryIds: string[]): Promise<Category[]> {
    const current = await this.categories.find({ userId }).toArray();
    const known = new Set(current.map((c) => c.categoryId));
    const seen = new Set<string>();
    for (const id of categoryIds) {
      if (!known.has(id) || seen.has(id)) throw new UnknownCategoryError(id);
      seen.add(id);
    }
    const missing = current.find((c) => !seen.has(c.categoryId));
    if (missing) throw new UnknownCategoryError(missing.categoryId);
    // one update per category: a transaction would make the new order appear at once
    for (const [position, id] of categoryIds.entries()) {
      await this.categories.updateOne({ _id: categoryKey(userId, id) }, { $set: { position } });
    }
    return this.listCategories(userId);
  }

  async removeCategory(userId: string, categoryId: string): Promise<boolean> {
    const removed = await this.categories.findOneAndDelete({ _id: categoryKey(userId, categoryId) });
    if (!removed) return false;
    // Without a transaction the entries follow one update later; until then reads drop the id,
    // since it is no longer one of the user's categories.
    await this.updateEntryDocs({ userId, categoryIds: categoryId }, { $pull: { categoryIds: categoryId } });
    await this.categories.updateMany({ userId, position: { $gt: removed.position } }, { $inc: { position: -1 } });
    return true;
  }

  /** The newest version of each of the entry's rows (older ones linger only until their writer removes them). */
  private async latestRows(entryId: string, summaryOnly = false): Promise<ProgressDoc[]> {
    const projection = summaryOnly ? { unitId: 1, version: 1, read: 1, positionAt: 1, readAt: 1 } : {};
    const docs = await this.progress.find({ entryId }, { projection }).sort({ unitId: 1, version: -1 }).toArray();
    return docs.filter((doc, i) => i === 0 || (docs[i - 1] as ProgressDoc).unitId !== doc.unitId);
  }

  private async latestRow(entryId: string, unitId: string): Promise<ProgressDoc | null> {
    return this.progress.find({ entryId, unitId }).sort({ version: -1 }).limit(1).next();
  }

  /**
   * Replaces a row by what `next` makes of its newest version: by inserting the next version,
   * which fails for every writer but one. FerretDB applies a filtered update as a read and a
   * write of its own, so a version check in an update filter would not stop a second writer; a
   * unique _id does. Undefined from `next` means no change; a conflict reads the row again.
   */
  private async replaceRow(
    userId: string,
    entryId: string,
    unitId: string,
    next: (stored: UnitProgress | undefined) => UnitProgress | undefined,
  ): Promise<{ row: UnitProgress | undefined; changed: boolean }> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt += 1) {
      const stored = await this.latestRow(entryId, unitId);
      const row = next(stored ? toProgress(stored) : undefined);
      if (row === undefined) return { row: stored ? toProgress(stored) : undefined, changed: false };
      const version = (stored?.version ?? 0) + 1;
      const _id = progressKey(entryId, unitId, version);
      try {
        await this.progress.insertOne({
          ...row,
          _id,
          unitId,
          unitNumber: row.unitNumber ?? null,
          unitTitle: row.unitTitle ?? null,
          userId,
          version,
        });
      } catch (error) {
        if (isDuplicateKey(error)) continue;
        throw error;
      }
      // A version removed by a newer writer leaves a gap that a writer who read an old row can
      // fill; a newer version above ours means that happened, so ours is stale.
      if ((await this.progress.countDocuments({ entryId, unitId, version: { $gt: version } })) > 0) {
        await this.progress.deleteOne({ _id });
        continue;
      }
      await this.progress.deleteMany({ entryId, unitId, version: { $lt: version } });
      return { row, changed: true };
    }
    throw new Error(`progress of unit '${unitId.slice(0, 64)}' kept changing under ${MAX_WRITE_ATTEMPTS} writes`);
  }

  /**
   * Stores the entry's readCount and lastReadAt as its rows give them (lastReadAt at least
   * `readAt`), then checks again: FerretDB writes a whole document back on update, so a
   * concurrent update of the entry may undo them, and whoever wrote last checks last.
   */
  private async recount(entryId: string, readAt: number | undefined): Promise<void> {
    for (let attempt = 0; attempt < MAX_RECOUNT_ATTEMPTS; attempt += 1) {
      const settled = await this.entryLocks.run(entryId, async () => {
        const entry = await this.entries.findOne({ _id: entryId }, { projection: { readCount: 1, lastReadAt: 1 } });
        if (!entry) return true;
        const rows = await this.latestRows(entryId, true);
        const readCount = rows.filter((r) => r.read).length;
        const newest = Math.max(readAt ?? 0, ...rows.map((r) => Math.max(r.positionAt, r.readAt)));
        const lastReadAt = newest > 0 ? Math.max(entry.lastReadAt ?? newest, newest) : entry.lastReadAt;
        if (entry.readCount === readCount && entry.lastReadAt === lastReadAt) return true;
        await this.entries.updateOne({ _id: entryId }, { $set: { readCount, lastReadAt } });
        return false;
      });
      if (settled) return;
    }
  }

  async writeProgress(
    userId: string,
    entryId: string,
    writes: ProgressWrite[],
    at: number,
  ): Promise<UnitProgress[] | undefined> {
    if ((await this.entries.countDocuments({ _id: entryId, userId })) === 0) return undefined;
    const rows = new Map<string, UnitProgress | undefined>();
    let lastReadAt: number | undefined;
    for (const write of writes) {
      const { row, changed } = await this.replaceRow(userId, entryId, write.unitId, (stored) =>
        mergeProgress(entryId, stored, write, at),
      );
      rows.set(write.unitId, row);
      if (changed) lastReadAt = Math.max(lastReadAt ?? write.clientTime, write.clientTime);
    }
    if (lastReadAt !== undefined) await this.recount(entryId, lastReadAt);
    return [...rows.values()].filter((row): row is UnitProgress => row !== undefined);
  }

  async listProgress(userId: string, entryId: string): Promise<UnitProgress[] | undefined> {
    if ((await this.entries.countDocuments({ _id: entryId, userId })) === 0) return undefined;
    return (await this.latestRows(entryId)).map(toProgress);
  }

  async addHistory(userId: string, records: HistoryRecord[]): Promise<number> {
    const entryIds = [...new Set(records.map((r) => r.entryId))];
    const owned = new Set(
      (await this.entries.find({ _id: { $in: entryIds }, userId }, { projection: { _id: 1 } }).toArray()).map(
        (e) => e._id,
      ),
    );
    let changed = 0;
    for (const r of records) {
      if (!owned.has(r.entryId)) continue;
      // An idempotent upsert: the same record again changes nothing, a longer one lengthens it.
      // Two adds of one record at once may keep the shorter on FerretDB (whole-document write
      // back); MongoDB applies $max atomically.
      const result = await this.history.updateOne(
        { _id: historyKey(r) },
        {
          $setOnInsert: { userId, entryId: r.entryId, unitId: r.unitId, openedAt: r.openedAt },
          $max: { durationMs: r.durationMs },
        },
        { upsert: true },
      );
      changed += result.upsertedCount + result.modifiedCount;
    }
    return changed;
  }

  async listHistory(userId: string, query: HistoryQuery): Promise<HistoryPage> {
    checkLimit(query.limit);
    const after = query.cursor === undefined ? undefined : decodeHistoryCursor(query.cursor);
    const filters: Filter<HistoryDoc>[] = [{ userId }];
    if (query.entryId !== undefined) filters.push({ entryId: query.entryId });
    if (after) {
      filters.push({
        $or: [
          { openedAt: { $lt: after.openedAt } },
          { openedAt: after.openedAt, entryId: { $lt: after.entryId } },
          { openedAt: after.openedAt, entryId: after.entryId, unitId: { $lt: after.unitId } },
        ],
      });
    }
    const docs = await this.history
      .find({ $and: filters })
      .sort({ openedAt: -1, entryId: -1, unitId: -1 })
      .limit(query.limit + 1)
      .toArray();
    const records = docs.slice(0, query.limit).map(toHistory);
    const last = records.at(-1);
    return docs.length > query.limit && last ? { records, nextCursor: encodeHistoryCursor(last) } : { records };
  }

  async linkEntries(userId: string, entryIds: string[], newWorkId: string, at: number): Promise<string | undefined> {
    const distinct = [...new Set(entryIds)];
    if (distinct.length === 0) return undefined;
    const docs = await this.entries.find({ _id: { $in: distinct }, userId }).toArray();
    if (docs.length !== distinct.length) return undefined;
    const byId = new Map(docs.map((d) => [d._id, d]));
    const groups = [
      ...new Set(distinct.flatMap((id) => (byId.get(id)?.workId ? [byId.get(id)?.workId as string] : []))),
    ];
    const workId = groups[0] ?? newWorkId;
    // the works the entries were in become one, so linking is transitive
    const others = groups.filter((g) => g !== workId);
    if (others.length > 0) {
      await this.updateEntryDocs({ userId, workId: { $in: others } }, { $set: { workId, updatedAt: at } });
    }
    await this.updateEntryDocs(
      { _id: { $in: distinct }, userId, workId: { $ne: workId } },
      { $set: { workId, updatedAt: at } },
    );
    return workId;
  }

  async unlinkEntry(userId: string, entryId: string, at: number): Promise<boolean> {
    if ((await this.entries.countDocuments({ _id: entryId, userId })) === 0) return false;
    await this.updateEntryDoc(
      entryId,
      { userId, workId: { $ne: null } },
      {
        $unset: { workId: '' },
        $set: { updatedAt: at },
      },
    );
    return true;
  }

  async moveEntry(
    userId: string,
    entryId: string,
    target: MoveTarget,
    unitMapping: ReadonlyMap<string, string>,
    at: number,
  ): Promise<MoveResult | undefined> {
    if ((await this.entries.countDocuments({ _id: entryId, userId })) === 0) return undefined;
    const clashing = () =>
      this.loadEntry({ userId, sourceId: target.sourceId, mediaId: target.mediaId, _id: { $ne: entryId } });
    const clash = await clashing();
    if (clash) throw new EntryExistsError(clash);

    // A transaction would move the entry, its progress and its history at once. Here the entry
    // moves first (the unique index refuses a target added meanwhile), then the rows are written
    // under their new unit ids before the old ones go, so a crash loses no progress.
    try {
      await this.updateEntryDoc(
        entryId,
        { userId },
        {
          $set: {
            sourceId: target.sourceId,
            mediaId: target.mediaId,
            title: target.title,
            titleFold: foldText(target.title),
            kind: target.kind,
            sourceName: target.sourceName,
            // the unit count was the old source's; the next refresh of the target sets it
            unitCount: 0,
            lastUnitAt: null,
            updatedAt: at,
            ...(target.coverUrl === undefined ? {} : { coverUrl: target.coverUrl }),
          },
          $unset: { orphaned: '', ...(target.coverUrl === undefined ? { coverUrl: '' } : {}) },
        },
      );
    } catch (error) {
      const winner = isDuplicateKey(error) ? await clashing() : undefined;
      if (winner) throw new EntryExistsError(winner);
      throw error;
    }

    const plan = planProgressMove((await this.latestRows(entryId)).map(toProgress), unitMapping, at);
    for (const row of plan.rows) await this.replaceRow(userId, entryId, row.unitId, () => row);
    await this.progress.deleteMany({ entryId, unitId: { $nin: plan.rows.map((r) => r.unitId) } });

    const records = (await this.history.find({ entryId }).toArray()).map(toHistory);
    const moved = planHistoryMove(records, unitMapping);
    for (const r of moved) {
      await this.history.updateOne(
        { _id: historyKey(r) },
        {
          $setOnInsert: { userId, entryId, unitId: r.unitId, openedAt: r.openedAt },
          $max: { durationMs: r.durationMs },
        },
        { upsert: true },
      );
    }
    await this.history.deleteMany({ entryId, _id: { $nin: moved.map(historyKey) } });

    await this.recount(entryId, undefined);
    return {
      entry: (await this.getEntry(userId, entryId)) as LibraryEntry,
      moved: plan.rows.length,
      unmatched: plan.unmatched,
    };
  }

  async markOrphaned(sourceId: string, orphaned: Orphaned): Promise<number> {
    const value: Orphaned = {
      reason: orphaned.reason,
      ...(orphaned.detail === undefined ? {} : { detail: orphaned.detail }),
    };
    return this.updateEntryDocs(
      {
        sourceId,
        $or: [{ 'orphaned.reason': { $ne: orphaned.reason } }, { 'orphaned.detail': { $ne: orphaned.detail ?? null } }],
      } as Filter<EntryDoc>,
      { $set: { orphaned: value } },
    );
  }

  async clearOrphaned(sourceId: string): Promise<number> {
    return this.updateEntryDocs({ sourceId, orphaned: { $ne: null } }, { $unset: { orphaned: '' } });
  }

  async trackedWorks(): Promise<TrackedWork[]> {
    const docs = await this.entries
      .find(
        { orphaned: null },
        {
          projection: { _id: 1, userId: 1, sourceId: 1, mediaId: 1, addedAt: 1, status: 1 },
        },
      )
      .sort({ sourceId: 1, mediaId: 1, addedAt: 1, userId: 1 })
      .toArray();
    const works: TrackedWork[] = [];
    for (const doc of docs) {
      let work = works.at(-1);
      if (!work || work.sourceId !== doc.sourceId || work.mediaId !== doc.mediaId) {
        work = { sourceId: doc.sourceId, mediaId: doc.mediaId, completed: true, followers: [] };
        works.push(work);
      }
      if (doc.status !== 'completed') work.completed = false;
      work.followers.push({ userId: doc.userId, entryId: doc._id, addedAt: doc.addedAt });
    }
    return works;
  }

  async recordUnits(
    sourceId: string,
    mediaId: string,
    unitCount: number,
    lastUnitAt: number | undefined,
  ): Promise<number> {
    const last = lastUnitAt ?? null;
    return this.updateEntryDocs(
      { sourceId, mediaId, $or: [{ unitCount: { $ne: unitCount } }, { lastUnitAt: { $ne: last } }] },
      { $set: { unitCount, lastUnitAt: last } },
    );
  }

  async removeUser(userId: string): Promise<number> {
    // rows first, as in removeEntry: a crash leaves entries to remove again, never rows of none
    await this.progress.deleteMany({ userId });
    await this.history.deleteMany({ userId });
    const removed = (await this.entries.deleteMany({ userId })).deletedCount;
    await this.categories.deleteMany({ userId });
    await this.progress.deleteMany({ userId });
    await this.history.deleteMany({ userId });
    return removed;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
