import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { libraryStoreContract } from './library-store.contract.js';
import { SqliteLibraryStore } from './sqlite-library-store.js';

const dir = mkdtempSync(join(tmpdir(), 'awasm-sqlite-library-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

libraryStoreContract('SQLite', async (name) => new SqliteLibraryStore(join(dir, `${name}.db`)));
