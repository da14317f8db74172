/** Who may change the server (admin) or only use it (member). */
export type UserRole = 'admin' | 'member';

/** A person (or script) that calls the API with API keys. */
export interface UserRecord {
  id: string;
  /** unique, 1-64 chars of [a-z0-9._-] (see isValidUserName) */
  name: string;
  role: UserRole;
  /** a passwords.ts hash; undefined when the user logs in with API keys only */
  passwordHash?: string;
  createdAt: Date;
}

/** An API key of a user; the key itself is never stored, only its sha256. */
export interface ApiKeyRecord {
  id: string;
  userId: string;
  name: string;
  keyHash: string;
  createdAt: Date;
  lastUsedAt?: Date;
  revoked: boolean;
}

const USER_NAME = /^[a-z0-9._-]{1,64}$/;

/** True for a valid user name: 1-64 characters of a-z, 0-9, '.', '_' and '-'. */
export function isValidUserName(name: string): boolean {
  return USER_NAME.test(name);
}

/**
 * Users and their API keys. Embedded mode keeps them in the catalog's SQLite file, distributed mode
 * in MongoDB, behind this interface and the same contract tests.
 */
export interface UserStore {
  /** Adds it; false (and nothing changes) when the name or id is taken. */
  addUser(user: UserRecord): Promise<boolean>;
  getUser(id: string): Promise<UserRecord | undefined>;
  getUserByName(name: string): Promise<UserRecord | undefined>;
  /** sorted by name */
  listUsers(): Promise<UserRecord[]>;
  countUsers(): Promise<number>;
  /** Sets (replaces) the user's password hash; false when there is no such user. */
  setPasswordHash(id: string, passwordHash: string): Promise<boolean>;
  /** Removes the user and all its keys; false when there was no such user. */
  removeUser(id: string): Promise<boolean>;
  addKey(key: ApiKeyRecord): Promise<void>;
  getKey(id: string): Promise<ApiKeyRecord | undefined>;
  getKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  /** a user's keys, oldest first */
  listKeys(userId: string): Promise<ApiKeyRecord[]>;
  /** False when there was no such key. */
  revokeKey(id: string): Promise<boolean>;
  /** Revokes every key of the user; returns how many were revoked. */
  revokeKeysOf(userId: string): Promise<number>;
  recordKeyUse(id: string, at: Date): Promise<void>;
  close(): Promise<void>;
}
