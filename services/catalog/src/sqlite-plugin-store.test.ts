import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { pluginStoreContract } from './plugin-store.contract.js';
import { SqlitePluginStore } from './sqlite-plugin-store.js';

const dir = mkdtempSync(join(tmpdir(), 'awasm-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

pluginStoreContract('SQLite', async (name) => new SqlitePluginStore(join(dir, `${name}.db`)));
