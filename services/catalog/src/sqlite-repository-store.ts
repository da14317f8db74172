import type Database from 'better-sqlite3';
import type { RepositoryRecord, RepositoryStore } from './repository-store.js';
import { openSqlite } from './sqlite.js';

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

/**
 * Repositories in a table of the catalog's SQLite file (its own table, created when missing, so it
 * shares the file with SqlitePluginStore without touching that store's migrations).
 */
export class SqliteRepositoryStore implements RepositoryStore {
  private readonly db: Database.Database;

  /** `path` is a file (created with its folder if missing) or ":memory:". */
  constructor(path: string) {
    this.db = openSqlite(path);
    this.db.exec(`CREATE TABLE IF NOT EXISTS repositories (
      name TEXT PRIMARY KEY,
      url TEXT NOT NULL,
      kind TEXT NOT NULL,
      trusted_key_ids TEXT NOT NULL DEFAULT '[]',
      added_at INTEGER NOT NULL
    )`);
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

  async close(): Promise<void> {
    this.db.close();
  }
}
