import {
  EntrySort,
  LibraryService,
  LibraryStatus,
  type ProgressWriteSchema,
} from '@awasm/shared/gen/awasm/v1/library_service_pb.js';
import { MediaKind } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { SourceErrorSchema } from '@awasm/shared/gen/awasm/v1/source_error_pb.js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { afterEach, describe, expect, it } from 'vitest';
import { authenticate, type Caller, requireUser } from '../../../../packages/server/src/auth.js';
import { toConnectError } from '../../../gateway/src/errors.js';
import { CatalogDatabase } from '../catalog-database.js';
import { FakeSourceRunner } from '../updates/testing/fake-source-runner.js';
import { type LibrarySources, registerLibraryService } from './library-service.js';
import { SqliteLibraryStore } from './sqlite-library-store.js';

const USERS: Record<string, Caller> = {
  alice: { role: 'member', userId: 'alice', userName: 'alice' },
  bob: { role: 'member', userId: 'bob', userName: 'bob' },
};

/** Where the server's clock starts; client times around it are in range. */
const NOW = Date.UTC(2026, 5, 1);

const databases: CatalogDatabase[] = [];
afterEach(() => {
  for (const db of databases.splice(0)) db.close();
});

/** Installed sources as PluginManager.requireEnabled answers for them. */
function fakeSources(installed: Record<string, { name: string; enabled: boolean }>): LibrarySources {
  return {
    async requireEnabled(sourceId) {
      const source = installed[sourceId];
      if (!source) throw new ConnectError(`unknown source '${sourceId}'`, Code.NotFound);
      if (!source.enabled) throw new ConnectError(`source '${sourceId}' is disabled`, Code.FailedPrecondition);
      return { manifest: { name: source.name } };
    },
  };
}

function setup() {
  const db = CatalogDatabase.open(':memory:');
  databases.push(db);
  const store = new SqliteLibraryStore(db);
  const runner = new FakeSourceRunner(2);
  runner.setMedia('demo', 'm1', { title: 'Moon Runner', kind: MediaKind.MANGA, coverUrl: 'https://demo.test/m1.jpg' });
  runner.setMedia('demo', 'm2', { title: 'Ash Garden', kind: MediaKind.COMIC });
  runner.setMedia('demo', 'm3', { title: 'Blue Hour', kind: MediaKind.BOOK });
  runner.setMedia('mirror', 'x1', { title: 'Moon Runner (mirror)', kind: MediaKind.MANGA });
  runner.setUnits('mirror', 'x1', [
    { id: 'x-c1', number: 1, title: 'Chapter 1' },
    { id: 'x-c2', number: 2, title: 'Chapter 2' },
    { id: 'x-extra', title: 'Extra' },
  ]);
  let ids = 0;
  const clock = { now: NOW };
  const sources = fakeSources({
    demo: { name: 'Demo Library', enabled: true },
    mirror: { name: 'Mirror', enabled: true },
    sleepy: { name: 'Sleepy', enabled: false },
  });
  const transport = createRouterTransport(
    (router) =>
      registerLibraryService(router, {
        store,
        runner,
        sources,
        requireUser,
        sourceError: toConnectError,
        newId: () => `id-${++ids}`,
        now: () => clock.now,
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
  const client = createClient(LibraryService, transport);
  const as = (user: string) => ({ headers: { authorization: `Bearer ${user}` } });
  return { store, runner, client, as, clock };
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('the call succeeded');
}

async function codeOf(call: Promise<unknown>): Promise<Code> {
  return (await failure(call)).code;
}

const at = (offsetMs: number) => timestampFromMs(NOW - 60_000 + offsetMs);

describe('LibraryService', () => {
  it('adds an entry with the source’s title, kind, cover and name; a retried add changes nothing', async () => {
    const t = setup();
    const added = await t.client.addEntry({ sourceId: 'demo', mediaId: 'm1' }, t.as('alice'));
    expect(added.created).toBe(true);
    expect(added.entry).toMatchObject({
      sourceId: 'demo',
      mediaId: 'm1',
      title: 'Moon Runner',
      kind: MediaKind.MANGA,
      coverUrl: 'https://demo.test/m1.jpg',
      sourceName: 'Demo Library',
      status: LibraryStatus.READING,
      favourite: false,
      workId: '',
    });
    expect(timestampMs(added.entry?.addedAt ?? timestampFromMs(0))).toBe(NOW);
    const calls = t.runner.calls.length;
    const again = await t.client.addEntry(
      { sourceId: 'demo', mediaId: 'm1', status: LibraryStatus.PLANNED },
      t.as('alice'),
    );
    expect(again.created).toBe(false);
    expect(again.entry?.entryId).toBe(added.entry?.entryId);
    expect(again.entry?.status).toBe(LibraryStatus.READING);
    expect(t.runner.calls.length).toBe(calls);

    const planned = await t.client.addEntry(
      { sourceId: 'demo', mediaId: 'm2', status: LibraryStatus.PLANNED },
      t.as('alice'),
    );
    expect(planned.entry?.status).toBe(LibraryStatus.PLANNED);
  });

  it('refuses an add the source cannot serve, keeping the source’s typed error', async () => {
    const t = setup();
    expect(await codeOf(t.client.addEntry({ sourceId: 'nowhere', mediaId: 'm1' }, t.as('alice')))).toBe(Code.NotFound);
    expect(await codeOf(t.client.addEntry({ sourceId: 'sleepy', mediaId: 'm1' }, t.as('alice')))).toBe(
      Code.FailedPrecondition,
    );
    const missing = await failure(t.client.addEntry({ sourceId: 'demo', mediaId: 'gone' }, t.as('alice')));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.findDetails(SourceErrorSchema)[0]?.kind.case).toBe('notFound');
    t.runner.failing.set('demo/m2', 'site down');
    const down = await failure(t.client.addEntry({ sourceId: 'demo', mediaId: 'm2' }, t.as('alice')));
    expect(down.code).toBe(Code.Unavailable);
    expect(down.findDetails(SourceErrorSchema)[0]).toMatchObject({ sourceId: 'demo', kind: { case: 'network' } });
    expect((await t.client.listEntries({}, t.as('alice'))).entries).toEqual([]);
    // categories are checked before the source is asked
    const calls = t.runner.calls.length;
    const category = await failure(
      t.client.addEntry({ sourceId: 'demo', mediaId: 'm1', categoryIds: ['nope'] }, t.as('alice')),
    );
    expect(category.code).toBe(Code.InvalidArgument);
    expect(category.rawMessage).toMatch(/category_ids/);
    expect(t.runner.calls.length).toBe(calls);
  });

  it('updates only the fields given, and removes an entry', async () => {
    const t = setup();
    const { category } = await t.client.addCategory({ name: 'Weekend' }, t.as('alice'));
    const { entry } = await t.client.addEntry({ sourceId: 'demo', mediaId: 'm1' }, t.as('alice'));
    const entryId = entry?.entryId ?? '';
    const noted = await t.client.updateEntry({ entryId, notes: 'reread ch. 3', favourite: true }, t.as('alice'));
    expect(noted.entry).toMatchObject({ notes: 'reread ch. 3', favourite: true, status: LibraryStatus.READING });
    const moved = await t.client.updateEntry(
      { entryId, status: LibraryStatus.ON_HOLD, categories: { categoryIds: [category?.categoryId ?? ''] } },
      t.as('alice'),
    );
    expect(moved.entry).toMatchObject({
      notes: 'reread ch. 3',
      favourite: true,
      status: LibraryStatus.ON_HOLD,
      categoryIds: [category?.categoryId],
    });
    const cleared = await t.client.updateEntry({ entryId, categories: {} }, t.as('alice'));
    expect(cleared.entry?.categoryIds).toEqual([]);
    expect((await t.client.getEntry({ entryId }, t.as('alice'))).entry?.status).toBe(LibraryStatus.ON_HOLD);
    expect(await codeOf(t.client.updateEntry({ entryId, categories: { categoryIds: ['nope'] } }, t.as('alice')))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(t.client.updateEntry({ entryId, status: LibraryStatus.UNSPECIFIED }, t.as('alice')))).toBe(
      Code.InvalidArgument,
    );

    await t.client.removeEntry({ entryId }, t.as('alice'));
    expect(await codeOf(t.client.getEntry({ entryId }, t.as('alice')))).toBe(Code.NotFound);
    expect(await codeOf(t.client.removeEntry({ entryId }, t.as('alice')))).toBe(Code.NotFound);
  });

  it('lists with filters, sorts and page tokens', async () => {
    const t = setup();
    const { category } = await t.client.addCategory({ name: 'Shelf' }, t.as('alice'));
    for (const mediaId of ['m1', 'm2', 'm3']) {
      await t.client.addEntry(
        { sourceId: 'demo', mediaId, categoryIds: mediaId === 'm3' ? [category?.categoryId ?? ''] : [] },
        t.as('alice'),
      );
    }
    const titles = async (request: Parameters<typeof t.client.listEntries>[0]) =>
      (await t.client.listEntries(request, t.as('alice'))).entries.map((e) => e.title);
    expect(await titles({})).toEqual(['Ash Garden', 'Blue Hour', 'Moon Runner']);
    expect(await titles({ sort: EntrySort.TITLE, reverse: true })).toEqual(['Moon Runner', 'Blue Hour', 'Ash Garden']);
    expect(await titles({ kinds: [MediaKind.COMIC, MediaKind.BOOK] })).toEqual(['Ash Garden', 'Blue Hour']);
    expect(await titles({ text: 'MOON' })).toEqual(['Moon Runner']);
    expect(await titles({ categoryId: category?.categoryId ?? '' })).toEqual(['Blue Hour']);
    expect(await titles({ statuses: [LibraryStatus.COMPLETED] })).toEqual([]);

    const first = await t.client.listEntries({ pageSize: 2 }, t.as('alice'));
    expect(first.entries.map((e) => e.title)).toEqual(['Ash Garden', 'Blue Hour']);
    const second = await t.client.listEntries({ pageSize: 2, pageToken: first.nextPageToken }, t.as('alice'));
    expect(second.entries.map((e) => e.title)).toEqual(['Moon Runner']);
    expect(second.nextPageToken).toBe('');

    const bad = await failure(t.client.listEntries({ pageToken: 'forged' }, t.as('alice')));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toMatch(/page_token/);
    expect((await failure(t.client.listEntries({ pageSize: 501 }, t.as('alice')))).rawMessage).toMatch(/page_size/);
    expect((await failure(t.client.listEntries({ kinds: [MediaKind.UNSPECIFIED] }, t.as('alice')))).rawMessage).toMatch(
      /kinds\[0\]/,
    );
    expect((await failure(t.client.listEntries({ sort: 99 as EntrySort }, t.as('alice')))).rawMessage).toMatch(/sort/);
  });

  it('keeps categories named uniquely, in the user’s order', async () => {
    const t = setup();
    const names = ['Reading now', 'Later', 'Done'];
    const ids: string[] = [];
    for (const name of names)
      ids.push((await t.client.addCategory({ name: ` ${name} ` }, t.as('alice'))).category?.categoryId ?? '');
    expect((await t.client.listCategories({}, t.as('alice'))).categories.map((c) => c.name)).toEqual(names);
    expect(await codeOf(t.client.addCategory({ name: 'later' }, t.as('alice')))).toBe(Code.AlreadyExists);
    expect(await codeOf(t.client.renameCategory({ categoryId: ids[0] ?? '', name: 'DONE' }, t.as('alice')))).toBe(
      Code.AlreadyExists,
    );
    const renamed = await t.client.renameCategory({ categoryId: ids[0] ?? '', name: 'Now' }, t.as('alice'));
    expect(renamed.category).toMatchObject({ name: 'Now', position: 0 });
    const reordered = await t.client.reorderCategories(
      { categoryIds: [ids[2] ?? '', ids[0] ?? '', ids[1] ?? ''] },
      t.as('alice'),
    );
    expect(reordered.categories.map((c) => [c.name, c.position])).toEqual([
      ['Done', 0],
      ['Now', 1],
      ['Later', 2],
    ]);
    expect(await codeOf(t.client.reorderCategories({ categoryIds: [ids[0] ?? ''] }, t.as('alice')))).toBe(
      Code.InvalidArgument,
    );
    expect(
      await codeOf(
        t.client.reorderCategories({ categoryIds: [ids[0] ?? '', ids[0] ?? '', ids[1] ?? ''] }, t.as('alice')),
      ),
    ).toBe(Code.InvalidArgument);
    await t.client.removeCategory({ categoryId: ids[1] ?? '' }, t.as('alice'));
    expect((await t.client.listCategories({}, t.as('alice'))).categories.map((c) => c.name)).toEqual(['Done', 'Now']);
    expect(await codeOf(t.client.removeCategory({ categoryId: ids[1] ?? '' }, t.as('alice')))).toBe(Code.NotFound);
    expect(await codeOf(t.client.renameCategory({ categoryId: 'nope', name: 'x' }, t.as('alice')))).toBe(Code.NotFound);
    expect((await failure(t.client.addCategory({ name: '   ' }, t.as('alice')))).rawMessage).toMatch(/name/);
    expect((await failure(t.client.addCategory({ name: 'x'.repeat(101) }, t.as('alice')))).rawMessage).toMatch(/name/);
  });

  it('keeps two users apart: ids of another user’s entries and categories read as missing', async () => {
    const t = setup();
    const alice = t.as('alice');
    const bob = t.as('bob');
    const { category } = await t.client.addCategory({ name: 'Mine' }, alice);
    const categoryId = category?.categoryId ?? '';
    const { entry } = await t.client.addEntry({ sourceId: 'demo', mediaId: 'm1', categoryIds: [categoryId] }, alice);
    const entryId = entry?.entryId ?? '';
    await t.client.writeProgress({ entryId, writes: [{ unitId: 'c1', read: true, clientTime: at(0) }] }, alice);
    await t.client.addHistory(
      { records: [{ entryId, unitId: 'c1', openedAt: at(0), duration: durationFromMs(60_000) }] },
      alice,
    );
    await t.client.addEntry({ sourceId: 'demo', mediaId: 'm2' }, bob);
    const { entry: bobs } = await t.client.addEntry({ sourceId: 'demo', mediaId: 'm3' }, bob);

    // thunks: each call starts when it is awaited, so no rejection waits unhandled
    const notFound = [
      () => t.client.getEntry({ entryId }, bob),
      () => t.client.updateEntry({ entryId, notes: 'mine now' }, bob),
      () => t.client.removeEntry({ entryId }, bob),
      () => t.client.writeProgress({ entryId, writes: [{ unitId: 'c1', read: false, clientTime: at(5000) }] }, bob),
      () => t.client.listProgress({ entryId }, bob),
      () => t.client.listHistory({ entryId }, bob),
      () => t.client.unlinkEntry({ entryId }, bob),
      () => t.client.linkEntries({ entryIds: [entryId, bobs?.entryId ?? ''] }, bob),
      () => t.client.moveEntry({ entryId, targetSourceId: 'mirror', targetMediaId: 'x1', dryRun: true }, bob),
      () => t.client.renameCategory({ categoryId, name: 'Ours' }, bob),
      () => t.client.removeCategory({ categoryId }, bob),
    ];
    for (const call of notFound) expect(await codeOf(call())).toBe(Code.NotFound);
    // a category of another user is no category of bob's
    expect(
      await codeOf(
        t.client.updateEntry({ entryId: bobs?.entryId ?? '', categories: { categoryIds: [categoryId] } }, bob),
      ),
    ).toBe(Code.InvalidArgument);
    expect(await codeOf(t.client.reorderCategories({ categoryIds: [categoryId] }, bob))).toBe(Code.InvalidArgument);
    expect(
      (
        await t.client.addHistory(
          { records: [{ entryId, unitId: 'c2', openedAt: at(1), duration: durationFromMs(1) }] },
          bob,
        )
      ).added,
    ).toBe(0);

    // bob sees none of alice's data and changed none of it
    expect((await t.client.listEntries({}, bob)).entries.map((e) => e.mediaId).sort()).toEqual(['m2', 'm3']);
    expect((await t.client.listEntries({ categoryId }, bob)).entries).toEqual([]);
    expect((await t.client.listCategories({}, bob)).categories).toEqual([]);
    expect((await t.client.listHistory({}, bob)).records).toEqual([]);
    const mine = await t.client.getEntry({ entryId }, alice);
    expect(mine.entry).toMatchObject({ notes: '', categoryIds: [categoryId], readCount: 1, workId: '' });
    expect((await t.client.listProgress({ entryId }, alice)).progress.map((p) => [p.unitId, p.read])).toEqual([
      ['c1', true],
    ]);
    expect((await t.client.listHistory({}, alice)).records.map((r) => r.unitId)).toEqual(['c1']);
    expect((await t.client.listCategories({}, alice)).categories.map((c) => c.name)).toEqual(['Mine']);
  });

  it('merges concurrent progress writes of two clients on one unit into the documented state', async () => {
    const t = setup();
    const alice = t.as('alice');
    const { entry } = await t.client.addEntry({ sourceId: 'demo', mediaId: 'm1' }, alice);
    const entryId = entry?.entryId ?? '';
    // the phone reads pages 1..40 and marks the unit read on its last write; the tablet syncs
    // older positions without a read flag, interleaved with the phone's writes
    const phone = Array.from({ length: 40 }, (_, i) =>
      t.client.writeProgress(
        {
          entryId,
          writes: [
            {
              unitId: 'c1',
              position: i + 1,
              total: 40,
              clientTime: at(1000 + i * 10),
              ...(i === 39 ? { read: true } : {}),
            },
          ],
        },
        alice,
      ),
    );
    const tablet = Array.from({ length: 40 }, (_, i) =>
      t.client.writeProgress(
        { entryId, writes: [{ unitId: 'c1', position: 100 - i, total: 100, clientTime: at(i * 10) }] },
        alice,
      ),
    );
    const order = phone.flatMap((p, i) => [p, tablet[i]]);
    await Promise.all(order);
    const { progress } = await t.client.listProgress({ entryId }, alice);
    expect(progress).toHaveLength(1);
    // newest clientTime wins the position; read was set and no later write cleared it
    expect(progress[0]).toMatchObject({ unitId: 'c1', position: 40, total: 40, read: true });
    expect(timestampMs(progress[0]?.positionAt ?? timestampFromMs(0))).toBe(NOW - 60_000 + 1390);

    // equal client time: the greater position wins whichever arrives last
    const tie = at(5000);
    await Promise.all([
      t.client.writeProgress({ entryId, writes: [{ unitId: 'c2', position: 7, clientTime: tie }] }, alice),
      t.client.writeProgress({ entryId, writes: [{ unitId: 'c2', position: 9, clientTime: tie }] }, alice),
    ]);
    // a sync without read never clears it; an older explicit unread loses; a retry changes nothing
    const before = await t.client.writeProgress(
      { entryId, writes: [{ unitId: 'c1', read: false, clientTime: at(1000) }] },
      alice,
    );
    expect(before.progress[0]?.read).toBe(true);
    t.clock.now += 1000;
    const retry = await t.client.writeProgress(
      { entryId, writes: [{ unitId: 'c1', read: false, clientTime: at(1000) }] },
      alice,
    );
    expect(retry.progress[0]?.updatedAt).toEqual(before.progress[0]?.updatedAt);
    const rows = (await t.client.listProgress({ entryId }, alice)).progress;
    expect(rows.map((r) => [r.unitId, r.position, r.read])).toEqual([
      ['c1', 40, true],
      ['c2', 9, false],
    ]);
    expect((await t.client.getEntry({ entryId }, alice)).entry?.readCount).toBe(1);

    // a newer explicit unread clears it
    await t.client.writeProgress({ entryId, writes: [{ unitId: 'c1', read: false, clientTime: at(9000) }] }, alice);
    expect((await t.client.getEntry({ entryId }, alice)).entry?.readCount).toBe(0);
  });

  it('checks every progress write before storing any', async () => {
    const t = setup();
    const alice = t.as('alice');
    const { entry } = await t.client.addEntry({ sourceId: 'demo', mediaId: 'm1' }, alice);
    const entryId = entry?.entryId ?? '';
    type Write = MessageInitShape<typeof ProgressWriteSchema>;
    const good: Write = { unitId: 'c1', position: 1, clientTime: at(0) };
    const cases: [Write, RegExp][] = [
      [{ ...good, unitId: '' }, /writes\[1\]\.unit_id/],
      [{ ...good, position: -1 }, /writes\[1\]\.position/],
      [{ ...good, position: Number.NaN }, /writes\[1\]\.position/],
      [{ ...good, total: Number.POSITIVE_INFINITY }, /writes\[1\]\.total/],
      [{ ...good, unitTitle: 't'.repeat(1001) }, /writes\[1\]\.unit_title/],
      [{ unitId: 'c1', position: 1 }, /writes\[1\]\.client_time/],
      [{ ...good, clientTime: timestampFromMs(Date.UTC(1999, 0, 1)) }, /writes\[1\]\.client_time/],
      [{ ...good, clientTime: timestampFromMs(NOW + 2 * 24 * 3600 * 1000) }, /writes\[1\]\.client_time/],
    ];
    for (const [bad, field] of cases) {
      const error = await failure(t.client.writeProgress({ entryId, writes: [good, bad] }, alice));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toMatch(field);
    }
    expect((await t.client.listProgress({ entryId }, alice)).progress).toEqual([]);
    const tooMany = Array.from({ length: 1001 }, () => good);
    expect((await failure(t.client.writeProgress({ entryId, writes: tooMany }, alice))).rawMessage).toMatch(/writes/);
    expect((await failure(t.client.writeProgress({ entryId, writes: [] }, alice))).rawMessage).toMatch(/writes/);
    expect(
      (await failure(t.client.writeProgress({ entryId: 'e'.repeat(257), writes: [good] }, alice))).rawMessage,
    ).toMatch(/entry_id/);
    expect((await failure(t.client.updateEntry({ entryId, notes: 'n'.repeat(10_001) }, alice))).rawMessage).toMatch(
      /notes/,
    );
    expect((await failure(t.client.addEntry({ sourceId: 'Demo!', mediaId: 'm1' }, alice))).rawMessage).toMatch(
      /source_id/,
    );
    expect((await failure(t.client.addEntry({ sourceId: 'demo', mediaId: '' }, alice))).rawMessage).toMatch(/media_id/);
  });

  it('records history once per opening, newest first, paged and per entry', async () => {
    const t = setup();
    const alice = t.as('alice');
    const a = (await t.client.addEntry({ sourceId: 'demo', mediaId: 'm1' }, alice)).entry?.entryId ?? '';
    const b = (await t.client.addEntry({ sourceId: 'demo', mediaId: 'm2' }, alice)).entry?.entryId ?? '';
    const record = (entryId: string, unitId: string, offset: number, minutes: number) => ({
      entryId,
      unitId,
      openedAt: at(offset),
      duration: durationFromMs(minutes * 60_000),
    });
    expect(
      (
        await t.client.addHistory(
          { records: [record(a, 'c1', 0, 5), record(a, 'c2', 10, 3), record(b, 'c1', 20, 1)] },
          alice,
        )
      ).added,
    ).toBe(3);
    // the same opening again with a longer duration lengthens it; a retry adds nothing
    expect((await t.client.addHistory({ records: [record(a, 'c1', 0, 8)] }, alice)).added).toBe(1);
    expect((await t.client.addHistory({ records: [record(a, 'c1', 0, 8)] }, alice)).added).toBe(0);
    const first = await t.client.listHistory({ pageSize: 2 }, alice);
    expect(first.records.map((r) => `${r.entryId === a ? 'a' : 'b'}/${r.unitId}`)).toEqual(['b/c1', 'a/c2']);
    const second = await t.client.listHistory({ pageSize: 2, pageToken: first.nextPageToken }, alice);
    expect(second.records.map((r) => r.unitId)).toEqual(['c1']);
    expect(Number(second.records[0]?.duration?.seconds)).toBe(8 * 60);
    expect((await t.client.listHistory({ entryId: a }, alice)).records.map((r) => r.unitId)).toEqual(['c2', 'c1']);
    expect(
      (
        await failure(
          t.client.addHistory({ records: [{ ...record(a, 'c1', 0, 1), duration: durationFromMs(-1) }] }, alice),
        )
      ).rawMessage,
    ).toMatch(/records\[0\]\.duration/);
    expect(
      (
        await failure(
          t.client.addHistory({ records: [{ entryId: a, unitId: 'c1', duration: durationFromMs(1) }] }, alice),
        )
      ).rawMessage,
    ).toMatch(/records\[0\]\.opened_at/);
  });

  it('links entries into one work and unlinks them', async () => {
    const t = setup();
    const alice = t.as('alice');
    const a = (await t.client.addEntry({ sourceId: 'demo', mediaId: 'm1' }, alice)).entry?.entryId ?? '';
    const b = (await t.client.addEntry({ sourceId: 'mirror', mediaId: 'x1' }, alice)).entry?.entryId ?? '';
    const { workId } = await t.client.linkEntries({ entryIds: [a, b] }, alice);
    expect(workId).not.toBe('');
    expect((await t.client.getEntry({ entryId: b }, alice)).entry?.workId).toBe(workId);
    const unlinked = await t.client.unlinkEntry({ entryId: b }, alice);
    expect(unlinked.entry?.workId).toBe('');
    expect(await codeOf(t.client.linkEntries({ entryIds: [a] }, alice))).toBe(Code.InvalidArgument);
    expect(await codeOf(t.client.linkEntries({ entryIds: [a, a] }, alice))).toBe(Code.InvalidArgument);
    expect(await codeOf(t.client.linkEntries({ entryIds: [a, 'nope'] }, alice))).toBe(Code.NotFound);
  });

  it('moves an entry to another source: a dry run changes nothing, the move keeps the matched progress', async () => {
    const t = setup();
    const alice = t.as('alice');
    const { entry } = await t.client.addEntry({ sourceId: 'demo', mediaId: 'm1' }, alice);
    const entryId = entry?.entryId ?? '';
    await t.client.updateEntry({ entryId, notes: 'keep me', status: LibraryStatus.ON_HOLD }, alice);
    await t.client.writeProgress(
      {
        entryId,
        writes: [
          { unitId: 'd-c1', unitNumber: 1, unitTitle: 'Chapter 1', read: true, clientTime: at(0) },
          { unitId: 'd-c2', unitNumber: 2, position: 12, total: 20, clientTime: at(10) },
          { unitId: 'd-c9', unitNumber: 9, read: true, clientTime: at(20) },
        ],
      },
      alice,
    );

    const dry = await t.client.moveEntry(
      { entryId, targetSourceId: 'mirror', targetMediaId: 'x1', dryRun: true },
      alice,
    );
    expect(dry.matched).toBe(2);
    expect(dry.targetUnits).toBe(3);
    expect(dry.unmatched.map((u) => u.unitId)).toEqual(['d-c9']);
    expect(dry.entry?.sourceId).toBe('demo');
    expect((await t.client.getEntry({ entryId }, alice)).entry?.sourceId).toBe('demo');
    expect((await t.client.listProgress({ entryId }, alice)).progress).toHaveLength(3);

    const moved = await t.client.moveEntry({ entryId, targetSourceId: 'mirror', targetMediaId: 'x1' }, alice);
    expect(moved.matched).toBe(2);
    expect(moved.unmatched.map((u) => u.unitId)).toEqual(['d-c9']);
    expect(moved.entry).toMatchObject({
      entryId,
      sourceId: 'mirror',
      mediaId: 'x1',
      title: 'Moon Runner (mirror)',
      sourceName: 'Mirror',
      notes: 'keep me',
      status: LibraryStatus.ON_HOLD,
    });
    const rows = (await t.client.listProgress({ entryId }, alice)).progress;
    expect(rows.map((r) => [r.unitId, r.read, r.position])).toEqual([
      ['x-c1', true, 0],
      ['x-c2', false, 12],
    ]);

    // back onto a work the library has, onto itself, or to a source that cannot serve
    await t.client.addEntry({ sourceId: 'demo', mediaId: 'm2' }, alice);
    expect(
      await codeOf(t.client.moveEntry({ entryId, targetSourceId: 'demo', targetMediaId: 'm2', dryRun: true }, alice)),
    ).toBe(Code.AlreadyExists);
    expect(await codeOf(t.client.moveEntry({ entryId, targetSourceId: 'mirror', targetMediaId: 'x1' }, alice))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(t.client.moveEntry({ entryId, targetSourceId: 'sleepy', targetMediaId: 'x1' }, alice))).toBe(
      Code.FailedPrecondition,
    );
    expect(await codeOf(t.client.moveEntry({ entryId, targetSourceId: 'demo', targetMediaId: 'gone' }, alice))).toBe(
      Code.NotFound,
    );
    expect((await t.client.getEntry({ entryId }, alice)).entry?.sourceId).toBe('mirror');

    // a target whose unit list runs on past the bound is refused, and nothing moves
    t.runner.setMedia('demo', 'endless', { title: 'Endless' });
    t.runner.setUnits(
      'demo',
      'endless',
      Array.from({ length: 500 }, (_, i) => ({ id: `u${i}`, number: i })),
    );
    expect(await codeOf(t.client.moveEntry({ entryId, targetSourceId: 'demo', targetMediaId: 'endless' }, alice))).toBe(
      Code.ResourceExhausted,
    );
    expect((await t.client.getEntry({ entryId }, alice)).entry?.mediaId).toBe('x1');
  });

  it('needs a user for every call', async () => {
    const t = setup();
    const calls = [
      () => t.client.addEntry({ sourceId: 'demo', mediaId: 'm1' }),
      () => t.client.getEntry({ entryId: 'e' }),
      () => t.client.listEntries({}),
      () => t.client.listCategories({}),
      () => t.client.writeProgress({ entryId: 'e', writes: [] }),
      () => t.client.listHistory({}),
      () => t.client.moveEntry({ entryId: 'e', targetSourceId: 'mirror', targetMediaId: 'x1' }),
    ];
    for (const call of calls) expect(await codeOf(call())).toBe(Code.Unauthenticated);
  });
});
