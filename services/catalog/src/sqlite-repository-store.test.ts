import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { repositoryStoreContract } from './repository-store.contract.js';
import { SqlitePluginStore } from './sqlite-plugin-store.js';
import { SqliteRepositoryStore } from './sqlite-repository-store.js';

const dir = mkdtempSync(join(tmpdir(), 'awasm-sqlite-repos-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

repositoryStoreContract('SQLite', async (name) => new SqliteRepositoryStore(join(dir, `${name}.db`)));

it('shares the catalog file with the plugin store', async () => {
  const file = join(dir, 'shared.db');
  const plugins = new SqlitePluginStore(file);
  const repos = new SqliteRepositoryStore(file);
  await plugins.putPackage({
    id: 'demo',
    version: '0.1.0',
    manifestToml: 'id = "demo"',
    packageSha256: 'a'.repeat(64),
    componentSha256: 'b'.repeat(64),
  });
  await repos.add({ name: 'r', url: 'http://127.0.0.1:1', kind: 'static', trustedKeyIds: [], addedAt: new Date() });
  await plugins.close();
  await repos.close();
  const again = new SqlitePluginStore(file);
  expect((await again.list()).map((p) => p.id)).toEqual(['demo']);
  await again.close();
});
