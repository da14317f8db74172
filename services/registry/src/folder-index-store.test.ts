import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FolderIndexStore } from './folder-index-store.js';
import { indexStoreContract, record } from './index-store.contract.js';

const root = mkdtempSync(join(tmpdir(), 'awasm-index-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

indexStoreContract('folder', async () => new FolderIndexStore(join(root, `s${n++}`)));

it('keeps the index as JSON beside the packages, readable by a new store', async () => {
  const folder = join(root, 'persist');
  await new FolderIndexStore(folder).addVersion(record('delta', '1.0.0'));
  expect(JSON.parse(readFileSync(join(folder, 'index.json'), 'utf8')).versions[0].pluginId).toBe('delta');
  expect((await new FolderIndexStore(folder).version('delta', '1.0.0'))?.pluginId).toBe('delta');
});
