import type Database from 'better-sqlite3';
import { type CatalogDatabase, type CatalogDatabaseSource, useCatalogDatabase } from '../catalog-database.js';
import type { ApiKeyRecord, UserRecord, UserStore } from './user-store.js';

interface UserRow {
  id: string;
  name: string;
  role: string;
  password_hash: string | null;
  created_at: number;
}

interface KeyRow {
  id: string;
  user_id: string;
  name: string;
  key_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked: number;
}

function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role === 'admin' ? 'admin' : 'member',
    ...(row.password_hash === null ? {} : { passwordHash: row.password_hash }),
    createdAt: new Date(row.created_at),
  };
}

function toKey(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    keyHash: row.key_hash,
    createdAt: new Date(row.created_at),
    ...(row.last_used_at === null ? {} : { lastUsedAt: new Date(row.last_used_at) }),
    revoked: row.revoked !== 0,
  };
}

/** Users and API keys in the `users` and `api_keys` tables of the catalog's SQLite file. */
export class SqliteUserStore implements UserStore {
  private readonly database: CatalogDatabase;
  private readonly ownsDatabase: boolean;
  private readonly db: Database.Database;

  constructor(source: CatalogDatabaseSource) {
    ({ database: this.database, owned: this.ownsDatabase } = useCatalogDatabase(source));
    this.db = this.database.connection;
  }

  async addUser(user: UserRecord): Promise<boolean> {
    const result = this.db
      .prepare(
        `INSERT INTO users (id, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING`,
      )
      .run(user.id, user.name, user.role, user.passwordHash ?? null, user.createdAt.getTime());
    return result.changes > 0;
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    return row && toUser(row);
  }

  async getUserByName(name: string): Promise<UserRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as UserRow | undefined;
    return row && toUser(row);
  }

  async listUsers(): Promise<UserRecord[]> {
    return (this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[]).map(toUser);
  }

  async countUsers(): Promise<number> {
    return this.db.prepare('SELECT COUNT(*) FROM users').pluck().get() as number;
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<boolean> {
    return this.db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, id).changes > 0;
  }

  async removeUser(id: string): Promise<boolean> {
    // keys first, in one transaction with the user, whatever the foreign_keys pragma is
    const remove = this.db.transaction((userId: string) => {
      this.db.prepare('DELETE FROM api_keys WHERE user_id = ?').run(userId);
      return this.db.prepare('DELETE FROM users WHERE id = ?').run(userId).changes > 0;
    });
    return remove(id);
  }

  async addKey(key: ApiKeyRecord): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO api_keys (id, user_id, name, key_hash, created_at, last_used_at, revoked)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        key.id,
        key.userId,
        key.name,
        key.keyHash,
        key.createdAt.getTime(),
        key.lastUsedAt?.getTime() ?? null,
        key.revoked ? 1 : 0,
      );
  }

  async getKey(id: string): Promise<ApiKeyRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as KeyRow | undefined;
    return row && toKey(row);
  }

  async getKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM api_keys WHERE key_hash = ?').get(keyHash) as KeyRow | undefined;
    return row && toKey(row);
  }

  async listKeys(userId: string): Promise<ApiKeyRecord[]> {
    const rows = this.db.prepare('SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at, id').all(userId);
    return (rows as KeyRow[]).map(toKey);
  }

  async revokeKey(id: string): Promise<boolean> {
    return this.db.prepare('UPDATE api_keys SET revoked = 1 WHERE id = ?').run(id).changes > 0;
  }

  async revokeKeysOf(userId: string): Promise<number> {
    return this.db.prepare('UPDATE api_keys SET revoked = 1 WHERE user_id = ? AND revoked = 0').run(userId).changes;
  }

  async recordKeyUse(id: string, at: Date): Promise<void> {
    this.db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(at.getTime(), id);
  }

  /** Closes the database only when this store opened it; a shared one is closed by its owner. */
  async close(): Promise<void> {
    if (this.ownsDatabase) this.database.close();
  }
}
