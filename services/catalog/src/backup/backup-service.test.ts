import { gzipSync } from 'node:zlib';
import { BackupFormat, BackupService } from '@awasm/shared/gen/awasm/v1/backup_service_pb.js';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { afterEach, describe, expect, it } from 'vitest';
import { authenticate, type Caller, requireUser } from '../../../../packages/server/src/auth.js';
import { CatalogDatabase } from '../catalog-database.js';
import { SqliteLibraryStore } from '../library/sqlite-library-store.js';
import { BACKUP_LIMITS } from './backup-format.js';
import { registerBackupService } from './backup-service.js';
import { sampleBackup } from './testing/sample-backup.js';

const USERS: Record<string, Caller> = {
  alice: { role: 'member', userId: 'alice', userName: 'alice' },
  bob: { role: 'member', userId: 'bob', userName: 'bob' },
};

const databases: CatalogDatabase[] = [];
afterEach(() => {
  for (const db of databases.splice(0)) db.close();
});

function setup() {
  const db = CatalogDatabase.open(':memory:');
  databases.push(db);
  const library = new SqliteLibraryStore(db);
  let id = 0;
  const transport = createRouterTransport(
    (router) =>
      registerBackupService(router, {
        library,
        installedSources: async () => [
          { sourceId: 'demo-library', name: 'Demo Library' },
          {
            sourceId: 'mangadex',
            name: 'MangaDex',
            replaces: [{ mihonSourceId: '2499283573021220255', name: 'MangaDex' }],
          },
        ],
        requireUser,
        now: () => Date.UTC(2026, 11, 3, 12),
        newId: () => `id-${++id}`,
      }),
    {
      router: {
        interceptors: [
          authenticate(
            (header) => USERS[header.get('authorization')?.replace('Bearer ', '') ?? ''] ?? { role: 'anonymous' },
          ),
        ],
      },
    },
  );
  const client = createClient(BackupService, transport);
  const as = (user: string) => ({ headers: { authorization: `Bearer ${user}` } });
  return { library, client, as };
}

async function errorOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('the call succeeded');
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('BackupService', () => {
  it('imports a JSON backup into the caller’s library and exports it again', async () => {
    const t = setup();
    const imported = await t.client.importBackup({ data: json(sampleBackup()) }, t.as('alice'));
    expect(imported).toMatchObject({
      format: BackupFormat.AWASM_JSON,
      entriesAdded: 2,
      categoriesAdded: 2,
      progressChanged: 2,
      historyAdded: 2,
      orphaned: 1,
      worksLinked: 1,
      dryRun: false,
    });
    const exported = await t.client.exportBackup({}, t.as('alice'));
    expect(exported.fileName).toBe('awasm-backup-2026-12-03.json');
    expect(exported.entries).toBe(2);
    const doc = JSON.parse(new TextDecoder().decode(exported.data));
    expect(doc.format).toBe('awasm-backup');
    expect(doc.entries.map((e: { title: string }) => e.title).sort()).toEqual(['Ōkami', 'Ōkami – 狼 [vol. 1]']);
  });

  it('keeps two users apart: B’s import of A’s backup never touches A’s library', async () => {
    const t = setup();
    await t.client.importBackup({ data: json(sampleBackup()) }, t.as('alice'));
    const aliceBefore = await t.client.exportBackup({}, t.as('alice'));
    expect((await t.client.exportBackup({}, t.as('bob'))).entries).toBe(0);

    const report = await t.client.importBackup({ data: aliceBefore.data }, t.as('bob'));
    expect(report.entriesAdded).toBe(2);
    expect(report.entriesExisting).toBe(0);
    expect((await t.client.exportBackup({}, t.as('alice'))).data).toEqual(aliceBefore.data);
    const bobs = (await t.library.listEntries('bob', { sort: 'added', limit: 10 })).entries;
    const alices = (await t.library.listEntries('alice', { sort: 'added', limit: 10 })).entries;
    expect(bobs).toHaveLength(2);
    expect(bobs.map((e) => e.entryId).filter((id) => alices.some((a) => a.entryId === id))).toEqual([]);
  });

  it('refuses a malformed backup with INVALID_ARGUMENT naming the field, and writes nothing', async () => {
    const t = setup();
    const bad = sampleBackup();
    (bad.entries[1] as { progress: unknown[] }).progress = [
      { unitId: 'u', read: true, position: -3, total: 0, positionAt: 0, readAt: 0 },
    ];
    const error = await errorOf(t.client.importBackup({ data: json(bad) }, t.as('alice')));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe('entries[1].progress[0].position: must be a finite number >= 0, got -3');
    expect((await t.client.exportBackup({}, t.as('alice'))).entries).toBe(0);
  });

  it('refuses hostile JSON whole, leaving the caller’s library as it was', async () => {
    const t = setup();
    await t.client.importBackup({ data: json(sampleBackup()) }, t.as('alice'));
    const before = (await t.client.exportBackup({}, t.as('alice'))).data;
    const doc = sampleBackup();
    const duplicate = { ...doc, entries: [...doc.entries, { ...doc.entries[0], mediaId: 'new-one' }] };
    const huge = { ...doc, entries: [{ ...doc.entries[0], notes: 'n'.repeat(1_000_000) }] };
    const cases: [Uint8Array, string][] = [
      [
        new TextEncoder().encode(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
        'backup: nested deeper than 5 levels (at character 5)',
      ],
      [json(duplicate), 'entries[2].id: duplicate of entries[0].id'],
      [json(huge), 'entries[0].notes: must be at most 10000 characters, got 1000000'],
      [json({ ...doc, version: 2 }), 'version: must be 1 (the version this server reads), got 2'],
    ];
    for (const [data, message] of cases) {
      const error = await errorOf(t.client.importBackup({ data }, t.as('alice')));
      expect([error.code, error.rawMessage]).toEqual([Code.InvalidArgument, message]);
    }
    expect((await t.client.exportBackup({}, t.as('alice'))).data).toEqual(before);
  });

  it('reads a .tachibk, told by its content or asked for, and refuses JSON given as one', async () => {
    const t = setup();
    const w = new BinaryWriter();
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(1, WireType.Varint).int64('2499283573021220255');
    w.tag(2, WireType.LengthDelimited).string('/title/abc');
    w.tag(3, WireType.LengthDelimited).string('Blue Period');
    w.join();
    const tachibk = gzipSync(w.finish());
    const detected = await t.client.importBackup({ data: tachibk, dryRun: true }, t.as('alice'));
    expect(detected).toMatchObject({ format: BackupFormat.TACHIBK, entriesAdded: 1, orphaned: 0, dryRun: true });
    expect((await t.client.exportBackup({}, t.as('alice'))).entries).toBe(0);

    const asked = await t.client.importBackup({ data: tachibk, format: BackupFormat.TACHIBK }, t.as('alice'));
    expect(asked.entriesAdded).toBe(1);
    expect(await t.library.findEntry('alice', 'mangadex', '/title/abc')).toMatchObject({ title: 'Blue Period' });

    const error = await errorOf(
      t.client.importBackup({ data: json(sampleBackup()), format: BackupFormat.TACHIBK }, t.as('alice')),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe('backup: not a .tachibk (gzip) file');
  });

  it('refuses empty and oversized data before reading it', async () => {
    const t = setup();
    const empty = await errorOf(t.client.importBackup({ data: new Uint8Array() }, t.as('alice')));
    expect([empty.code, empty.rawMessage]).toEqual([Code.InvalidArgument, 'data: must not be empty']);
    const huge = await errorOf(
      t.client.importBackup({ data: new Uint8Array(BACKUP_LIMITS.maxBytes + 1) }, t.as('alice')),
    );
    expect([huge.code, huge.rawMessage]).toEqual([
      Code.InvalidArgument,
      'data: 67108865 bytes exceeds the cap of 67108864 bytes',
    ]);
  });

  it('needs a user for every call', async () => {
    const t = setup();
    expect((await errorOf(t.client.exportBackup({}))).code).toBe(Code.Unauthenticated);
    expect((await errorOf(t.client.importBackup({ data: json(sampleBackup()) }))).code).toBe(Code.Unauthenticated);
  });
});
