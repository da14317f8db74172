import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { CatalogDatabase } from './catalog-database.js';
import { repositoryStoreContract } from './repository-store.contract.js';
import { SqlitePluginStore } from './sqlite-plugin-store.js';
import { SqliteRepositoryStore } from './sqlite-repository-store.js';

const dir = mkdtempSync(join(tmpdir(), 'awasm-sqlite-repos-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

repositoryStoreContract('SQLite', async (name) => new SqliteRepositoryStore(join(dir, `${name}.db`)));

it('shares the catalog file and its one connection with the plugin store', async () => {
  const file = join(dir, 'shared.db');
  const database = CatalogDatabase.open(file);
  const plugins = new SqlitePluginStore(database);
  const repos = new SqliteRepositoryStore(database);
  await plugins.putPackage({
    id: 'demo',
    version: '0.1.0',
    manifestToml: 'id = "demo"',
    packageSha256: 'a'.repeat(64),
    componentSha256: 'b'.repeat(64),
  });
  await repos.add({ name: 'r', url: 'http://127.0.0.1:1', kind: 'static', trustedKeyIds: [], addedAt: new Date() });
  // closing a store leaves the shared connection to its owner: the other store keeps working
  await plugins.close();
  expect((await repos.list()).map((r) => r.name)).toEqual(['r']);
  await repos.close();
  expect(database.connection.open).toBe(true);
  database.close();

  // both tables and their rows are in this one file
  const raw = new Database(file, { readonly: true });
  expect(raw.prepare('SELECT id FROM plugins').pluck().all()).toEqual(['demo']);
  expect(raw.prepare('SELECT name FROM repositories').pluck().all()).toEqual(['r']);
  raw.close();
  const again = CatalogDatabase.open(file);
  expect((await new SqlitePluginStore(again).list()).map((p) => p.id)).toEqual(['demo']);
  expect((await new SqliteRepositoryStore(again).list()).map((r) => r.name)).toEqual(['r']);
  again.close();
});
