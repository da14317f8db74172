import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { FolderPackageStore } from './folder-package-store.js';
import { packageStoreContract } from './package-store.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'awasm-packages-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

packageStoreContract(
  'folder',
  async () => new FolderPackageStore(dir),
  async (digest, bytes) => writeFileSync(join(dir, `${digest}.awpkg`), bytes),
);
