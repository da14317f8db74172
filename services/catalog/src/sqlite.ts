import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Opens the catalog's SQLite file the way every store needs it: the folder created when missing,
 * WAL so the stores sharing the file can read while one writes, FULL sync so an acknowledged write
 * survives a crash, and a busy timeout for the moments two connections write at once.
 * `path` is a file or ":memory:".
 */
export function openSqlite(path: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  return db;
}
