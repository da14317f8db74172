import type Database from 'better-sqlite3';
import { type CatalogDatabase, type CatalogDatabaseSource, useCatalogDatabase } from '../catalog-database.js';
import type { TrackedWork } from '../updates/tracked-works.js';
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
  type OrphanReason,
  type ProgressWrite,
  type UnitProgress,
  UnknownCategoryError,
} from './library-store.js';
import { foldText } from './library-text.js';
import { planHistoryMove, planProgressMove } from './move-plan.js';
import { mergeProgress } from './progress-merge.js';

interface EntryRow {
  entry_id: string;
  user_id: string;
  source_id: string;
  media_id: string;
  title: string;
  kind: string;
  cover_url: string | null;
  source_name: string;
  status: string;
  favourite: number;
  notes: string;
  added_at: number;
  updated_at: number;
  last_read_at: number | null;
  unit_count: number;
  read_count: number;
  last_unit_at: number | null;
  orphan_reason: string | null;
  orphan_detail: string | null;
  work_id: string | null;
}

interface ProgressRow {
  entry_id: string;
  unit_id: string;
  unit_number: number | null;
  unit_title: string | null;
  read: number;
  position: number;
  total: number;
  position_at: number;
  read_at: number;
  updated_at: number;
}

interface CategoryRow {
  user_id: string;
  category_id: string;
  name: string;
  position: number;
}

interface HistoryRow {
  entry_id: string;
  unit_id: string;
  opened_at: number;
  duration_ms: number;
}

function toEntry(row: EntryRow, categoryIds: string[]): LibraryEntry {
  return {
    entryId: row.entry_id,
    userId: row.user_id,
    sourceId: row.source_id,
    mediaId: row.media_id,
    title: row.title,
    kind: row.kind as LibraryMediaKind,
    ...(row.cover_url === null ? {} : { coverUrl: row.cover_url }),
    sourceName: row.source_name,
    status: row.status as LibraryStatus,
    favourite: row.favourite !== 0,
    notes: row.notes,
    categoryIds,
    addedAt: row.added_at,
    updatedAt: row.updated_at,
    ...(row.last_read_at === null ? {} : { lastReadAt: row.last_read_at }),
    unitCount: row.unit_count,
    readCount: row.read_count,
    ...(row.last_unit_at === null ? {} : { lastUnitAt: row.last_unit_at }),
    ...(row.orphan_reason === null
      ? {}
      : {
          orphaned: {
            reason: row.orphan_reason as OrphanReason,
            ...(row.orphan_detail === null ? {} : { detail: row.orphan_detail }),
          },
        }),
    ...(row.work_id === null ? {} : { workId: row.work_id }),
  };
}

function toProgress(row: ProgressRow): UnitProgress {
  return {
    entryId: row.entry_id,
    unitId: row.unit_id,
    ...(row.unit_number === null ? {} : { unitNumber: row.unit_number }),
    ...(row.unit_title === null ? {} : { unitTitle: row.unit_title }),
    read: row.read !== 0,
    position: row.position,
    total: row.total,
    positionAt: row.position_at,
    readAt: row.read_at,
    updatedAt: row.updated_at,
  };
}

function toCategory(row: CategoryRow): Category {
  return { categoryId: row.category_id, userId: row.user_id, name: row.name, position: row.position };
}

function toHistory(row: HistoryRow): HistoryRecord {
  return { entryId: row.entry_id, unitId: row.unit_id, openedAt: row.opened_at, durationMs: row.duration_ms };
}

/** The column each sort orders by, whether it may be empty, and its default direction. */
const SORT_COLUMNS: Record<EntrySort, { column: string; nullable: boolean; ascending: boolean }> = {
  title: { column: 'title_fold', nullable: false, ascending: true },
  added: { column: 'added_at', nullable: false, ascending: false },
  last_read: { column: 'last_read_at', nullable: true, ascending: false },
  last_updated: { column: 'last_unit_at', nullable: true, ascending: false },
};

/** The sort key an entry's cursor carries. */
function sortKey(entry: LibraryEntry, sort: EntrySort): string | number | undefined {
  switch (sort) {
    case 'title':
      return foldText(entry.title);
    case 'added':
      return entry.addedAt;
    case 'last_read':
      return entry.lastReadAt;
    case 'last_updated':
      return entry.lastUnitAt;
  }
}

/** Users' libraries in the `library_*` tables of the catalog's SQLite file (LIBRARY_MIGRATION). */
export class SqliteLibraryStore implements LibraryStore {
  private readonly database: CatalogDatabase;
  private readonly ownsDatabase: boolean;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(source: CatalogDatabaseSource) {
    ({ database: this.database, owned: this.ownsDatabase } = useCatalogDatabase(source));
    this.db = this.database.connection;
  }

  /** The prepared statement of a fixed SQL text, prepared once per store. */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  private entryRow(userId: string, entryId: string): EntryRow | undefined {
    return this.sql('SELECT * FROM library_entries WHERE user_id = ? AND entry_id = ?').get(userId, entryId) as
      | EntryRow
      | undefined;
  }

  /** The entries with their category ids, each list in the user's category order. */
  private withCategories(rows: EntryRow[]): LibraryEntry[] {
    if (rows.length === 0) return [];
    const links = this.db
      .prepare(
        `SELECT ec.entry_id, ec.category_id FROM library_entry_categories ec
         JOIN library_categories c ON c.user_id = ec.user_id AND c.category_id = ec.category_id
         WHERE ec.entry_id IN (${rows.map(() => '?').join(', ')}) ORDER BY c.position`,
      )
      .all(...rows.map((r) => r.entry_id)) as { entry_id: string; category_id: string }[];
    const byEntry = new Map<string, string[]>();
    for (const link of links) {
      const list = byEntry.get(link.entry_id);
      if (list) list.push(link.category_id);
      else byEntry.set(link.entry_id, [link.category_id]);
    }
    return rows.map((row) => toEntry(row, byEntry.get(row.entry_id) ?? []));
  }

  private loadEntry(userId: string, entryId: string): LibraryEntry | undefined {
    const row = this.entryRow(userId, entryId);
    return row ? this.withCategories([row])[0] : undefined;
  }

  /** The distinct ids, each checked to be one of the user's categories; throws UnknownCategoryError. */
  private checkCategories(userId: string, categoryIds: readonly string[]): string[] {
    const distinct = [...new Set(categoryIds)];
    const exists = this.sql('SELECT 1 FROM library_categories WHERE user_id = ? AND category_id = ?');
    for (const id of distinct) if (exists.get(userId, id) === undefined) throw new UnknownCategoryError(id);
    return distinct;
  }

  private setCategories(userId: string, entryId: string, categoryIds: readonly string[]): void {
    this.sql('DELETE FROM library_entry_categories WHERE entry_id = ?').run(entryId);
    const insert = this.sql('INSERT INTO library_entry_categories (entry_id, user_id, category_id) VALUES (?, ?, ?)');
    for (const id of categoryIds) insert.run(entryId, userId, id);
  }

  async addEntry(entry: NewEntry): Promise<{ entry: LibraryEntry; created: boolean }> {
    return this.db.transaction(() => {
      const existing = this.sql(
        'SELECT * FROM library_entries WHERE user_id = ? AND source_id = ? AND media_id = ?',
      ).get(entry.userId, entry.sourceId, entry.mediaId) as EntryRow | undefined;
      if (existing) return { entry: this.withCategories([existing])[0] as LibraryEntry, created: false };
      const categoryIds = this.checkCategories(entry.userId, entry.categoryIds ?? []);
      this.sql(
        `INSERT INTO library_entries (entry_id, user_id, source_id, media_id, title, title_fold, kind, cover_url,
             source_name, status, favourite, notes, added_at, updated_at, orphan_reason, orphan_detail)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        entry.entryId,
        entry.userId,
        entry.sourceId,
        entry.mediaId,
        entry.title,
        foldText(entry.title),
        entry.kind,
        entry.coverUrl ?? null,
        entry.sourceName,
        entry.status ?? 'reading',
        entry.favourite ? 1 : 0,
        entry.notes ?? '',
        entry.addedAt,
        entry.addedAt,
        entry.orphaned?.reason ?? null,
        entry.orphaned?.detail ?? null,
      );
      this.setCategories(entry.userId, entry.entryId, categoryIds);
      return { entry: this.loadEntry(entry.userId, entry.entryId) as LibraryEntry, created: true };
    })();
  }

  async getEntry(userId: string, entryId: string): Promise<LibraryEntry | undefined> {
    return this.loadEntry(userId, entryId);
  }

  async findEntry(userId: string, sourceId: string, mediaId: string): Promise<LibraryEntry | undefined> {
    const row = this.sql('SELECT * FROM library_entries WHERE user_id = ? AND source_id = ? AND media_id = ?').get(
      userId,
      sourceId,
      mediaId,
    ) as EntryRow | undefined;
    return row ? this.withCategories([row])[0] : undefined;
  }

  async updateEntry(userId: string, entryId: string, patch: EntryPatch, at: number): Promise<LibraryEntry | undefined> {
    return this.db.transaction(() => {
      const before = this.loadEntry(userId, entryId);
      if (!before) return undefined;
      const categoryIds =
        patch.categoryIds === undefined ? before.categoryIds : this.checkCategories(userId, patch.categoryIds);
      const next = {
        status: patch.status ?? before.status,
        favourite: patch.favourite ?? before.favourite,
        notes: patch.notes ?? before.notes,
        title: patch.title ?? before.title,
        coverUrl: patch.coverUrl ?? before.coverUrl,
      };
      const sameCategories =
        categoryIds.length === before.categoryIds.length && categoryIds.every((id) => before.categoryIds.includes(id));
      const changed =
        next.status !== before.status ||
        next.favourite !== before.favourite ||
        next.notes !== before.notes ||
        next.title !== before.title ||
        next.coverUrl !== before.coverUrl ||
        !sameCategories;
      // a repeated patch leaves updatedAt alone, like a repeated progress write
      if (!changed) return before;
      this.sql(
        `UPDATE library_entries SET status = ?, favourite = ?, notes = ?, title = ?, title_fold = ?, cover_url = ?,
             updated_at = ? WHERE entry_id = ?`,
      ).run(
        next.status,
        next.favourite ? 1 : 0,
        next.notes,
        next.title,
        foldText(next.title),
        next.coverUrl ?? null,
        at,
        entryId,
      );
      if (!sameCategories) this.setCategories(userId, entryId, categoryIds);
      return this.loadEntry(userId, entryId);
    })();
  }

  async removeEntry(userId: string, entryId: string): Promise<boolean> {
    // progress, history and category links go with it (ON DELETE CASCADE)
    return this.sql('DELETE FROM library_entries WHERE user_id = ? AND entry_id = ?').run(userId, entryId).changes > 0;
  }

  async listEntries(userId: string, query: EntryQuery): Promise<EntryPage> {
    checkLimit(query.limit);
    const reverse = query.reverse === true;
    const after = query.cursor === undefined ? undefined : decodeEntryCursor(query.cursor, query.sort, reverse);
    const { column, nullable, ascending } = SORT_COLUMNS[query.sort];
    const up = ascending !== reverse;
    const direction = up ? 'ASC' : 'DESC';
    const beyond = up ? '>' : '<';

    const filters = ['user_id = ?'];
    const params: (string | number)[] = [userId];
    if (query.kinds && query.kinds.length > 0) {
      filters.push(`kind IN (${query.kinds.map(() => '?').join(', ')})`);
      params.push(...query.kinds);
    }
    if (query.statuses && query.statuses.length > 0) {
      filters.push(`status IN (${query.statuses.map(() => '?').join(', ')})`);
      params.push(...query.statuses);
    }
    if (query.categoryId !== undefined) {
      filters.push('entry_id IN (SELECT entry_id FROM library_entry_categories WHERE user_id = ? AND category_id = ?)');
      params.push(userId, query.categoryId);
    }
    if (query.unreadOnly) filters.push('read_count < unit_count');
    if (query.orphanedOnly) filters.push('orphan_reason IS NOT NULL');
    const text = query.text === undefined ? '' : foldText(query.text);
    if (text !== '') {
      filters.push('instr(title_fold, ?) > 0');
      params.push(text);
    }

    // Entries with the sorted value come first, then (for the optional times) those without it,
    // each part read as one range of the sort's index.
    const wanted = query.limit + 1;
    let rows: EntryRow[] = [];
    if (after === undefined || after.key !== undefined) {
      const conditions = [...filters, `${column} IS NOT NULL`];
      const partParams = [...params];
      if (after?.key !== undefined) {
        conditions.push(`(${column} ${beyond} ? OR (${column} = ? AND entry_id ${beyond} ?))`);
        partParams.push(after.key, after.key, after.entryId);
      }
      rows = this.db
        .prepare(
          `SELECT * FROM library_entries WHERE ${conditions.join(' AND ')}
           ORDER BY ${column} ${direction}, entry_id ${direction} LIMIT ?`,
        )
        .all(...partParams, wanted) as EntryRow[];
    }
    if (nullable && rows.length < wanted) {
      const conditions = [...filters, `${column} IS NULL`];
      const partParams = [...params];
      if (after !== undefined && after.key === undefined) {
        conditions.push(`entry_id ${beyond} ?`);
        partParams.push(after.entryId);
      }
      const rest = this.db
        .prepare(
          `SELECT * FROM library_entries WHERE ${conditions.join(' AND ')} ORDER BY entry_id ${direction} LIMIT ?`,
        )
        .all(...partParams, wanted - rows.length) as EntryRow[];
      rows = rows.concat(rest);
    }
    const entries = this.withCategories(rows.slice(0, query.limit));
    const last = entries.at(-1);
    if (rows.length <= query.limit || !last) return { entries };
    return {
      entries,
      nextCursor: encodeEntryCursor({
        sort: query.sort,
        reverse,
        key: sortKey(last, query.sort),
        entryId: last.entryId,
      }),
    };
  }

  async addCategory(userId: string, categoryId: string, name: string): Promise<Category> {
    return this.db.transaction(() => {
      const existing = this.sql('SELECT * FROM library_categories WHERE user_id = ? AND category_id = ?').get(
        userId,
        categoryId,
      ) as CategoryRow | undefined;
      // a retried add of the same category is harmless
      if (existing && foldText(existing.name) === foldText(name)) return toCategory(existing);
      if (existing || this.nameTaken(userId, name, undefined)) throw new CategoryNameTakenError(name);
      const { next } = this.sql(
        'SELECT COALESCE(MAX(position) + 1, 0) AS next FROM library_categories WHERE user_id = ?',
      ).get(userId) as { next: number };
      this.sql(
        'INSERT INTO library_categories (user_id, category_id, name, name_fold, position) VALUES (?, ?, ?, ?, ?)',
      ).run(userId, categoryId, name, foldText(name), next);
      return { categoryId, userId, name, position: next };
    })();
  }

  private nameTaken(userId: string, name: string, exceptId: string | undefined): boolean {
    const row = this.sql('SELECT category_id FROM library_categories WHERE user_id = ? AND name_fold = ?').get(
      userId,
      foldText(name),
    ) as { category_id: string } | undefined;
    return row !== undefined && row.category_id !== exceptId;
  }

  async listCategories(userId: string): Promise<Category[]> {
    return this.listCategoriesNow(userId);
  }

  async renameCategory(userId: string, categoryId: string, name: string): Promise<Category | undefined> {
    return this.db.transaction(() => {
      if (this.nameTaken(userId, name, categoryId)) throw new CategoryNameTakenError(name);
      const changed = this.sql(
        'UPDATE library_categories SET name = ?, name_fold = ? WHERE user_id = ? AND category_id = ?',
      ).run(name, foldText(name), userId, categoryId).changes;
      if (changed === 0) return undefined;
      const row = this.sql('SELECT * FROM library_categories WHERE user_id = ? AND category_id = ?').get(
        userId,
        categoryId,
      ) as CategoryRow;
      return toCategory(row);
    })();
  }

  async reorderCategories(userId: string, categoryIds: string[]): Promise<Category[]> {
    return this.db.transaction(() => {
      const current = (
        this.sql('SELECT category_id FROM library_categories WHERE user_id = ?').all(userId) as {
          category_id: string;
        }[]
      ).map((r) => r.category_id);
      const known = new Set(current);
      const seen = new Set<string>();
      for (const id of categoryIds) {
        if (!known.has(id) || seen.has(id)) throw new UnknownCategoryError(id);
        seen.add(id);
      }
      const missing = current.find((id) => !seen.has(id));
      if (missing !== undefined) throw new UnknownCategoryError(missing);
      const move = this.sql('UPDATE library_categories SET position = ? WHERE user_id = ? AND category_id = ?');
      for (const [position, id] of categoryIds.entries()) move.run(position, userId, id);
      return this.listCategoriesNow(userId);
    })();
  }

  private listCategoriesNow(userId: string): Category[] {
    return (
      this.sql('SELECT * FROM library_categories WHERE user_id = ? ORDER BY position, category_id').all(
        userId,
      ) as CategoryRow[]
    ).map(toCategory);
  }

  async removeCategory(userId: string, categoryId: string): Promise<boolean> {
    return this.db.transaction(() => {
      // entry links go with it (ON DELETE CASCADE); the rest close the gap in positions
      const row = this.sql('SELECT position FROM library_categories WHERE user_id = ? AND category_id = ?').get(
        userId,
        categoryId,
      ) as { position: number } | undefined;
      if (!row) return false;
      this.sql('DELETE FROM library_categories WHERE user_id = ? AND category_id = ?').run(userId, categoryId);
      this.sql('UPDATE library_categories SET position = position - 1 WHERE user_id = ? AND position > ?').run(
        userId,
        row.position,
      );
      return true;
    })();
  }

  private progressRow(entryId: string, unitId: string): UnitProgress | undefined {
    const row = this.sql('SELECT * FROM library_progress WHERE entry_id = ? AND unit_id = ?').get(entryId, unitId) as
      | ProgressRow
      | undefined;
    return row ? toProgress(row) : undefined;
  }

  private putProgress(row: UnitProgress): void {
    this.sql(
      `INSERT INTO library_progress (entry_id, unit_id, unit_number, unit_title, read, position, total, position_at,
           read_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (entry_id, unit_id) DO UPDATE SET unit_number = excluded.unit_number,
           unit_title = excluded.unit_title, read = excluded.read, position = excluded.position,
           total = excluded.total, position_at = excluded.position_at, read_at = excluded.read_at,
           updated_at = excluded.updated_at`,
    ).run(
      row.entryId,
      row.unitId,
      row.unitNumber ?? null,
      row.unitTitle ?? null,
      row.read ? 1 : 0,
      row.position,
      row.total,
      row.positionAt,
      row.readAt,
      row.updatedAt,
    );
  }

  private recountRead(entryId: string): void {
    this.sql(
      `UPDATE library_entries SET read_count =
           (SELECT COUNT(*) FROM library_progress WHERE entry_id = ? AND read = 1) WHERE entry_id = ?`,
    ).run(entryId, entryId);
  }

  async writeProgress(
    userId: string,
    entryId: string,
    writes: ProgressWrite[],
    at: number,
  ): Promise<UnitProgress[] | undefined> {
    // many clients report progress at once: their writes share one commit
    return this.database.groupCommit.run(() => {
      if (!this.entryRow(userId, entryId)) return undefined;
      const rows = new Map<string, UnitProgress | undefined>();
      let lastReadAt: number | undefined;
      for (const write of writes) {
        const stored = rows.has(write.unitId) ? rows.get(write.unitId) : this.progressRow(entryId, write.unitId);
        const merged = mergeProgress(entryId, stored, write, at);
        if (merged === undefined) {
          rows.set(write.unitId, stored);
          continue;
        }
        this.putProgress(merged);
        rows.set(write.unitId, merged);
        lastReadAt = Math.max(lastReadAt ?? write.clientTime, write.clientTime);
      }
      if (lastReadAt !== undefined) {
        this.recountRead(entryId);
        this.sql(`UPDATE library_entries SET last_read_at = MAX(COALESCE(last_read_at, ?), ?) WHERE entry_id = ?`).run(
          lastReadAt,
          lastReadAt,
          entryId,
        );
      }
      return [...rows.values()].filter((row): row is UnitProgress => row !== undefined);
    });
  }

  async listProgress(userId: string, entryId: string): Promise<UnitProgress[] | undefined> {
    if (!this.entryRow(userId, entryId)) return undefined;
    return (
      this.sql('SELECT * FROM library_progress WHERE entry_id = ? ORDER BY unit_id').all(entryId) as ProgressRow[]
    ).map(toProgress);
  }

  async addHistory(userId: string, records: HistoryRecord[]): Promise<number> {
    const owned = this.sql('SELECT 1 FROM library_entries WHERE user_id = ? AND entry_id = ?');
    const upsert = this.sql(
      `INSERT INTO library_history (entry_id, user_id, unit_id, opened_at, duration_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (entry_id, unit_id, opened_at) DO UPDATE SET duration_ms = excluded.duration_ms
       WHERE excluded.duration_ms > library_history.duration_ms`,
    );
    return this.db.transaction(() => {
      let changed = 0;
      for (const r of records) {
        if (owned.get(userId, r.entryId) === undefined) continue;
        changed += upsert.run(r.entryId, userId, r.unitId, r.openedAt, r.durationMs).changes;
      }
      return changed;
    })();
  }

  async listHistory(userId: string, query: HistoryQuery): Promise<HistoryPage> {
    checkLimit(query.limit);
    const after = query.cursor === undefined ? undefined : decodeHistoryCursor(query.cursor);
    const conditions = ['user_id = ?'];
    const params: (string | number)[] = [userId];
    if (query.entryId !== undefined) {
      conditions.push('entry_id = ?');
      params.push(query.entryId);
    }
    if (after) {
      conditions.push('(opened_at, entry_id, unit_id) < (?, ?, ?)');
      params.push(after.openedAt, after.entryId, after.unitId);
    }
    const rows = this.db
      .prepare(
        `SELECT * FROM library_history WHERE ${conditions.join(' AND ')}
         ORDER BY opened_at DESC, entry_id DESC, unit_id DESC LIMIT ?`,
      )
      .all(...params, query.limit + 1) as HistoryRow[];
    const records = rows.slice(0, query.limit).map(toHistory);
    const last = records.at(-1);
    return rows.length > query.limit && last ? { records, nextCursor: encodeHistoryCursor(last) } : { records };
  }

  async linkEntries(userId: string, entryIds: string[], newWorkId: string, at: number): Promise<string | undefined> {
    return this.db.transaction(() => {
      if (entryIds.length === 0) return undefined;
      const rows: EntryRow[] = [];
      for (const id of entryIds) {
        const row = this.entryRow(userId, id);
        if (!row) return undefined;
        rows.push(row);
      }
      const groups = [...new Set(rows.flatMap((r) => (r.work_id === null ? [] : [r.work_id])))];
      const workId = groups[0] ?? newWorkId;
      // the works the entries were in become one, so linking is transitive
      const regroup = this.sql(
        'UPDATE library_entries SET work_id = ?, updated_at = ? WHERE user_id = ? AND work_id = ? AND work_id <> ?',
      );
      for (const group of groups) regroup.run(workId, at, userId, group, workId);
      const link = this.sql(
        `UPDATE library_entries SET work_id = ?, updated_at = ?
         WHERE user_id = ? AND entry_id = ? AND (work_id IS NULL OR work_id <> ?)`,
      );
      for (const id of entryIds) link.run(workId, at, userId, id, workId);
      return workId;
    })();
  }

  async unlinkEntry(userId: string, entryId: string, at: number): Promise<boolean> {
    return this.db.transaction(() => {
      if (!this.entryRow(userId, entryId)) return false;
      this.sql(
        'UPDATE library_entries SET work_id = NULL, updated_at = ? WHERE entry_id = ? AND work_id IS NOT NULL',
      ).run(at, entryId);
      return true;
    })();
  }

  async moveEntry(
    userId: string,
    entryId: string,
    target: MoveTarget,
    unitMapping: ReadonlyMap<string, string>,
    at: number,
  ): Promise<MoveResult | undefined> {
    return this.db.transaction(() => {
      if (!this.entryRow(userId, entryId)) return undefined;
      const clash = this.sql(
        'SELECT * FROM library_entries WHERE user_id = ? AND source_id = ? AND media_id = ? AND entry_id <> ?',
      ).get(userId, target.sourceId, target.mediaId, entryId) as EntryRow | undefined;
      if (clash) throw new EntryExistsError(this.withCategories([clash])[0] as LibraryEntry);

      const progress = (
        this.sql('SELECT * FROM library_progress WHERE entry_id = ?').all(entryId) as ProgressRow[]
      ).map(toProgress);
      const plan = planProgressMove(progress, unitMapping, at);
      this.sql('DELETE FROM library_progress WHERE entry_id = ?').run(entryId);
      for (const row of plan.rows) this.putProgress(row);

      const history = (this.sql('SELECT * FROM library_history WHERE entry_id = ?').all(entryId) as HistoryRow[]).map(
        toHistory,
      );
      this.sql('DELETE FROM library_history WHERE entry_id = ?').run(entryId);
      const insertHistory = this.sql(
        'INSERT INTO library_history (entry_id, user_id, unit_id, opened_at, duration_ms) VALUES (?, ?, ?, ?, ?)',
      );
      for (const r of planHistoryMove(history, unitMapping)) {
        insertHistory.run(entryId, userId, r.unitId, r.openedAt, r.durationMs);
      }

      // the unit count was the old source's; the next refresh of the target sets it
      this.sql(
        `UPDATE library_entries SET source_id = ?, media_id = ?, title = ?, title_fold = ?, kind = ?, cover_url = ?,
             source_name = ?, orphan_reason = NULL, orphan_detail = NULL, unit_count = 0, last_unit_at = NULL,
             updated_at = ? WHERE entry_id = ?`,
      ).run(
        target.sourceId,
        target.mediaId,
        target.title,
        foldText(target.title),
        target.kind,
        target.coverUrl ?? null,
        target.sourceName,
        at,
        entryId,
      );
      this.recountRead(entryId);
      return {
        entry: this.loadEntry(userId, entryId) as LibraryEntry,
        moved: plan.rows.length,
        unmatched: plan.unmatched,
      };
    })();
  }

  async markOrphaned(sourceId: string, orphaned: Orphaned): Promise<number> {
    const detail = orphaned.detail ?? null;
    return this.sql(
      `UPDATE library_entries SET orphan_reason = ?, orphan_detail = ?
         WHERE source_id = ? AND (orphan_reason IS NOT ? OR orphan_detail IS NOT ?)`,
    ).run(orphaned.reason, detail, sourceId, orphaned.reason, detail).changes;
  }

  async clearOrphaned(sourceId: string): Promise<number> {
    return this.sql(
      'UPDATE library_entries SET orphan_reason = NULL, orphan_detail = NULL WHERE source_id = ? AND orphan_reason IS NOT NULL',
    ).run(sourceId).changes;
  }

  async trackedWorks(): Promise<TrackedWork[]> {
    const rows = this.sql(
      `SELECT source_id, media_id, user_id, entry_id, added_at, status FROM library_entries
         WHERE orphan_reason IS NULL ORDER BY source_id, media_id, added_at, user_id`,
    ).all() as {
      source_id: string;
      media_id: string;
      user_id: string;
      entry_id: string;
      added_at: number;
      status: string;
    }[];
    const works: TrackedWork[] = [];
    for (const row of rows) {
      let work = works.at(-1);
      if (!work || work.sourceId !== row.source_id || work.mediaId !== row.media_id) {
        work = { sourceId: row.source_id, mediaId: row.media_id, completed: true, followers: [] };
        works.push(work);
      }
      if (row.status !== 'completed') work.completed = false;
      work.followers.push({ userId: row.user_id, entryId: row.entry_id, addedAt: row.added_at });
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
    return this.sql(
      `UPDATE library_entries SET unit_count = ?, last_unit_at = ?
         WHERE source_id = ? AND media_id = ? AND (unit_count <> ? OR last_unit_at IS NOT ?)`,
    ).run(unitCount, last, sourceId, mediaId, unitCount, last).changes;
  }

  async removeUser(userId: string): Promise<number> {
    return this.db.transaction(() => {
      const removed = this.sql('DELETE FROM library_entries WHERE user_id = ?').run(userId).changes;
      this.sql('DELETE FROM library_categories WHERE user_id = ?').run(userId);
      return removed;
    })();
  }

  /** Closes the database only when this store opened it; a shared one is closed by its owner. */
  async close(): Promise<void> {
    if (this.ownsDatabase) this.database.close();
  }
}
