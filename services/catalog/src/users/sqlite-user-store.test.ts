import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { SqliteUserStore } from './sqlite-user-store.js';
import { userStoreContract } from './user-store.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'awasm-sqlite-users-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

userStoreContract('SQLite', async (name) => new SqliteUserStore(join(dir, `${name}.db`)));
