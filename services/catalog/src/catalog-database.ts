import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { CATALOG_MIGRATIONS, type Migration } from './catalog-migrations.js';
import { GroupCommit } from './group-commit.js';
import { applyMigrations } from './migration-ledger.js';

/**
 * The catalog's SQLite file, opened once and migrated once, whose one connection every SQLite
 * store of the catalog shares. WAL so readers do not wait for a writer, FULL sync so an
 * acknowledged write survives a crash, foreign keys on for the tables that reference others, and a
 * busy timeout for another process (or a second connection in a test) writing at the same moment.
 */
export class CatalogDatabase {
  /** Small acknowledged writes from many callers, committed together (see GroupCommit). */
  readonly groupCommit: GroupCommit;

  private constructor(readonly connection: Database.Database) {
    this.groupCommit = new GroupCommit(connection);
  }

  /** `path` is a file (created with its folder if missing) or ":memory:". */
  static open(path: string, migrations: readonly Migration[] = CATALOG_MIGRATIONS): CatalogDatabase {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const connection = new Database(path);
    try {
      // first, so switching to WAL already waits for a connection that holds the file
      connection.pragma('busy_timeout = 5000');
      connection.pragma('journal_mode = WAL');
      connection.pragma('synchronous = FULL');
      connection.pragma('foreign_keys = ON');
      applyMigrations(connection, migrations);
    } catch (error) {
      connection.close();
      throw error;
    }
    return new CatalogDatabase(connection);
  }

  close(): void {
    if (this.connection.open) this.connection.close();
  }
}

/**
 * What a SQLite store is built on: the shared database (its owner closes it) or a path, for which
 * the store opens a database of its own and closes it with the store.
 */
export type CatalogDatabaseSource = CatalogDatabase | string;

/** The database for `source` and whether the store that asked owns it. */
export function useCatalogDatabase(source: CatalogDatabaseSource): { database: CatalogDatabase; owned: boolean } {
  return typeof source === 'string'
    ? { database: CatalogDatabase.open(source), owned: true }
    : { database: source, owned: false };
}
