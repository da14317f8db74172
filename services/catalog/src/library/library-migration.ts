import type { Migration } from '../catalog-migrations.js';

/**
 * Migration 5 of the catalog: users' libraries. Entries carry their sort keys as columns
 * (title_fold, the times) with an index per sort led by user_id, so a page of a large library is
 * an index range. Progress and history cascade with their entry; entry categories cascade with
 * both the entry and the category.
 */
export const LIBRARY_MIGRATION: Migration = {
  id: 5,
  name: 'library',
  up: (db) =>
    db.exec(`CREATE TABLE library_entries (
        entry_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        source_id TEXT NOT NULL,
        media_id TEXT NOT NULL,
        title TEXT NOT NULL,
        title_fold TEXT NOT NULL,
        kind TEXT NOT NULL,
        cover_url TEXT,
        source_name TEXT NOT NULL,
        status TEXT NOT NULL,
        favourite INTEGER NOT NULL DEFAULT 0,
        notes TEXT NOT NULL DEFAULT '',
        added_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_read_at INTEGER,
        unit_count INTEGER NOT NULL DEFAULT 0,
        read_count INTEGER NOT NULL DEFAULT 0,
        last_unit_at INTEGER,
        orphan_reason TEXT,
        orphan_detail TEXT,
        work_id TEXT,
        UNIQUE (user_id, source_id, media_id)
      );
      CREATE INDEX library_entries_by_title ON library_entries (user_id, title_fold, entry_id);
      CREATE INDEX library_entries_by_added ON library_entries (user_id, added_at, entry_id);
      CREATE INDEX library_entries_by_last_read ON library_entries (user_id, last_read_at, entry_id);
      CREATE INDEX library_entries_by_last_unit ON library_entries (user_id, last_unit_at, entry_id);
      CREATE INDEX library_entries_by_work ON library_entries (source_id, media_id);
      CREATE TABLE library_categories (
        user_id TEXT NOT NULL,
        category_id TEXT NOT NULL,
        name TEXT NOT NULL,
        name_fold TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (user_id, category_id),
        UNIQUE (user_id, name_fold)
      );
      CREATE TABLE library_entry_categories (
        entry_id TEXT NOT NULL REFERENCES library_entries (entry_id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        category_id TEXT NOT NULL,
        PRIMARY KEY (entry_id, category_id),
        FOREIGN KEY (user_id, category_id) REFERENCES library_categories (user_id, category_id) ON DELETE CASCADE
      );
      CREATE INDEX library_entry_categories_by_category ON library_entry_categories (user_id, category_id);
      CREATE TABLE library_progress (
        entry_id TEXT NOT NULL REFERENCES library_entries (entry_id) ON DELETE CASCADE,
        unit_id TEXT NOT NULL,
        unit_number REAL,
        unit_title TEXT,
        read INTEGER NOT NULL,
        position REAL NOT NULL,
        total REAL NOT NULL,
        position_at INTEGER NOT NULL,
        read_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (entry_id, unit_id)
      );
      CREATE TABLE library_history (
        entry_id TEXT NOT NULL REFERENCES library_entries (entry_id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        unit_id TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        UNIQUE (entry_id, unit_id, opened_at)
      );
      CREATE INDEX library_history_by_user ON library_history (user_id, opened_at, entry_id, unit_id);`),
};
