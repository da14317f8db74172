/**
 * Backups with the `awasm` CLI against real `awasm serve` processes on port 0: the admin imports a
 * library and exports it; bob, a member, starts empty, imports the admin's file into his own
 * library without touching the admin's; the admin's file imported on a fresh server exports the
 * same library again; a Mihon .tachibk imports with its entry kept as orphaned.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigDir, configDir } from '../support/auth.js';
import { awasm, awasmBin, startProcess, tempDir } from '../support/index.js';

type Server = Awaited<ReturnType<typeof startProcess>>;

let data: Awaited<ReturnType<typeof tempDir>>;
const servers: Server[] = [];
const configs: ConfigDir[] = [];

async function serve(name: string): Promise<{ url: string; config: ConfigDir }> {
  const config = await configDir(`backup-${name}`);
  configs.push(config);
  const server = await startProcess(
    process.execPath,
    [awasmBin, 'serve', '--port', '0', '--data-dir', join(data.path, name), '--log-level', 'warn'],
    /awasm listening on (http:\/\/\S+)/,
    { env: config.env },
  );
  servers.push(server);
  return { url: server.match[1] as string, config };
}

beforeAll(async () => {
  data = await tempDir('backup-e2e');
});

afterAll(async () => {
  for (const server of servers) await server.stop();
  for (const config of configs) await config.remove();
  await data?.remove();
});

const family = {
  format: 'awasm-backup',
  version: 1,
  exportedAt: 1_764_000_000_000,
  categories: [
    { id: 'c1', name: 'Reading', position: 0 },
    { id: 'c2', name: 'Bedtime', position: 1 },
  ],
  entries: [
    {
      id: 'e1',
      sourceId: 'demo-library',
      mediaId: 'pride-and-prejudice',
      sourceName: 'Demo Library',
      title: 'Pride and Prejudice',
      kind: 'book',
      status: 'reading',
      favourite: true,
      notes: 'for the book club',
      categoryIds: ['c1', 'c2'],
      addedAt: 1_763_000_000_000,
      progress: [
        {
          unitId: 'ch-1',
          unitNumber: 1,
          read: true,
          position: 12,
          total: 12,
          positionAt: 1_763_100_000_000,
          readAt: 1_763_100_000_000,
        },
        {
          unitId: 'ch-2',
          unitNumber: 2,
          read: false,
          position: 5,
          total: 20,
          positionAt: 1_763_200_000_000,
          readAt: 0,
        },
      ],
      history: [{ unitId: 'ch-1', openedAt: 1_763_090_000_000, durationMs: 600_000 }],
    },
    {
      id: 'e2',
      sourceId: 'demo-library',
      mediaId: 'emma',
      sourceName: 'Demo Library',
      title: 'Emma',
      kind: 'book',
      status: 'planned',
      favourite: false,
      notes: '',
      categoryIds: [],
      addedAt: 1_763_500_000_000,
      progress: [],
      history: [],
    },
  ],
};

/** What a backup says of a library, without the ids and times one server chose. */
function content(file: { categories: { name: string }[]; entries: Record<string, unknown>[] }) {
  return {
    categories: file.categories.map((c) => c.name),
    entries: file.entries.map(({ id: _id, categoryIds, workId: _work, ...rest }) => ({
      ...rest,
      categories: (categoryIds as string[]).length,
    })),
  };
}

describe('awasm backup against a running server', () => {
  it('imports, exports, keeps two users apart, and moves a library to a fresh server', async () => {
    const home = await serve('home');
    const asAdmin = (args: string[]) => awasm(['--server', home.url, ...args], home.config.env);
    const added = await asAdmin(['--json', 'user', 'add', 'bob']);
    expect(added.code, added.stderr).toBe(0);
    const bobKey = JSON.parse(added.stdout).key as string;
    const asBob = (args: string[]) => awasm(['--server', home.url, '--api-key', bobKey, ...args], home.config.env);

    const familyFile = join(data.path, 'family.json');
    await writeFile(familyFile, JSON.stringify(family));
    const imported = await asAdmin(['--json', 'backup', 'import', familyFile]);
    expect(imported.code, imported.stderr).toBe(0);
    // the demo plugin is not installed on this server: its entries are kept, orphaned
    expect(JSON.parse(imported.stdout)).toMatchObject({ entriesAdded: 2, categoriesAdded: 2, orphaned: 2 });

    const adminFile = join(data.path, 'admin.json');
    expect((await asAdmin(['backup', 'export', '-o', adminFile])).code).toBe(0);
    const adminBackup = JSON.parse(await readFile(adminFile, 'utf8'));
    expect(adminBackup.entries.map((e: { title: string }) => e.title)).toEqual(['Pride and Prejudice', 'Emma']);

    const bobEmpty = join(data.path, 'bob-empty.json');
    expect((await asBob(['backup', 'export', '-o', bobEmpty])).code).toBe(0);
    expect(JSON.parse(await readFile(bobEmpty, 'utf8')).entries).toEqual([]);

    const bobImport = await asBob(['--json', 'backup', 'import', adminFile]);
    expect(bobImport.code, bobImport.stderr).toBe(0);
    expect(JSON.parse(bobImport.stdout)).toMatchObject({ entriesAdded: 2, entriesExisting: 0 });
    const bobFile = join(data.path, 'bob.json');
    await asBob(['backup', 'export', '-o', bobFile]);
    expect(content(JSON.parse(await readFile(bobFile, 'utf8')))).toEqual(content(adminBackup));
    const adminAgain = join(data.path, 'admin-again.json');
    await asAdmin(['backup', 'export', '-o', adminAgain]);
    expect({ ...JSON.parse(await readFile(adminAgain, 'utf8')), exportedAt: 0 }).toEqual({
      ...adminBackup,
      exportedAt: 0,
    });

    const fresh = await serve('fresh');
    const onFresh = (args: string[]) => awasm(['--server', fresh.url, ...args], fresh.config.env);
    expect((await onFresh(['backup', 'import', adminFile])).code).toBe(0);
    const freshFile = join(data.path, 'fresh.json');
    await onFresh(['backup', 'export', '-o', freshFile]);
    expect(content(JSON.parse(await readFile(freshFile, 'utf8')))).toEqual(content(adminBackup));
  });

  it('imports a Mihon .tachibk and refuses a broken file whole', async () => {
    const { url, config } = await serve('mihon');
    const run = (args: string[]) => awasm(['--server', url, ...args], config.env);
    const w = new BinaryWriter();
    w.tag(2, WireType.LengthDelimited)
      .fork()
      .tag(1, WireType.LengthDelimited)
      .string('Manga')
      .tag(2, WireType.Varint)
      .int64(1)
      .join();
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(1, WireType.Varint).int64('2499283573021220255');
    w.tag(2, WireType.LengthDelimited).string('/title/abc');
    w.tag(3, WireType.LengthDelimited).string('Blue Period');
    w.tag(16, WireType.LengthDelimited)
      .fork()
      .tag(1, WireType.LengthDelimited)
      .string('/chapter/1')
      .tag(4, WireType.Varint)
      .bool(true)
      .join();
    w.tag(17, WireType.Varint).int64(1);
    w.join();
    w.tag(101, WireType.LengthDelimited)
      .fork()
      .tag(1, WireType.LengthDelimited)
      .string('MangaDex')
      .tag(2, WireType.Varint)
      .int64('2499283573021220255')
      .join();
    const bytes = w.finish();
    const file = join(data.path, 'mihon.tachibk');
    await writeFile(file, gzipSync(bytes));

    const imported = await run(['--json', 'backup', 'import', file]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({
      format: 'tachibk',
      entriesAdded: 1,
      categoriesAdded: 1,
      progressChanged: 1,
      orphaned: 1,
    });
    const out = join(data.path, 'mihon.json');
    await run(['backup', 'export', '-o', out]);
    const [entry] = JSON.parse(await readFile(out, 'utf8')).entries;
    expect(entry).toMatchObject({
      sourceId: 'mihon:2499283573021220255',
      mediaId: '/title/abc',
      orphaned: { reason: 'unknown_source', detail: 'MangaDex' },
      progress: [{ unitId: '/chapter/1', read: true }],
    });

    const broken = join(data.path, 'broken.tachibk');
    await writeFile(broken, gzipSync(bytes.subarray(0, 20)));
    const refused = await run(['backup', 'import', broken, '--format', 'tachibk']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: InvalidArgument: backup\S*: truncated/);
    const after = join(data.path, 'mihon-after.json');
    await run(['backup', 'export', '-o', after]);
    expect(JSON.parse(await readFile(after, 'utf8')).entries).toEqual(JSON.parse(await readFile(out, 'utf8')).entries);
  });
});
