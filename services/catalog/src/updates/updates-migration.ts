import type { Migration } from '../catalog-migrations.js';

/** Migration 3 of the catalog: the shared media cache and the per-user feed. */
export const UPDATES_MIGRATION: Migration = {
  id: 3,
  name: 'updates',
  up: (db) =>
    db.exec(`CREATE TABLE media_cache (
        source_id TEXT NOT NULL,
        media_id TEXT NOT NULL,
        media BLOB,
        units_json TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        fresh_until INTEGER NOT NULL,
        PRIMARY KEY (source_id, media_id)
      );
      CREATE TABLE feed_items (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        source_id TEXT NOT NULL,
        media_id TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        unit_id TEXT NOT NULL,
        unit_title TEXT NOT NULL,
        unit_number REAL,
        found_at INTEGER NOT NULL,
        read INTEGER NOT NULL DEFAULT 0,
        UNIQUE (user_id, source_id, media_id, unit_id)
      );
      CREATE INDEX feed_items_by_user ON feed_items (user_id, found_at DESC, id DESC);`),
};
