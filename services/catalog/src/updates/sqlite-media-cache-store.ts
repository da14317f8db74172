import type Database from 'better-sqlite3';
import { type CatalogDatabase, type CatalogDatabaseSource, useCatalogDatabase } from '../catalog-database.js';
import type { CachedMedia, CachedUnit, MediaCacheStore } from './media-cache-store.js';

interface Row {
  source_id: string;
  media_id: string;
  media: Buffer | null;
  units_json: string;
  fetched_at: number;
  fresh_until: number;
}

function toEntry(row: Row): CachedMedia {
  return {
    sourceId: row.source_id,
    mediaId: row.media_id,
    ...(row.media ? { media: new Uint8Array(row.media) } : {}),
    units: JSON.parse(row.units_json) as CachedUnit[],
    fetchedAt: row.fetched_at,
    freshUntil: row.fresh_until,
  };
}

/** The media cache in the `media_cache` table of the catalog's SQLite file (UPDATES_MIGRATION). */
export class SqliteMediaCacheStore implements MediaCacheStore {
  private readonly database: CatalogDatabase;
  private readonly ownsDatabase: boolean;
  private readonly db: Database.Database;

  constructor(source: CatalogDatabaseSource) {
    ({ database: this.database, owned: this.ownsDatabase } = useCatalogDatabase(source));
    this.db = this.database.connection;
  }

  async get(sourceId: string, mediaId: string): Promise<CachedMedia | undefined> {
    const row = this.db
      .prepare('SELECT * FROM media_cache WHERE source_id = ? AND media_id = ?')
      .get(sourceId, mediaId) as Row | undefined;
    return row && toEntry(row);
  }

  async put(entry: CachedMedia): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO media_cache (source_id, media_id, media, units_json, fetched_at, fresh_until)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (source_id, media_id) DO UPDATE SET media = excluded.media, units_json = excluded.units_json,
           fetched_at = excluded.fetched_at, fresh_until = excluded.fresh_until`,
      )
      .run(
        entry.sourceId,
        entry.mediaId,
        entry.media ? Buffer.from(entry.media) : null,
        JSON.stringify(entry.units),
        entry.fetchedAt,
        entry.freshUntil,
      );
  }

  /** Closes the database only when this store opened it; a shared one is closed by its owner. */
  async close(): Promise<void> {
    if (this.ownsDatabase) this.database.close();
  }
}
