import type Database from 'better-sqlite3';
import { LIBRARY_MIGRATION } from './library/library-migration.js';
import { UPDATES_MIGRATION } from './updates/updates-migration.js';

/**
 * One schema change of the catalog's SQLite file. `id` is its position (1, 2, …): the ledger
 * applies them in that order, each once.
 */
export interface Migration {
  id: number;
  name: string;
  up(db: Database.Database): void;
  /**
   * True when the code from before the ledger already made this change (a catalog.db created by
   * it has the table but no ledger row): the ledger then records the migration without running it.
   */
  alreadyApplied?(db: Database.Database): boolean;
}

function hasTable(db: Database.Database, table: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
}

/** The catalog's schema, oldest first. A new table is one more entry at the end of this list. */
export const CATALOG_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'plugins',
    up: (db) =>
      db.exec(`CREATE TABLE plugins (
        id TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        manifest_toml TEXT NOT NULL,
        package_sha256 TEXT NOT NULL,
        component_sha256 TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        settings_json TEXT NOT NULL DEFAULT '{}',
        installed_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      )`),
    // the plugin store used to count its migrations in PRAGMA user_version
    alreadyApplied: (db) => hasTable(db, 'plugins'),
  },
  {
    id: 2,
    name: 'repositories',
    up: (db) =>
      db.exec(`CREATE TABLE repositories (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        kind TEXT NOT NULL,
        trusted_key_ids TEXT NOT NULL DEFAULT '[]',
        added_at INTEGER NOT NULL
      )`),
    // the repository store used to create its table when missing
    alreadyApplied: (db) => hasTable(db, 'repositories'),
  },
  UPDATES_MIGRATION,
  {
    id: 4,
    name: 'users',
    up: (db) =>
      db.exec(`CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        password_hash TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX api_keys_user ON api_keys (user_id)`),
  },
  LIBRARY_MIGRATION,
];
