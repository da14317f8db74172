import type Database from 'better-sqlite3';
import { type CatalogDatabase, type CatalogDatabaseSource, useCatalogDatabase } from './catalog-database.js';
import type { RepositoryRecord, RepositoryStore } from './repository-store.js';

interface Row {
  name: string;
  url: string;
  kind: string;
  trusted_key_ids: string;
  added_at: number;
}

function toRecord(row: Row): RepositoryRecord {
  return {
    name: row.name,
    url: row.url,
    kind: row.kind === 'static' ? 'static' : 'grpc',
    trustedKeyIds: JSON.parse(row.trusted_key_ids) as string[],
    addedAt: new Date(row.added_at),
  };
}

/** Repositories in the `repositories` table of the catalog's SQLite file (see CATALOG_MIGRATIONS). */
export class SqliteRepositoryStore implements RepositoryStore {
  private readonly database: CatalogDatabase;
  private readonly ownsDatabase: boolean;
  private readonly db: Database.Database;

  constructor(source: CatalogDatabaseSource) {
    ({ database: this.database, owned: this.ownsDatabase } = useCatalogDatabase(source));
    this.db = this.database.connection;
  }

  async list(): Promise<RepositoryRecord[]> {
    return (this.db.prepare('SELECT * FROM repositories ORDER BY name').all() as Row[]).map(toRecord);
  }

  async get(name: string): Promise<RepositoryRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM repositories WHERE name = ?').get(name) as Row | undefined;
    return row && toRecord(row);
  }

  async add(r: RepositoryRecord): Promise<boolean> {
    const result = this.db
      .prepare(
        `INSERT INTO repositories (name, url, kind, trusted_key_ids, added_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO NOTHING`,
      )
      .run(r.name, r.url, r.kind, JSON.stringify(r.trustedKeyIds), r.addedAt.getTime());
    return result.changes > 0;
  }

  async setTrustedKeys(name: string, keyIds: string[]): Promise<RepositoryRecord | undefined> {
    this.db.prepare('UPDATE repositories SET trusted_key_ids = ? WHERE name = ?').run(JSON.stringify(keyIds), name);
    return this.get(name);
  }

  async remove(name: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM repositories WHERE name = ?').run(name).changes > 0;
  }

  /** Closes the database only when this store opened it; a shared one is closed by its owner. */
  async close(): Promise<void> {
    if (this.ownsDatabase) this.database.close();
  }
}
