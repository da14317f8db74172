import type Database from 'better-sqlite3';
import { type CatalogDatabase, type CatalogDatabaseSource, useCatalogDatabase } from '../catalog-database.js';
import {
  decodeFeedCursor,
  encodeFeedCursor,
  type FeedItem,
  type FeedPage,
  type FeedQuery,
  type FeedStore,
  feedItemId,
  type NewFeedItem,
} from './feed-store.js';

interface Row {
  id: string;
  user_id: string;
  source_id: string;
  media_id: string;
  entry_id: string;
  unit_id: string;
  unit_title: string;
  unit_number: number | null;
  found_at: number;
  read: number;
}

function toItem(row: Row): FeedItem {
  return {
    id: row.id,
    userId: row.user_id,
    sourceId: row.source_id,
    mediaId: row.media_id,
    entryId: row.entry_id,
    unitId: row.unit_id,
    unitTitle: row.unit_title,
    ...(row.unit_number === null ? {} : { unitNumber: row.unit_number }),
    foundAt: row.found_at,
    read: row.read !== 0,
  };
}

/** Feeds in the `feed_items` table of the catalog's SQLite file (UPDATES_MIGRATION). */
export class SqliteFeedStore implements FeedStore {
  private readonly database: CatalogDatabase;
  private readonly ownsDatabase: boolean;
  private readonly db: Database.Database;

  constructor(source: CatalogDatabaseSource) {
    ({ database: this.database, owned: this.ownsDatabase } = useCatalogDatabase(source));
    this.db = this.database.connection;
  }

  async add(items: NewFeedItem[]): Promise<number> {
    const insert = this.db.prepare(
      `INSERT INTO feed_items (id, user_id, source_id, media_id, entry_id, unit_id, unit_title, unit_number, found_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    const addAll = this.db.transaction((batch: NewFeedItem[]) => {
      let added = 0;
      for (const i of batch) {
        added += insert.run(
          feedItemId(i),
          i.userId,
          i.sourceId,
          i.mediaId,
          i.entryId,
          i.unitId,
          i.unitTitle,
          i.unitNumber ?? null,
          i.foundAt,
        ).changes;
      }
      return added;
    });
    return addAll(items);
  }

  async list(userId: string, query: FeedQuery): Promise<FeedPage> {
    const after = query.cursor === undefined ? undefined : decodeFeedCursor(query.cursor);
    const conditions = ['user_id = ?'];
    const params: (string | number)[] = [userId];
    if (query.unreadOnly) conditions.push('read = 0');
    if (after) {
      conditions.push('(found_at < ? OR (found_at = ? AND id < ?))');
      params.push(after.foundAt, after.foundAt, after.id);
    }
    // one more than asked, to know whether there is a next page
    const rows = this.db
      .prepare(`SELECT * FROM feed_items WHERE ${conditions.join(' AND ')} ORDER BY found_at DESC, id DESC LIMIT ?`)
      .all(...params, query.limit + 1) as Row[];
    const items = rows.slice(0, query.limit).map(toItem);
    const last = items.at(-1);
    return rows.length > query.limit && last ? { items, nextCursor: encodeFeedCursor(last) } : { items };
  }

  async markRead(userId: string, ids: string[]): Promise<number> {
    const mark = this.db.prepare('UPDATE feed_items SET read = 1 WHERE user_id = ? AND id = ? AND read = 0');
    return this.db.transaction((batch: string[]) => batch.reduce((n, id) => n + mark.run(userId, id).changes, 0))(ids);
  }

  async markAllRead(userId: string): Promise<number> {
    return this.db.prepare('UPDATE feed_items SET read = 1 WHERE user_id = ? AND read = 0').run(userId).changes;
  }

  async removeUser(userId: string): Promise<number> {
    return this.db.prepare('DELETE FROM feed_items WHERE user_id = ?').run(userId).changes;
  }

  /** Closes the database only when this store opened it; a shared one is closed by its owner. */
  async close(): Promise<void> {
    if (this.ownsDatabase) this.database.close();
  }
}
