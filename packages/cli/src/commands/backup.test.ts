import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatalogDatabase, registerBackupService, SqliteLibraryStore } from '@awasm/catalog';
import { BackupService } from '@awasm/shared/gen/awasm/v1/backup_service_pb.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireUser } from '../../../server/src/auth.js';
import { createServer, type RunningServer } from '../../../server/src/server.js';
import { main } from '../main.js';

let dir: string;
let server: RunningServer;
let db: CatalogDatabase;
const previousConfigDir = process.env.AWASM_CONFIG_DIR;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'awasm-cli-backup-'));
  // the CLI may look for saved credentials: never the real ~/.config
  process.env.AWASM_CONFIG_DIR = join(dir, 'config');
  db = CatalogDatabase.open(':memory:');
  const library = new SqliteLibraryStore(db);
  server = await createServer({
    host: '127.0.0.1',
    port: 0,
    services: [BackupService],
    routes: (router) =>
      registerBackupService(router, {
        library,
        installedSources: async () => [{ sourceId: 'demo-library', name: 'Demo Library' }],
        requireUser,
      }),
    // every caller is one user: how keys reach a user is not this command's concern
    authenticate: () => ({ role: 'member', userId: 'alice', userName: 'alice' }),
  });
});

afterAll(async () => {
  await server?.close();
  db?.close();
  if (previousConfigDir === undefined) delete process.env.AWASM_CONFIG_DIR;
  else process.env.AWASM_CONFIG_DIR = previousConfigDir;
  await rm(dir, { recursive: true, force: true });
});

async function awasm(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'awasm', '--server', server.url, ...args], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const backup = {
  format: 'awasm-backup',
  version: 1,
  exportedAt: 1,
  categories: [{ id: 'c1', name: 'Reading', position: 0 }],
  entries: [
    {
      id: 'e1',
      sourceId: 'demo-library',
      mediaId: 'book-1',
      sourceName: 'Demo Library',
      title: 'A Book',
      kind: 'book',
      status: 'reading',
      favourite: false,
      notes: '',
      categoryIds: ['c1'],
      addedAt: 1_000,
      progress: [{ unitId: 'p1', read: true, position: 3, total: 10, positionAt: 2_000, readAt: 2_000 }],
      history: [],
    },
    {
      id: 'e2',
      sourceId: 'not-here',
      mediaId: 'x',
      sourceName: 'Gone Source',
      title: 'Elsewhere',
      kind: 'manga',
      status: 'planned',
      favourite: false,
      notes: '',
      categoryIds: [],
      addedAt: 2_000,
      progress: [],
      history: [],
    },
  ],
};

describe('awasm backup', () => {
  it('imports a file, dry run first, then exports the library to a file it will not overwrite', async () => {
    const file = join(dir, 'in.json');
    await writeFile(file, JSON.stringify(backup));

    const dry = await awasm('--json', 'backup', 'import', file, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ format: 'json', dryRun: true, entriesAdded: 2, orphaned: 1 });

    const real = await awasm('backup', 'import', file);
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toContain(`imported ${file} (json):`);
    expect(real.stdout).toContain('entries     2 added, 0 already in the library');
    expect(real.stdout).toContain('orphaned    1 entries of sources not installed here');

    const again = await awasm('--json', 'backup', 'import', file, '--format', 'json');
    expect(JSON.parse(again.stdout)).toMatchObject({ entriesAdded: 0, entriesExisting: 2, progressChanged: 0 });

    const out = join(dir, 'out.json');
    const exported = await awasm('backup', 'export', '-o', out);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/^exported 2 entries to .*out\.json \(\d+ bytes\)$/);
    const doc = JSON.parse(await readFile(out, 'utf8'));
    expect(doc.entries.map((e: { title: string }) => e.title)).toEqual(['A Book', 'Elsewhere']);

    const clash = await awasm('backup', 'export', '-o', out);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/exists; pass --force/);
    expect((await awasm('backup', 'export', '-o', out, '--force')).code).toBe(0);
  });

  it('says which field of a bad backup is wrong (exit 1) and refuses bad usage (exit 2)', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ ...backup, entries: [{ ...backup.entries[0], favourite: 'yes' }] }));
    const bad = await awasm('backup', 'import', file);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('error: InvalidArgument: entries[0].favourite: must be true or false, got a string');

    const format = await awasm('backup', 'import', file, '--format', 'zip');
    expect([format.code, format.stderr]).toEqual([2, "error: --format 'zip' must be json or tachibk"]);
    const missing = await awasm('backup', 'import', join(dir, 'none.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read backup file .*none\.json': ENOENT/);
  });
});
