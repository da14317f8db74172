import { RefreshState, UpdateService } from '@awasm/shared/gen/awasm/v1/update_service_pb.js';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { afterEach, describe, expect, it } from 'vitest';
import { authenticate, type Caller, requireUser } from '../../../../packages/server/src/auth.js';
import { CatalogDatabase } from '../catalog-database.js';
import type { LibraryEntry } from '../library/library-store.js';
import { feedItemId } from './feed-store.js';
import { SqliteFeedStore } from './sqlite-feed-store.js';
import { SqliteMediaCacheStore } from './sqlite-media-cache-store.js';
import { FakeSourceRunner } from './testing/fake-source-runner.js';
import { InMemoryTrackedWorks } from './tracked-works.js';
import { UpdateScheduler } from './update-scheduler.js';
import { registerUpdateService } from './update-service.js';

const USERS: Record<string, Caller> = {
  alice: { role: 'member', userId: 'alice', userName: 'alice' },
  bob: { role: 'member', userId: 'bob', userName: 'bob' },
  root: { role: 'admin', userId: 'root', userName: 'root' },
};

function entry(userId: string, entryId: string, mediaId: string): LibraryEntry {
  return {
    entryId,
    userId,
    sourceId: 'demo',
    mediaId,
    title: mediaId,
    kind: 'manga',
    sourceName: 'Demo',
    status: 'completed',
    favourite: false,
    notes: '',
    categoryIds: [],
    addedAt: 0,
    updatedAt: 0,
    unitCount: 0,
    readCount: 0,
  };
}
const ENTRIES = [entry('alice', 'ea', 'a'), entry('bob', 'eb', 'b')];
const entries = {
  getEntry: async (userId: string, entryId: string) =>
    ENTRIES.find((e) => e.userId === userId && e.entryId === entryId),
};

const databases: CatalogDatabase[] = [];
afterEach(() => {
  for (const db of databases.splice(0)) db.close();
});

function setup() {
  const db = CatalogDatabase.open(':memory:');
  databases.push(db);
  const feed = new SqliteFeedStore(db);
  const works = new InMemoryTrackedWorks([
    { sourceId: 'demo', mediaId: 'a', completed: false, followers: [{ userId: 'alice', entryId: 'ea', addedAt: 0 }] },
    { sourceId: 'demo', mediaId: 'b', completed: false, followers: [{ userId: 'bob', entryId: 'eb', addedAt: 0 }] },
  ]);
  const runner = new FakeSourceRunner();
  runner.setUnits('demo', 'a', [{ id: 'u1' }]);
  runner.setUnits('demo', 'b', [{ id: 'u1' }]);
  const scheduler = new UpdateScheduler({ runner, works, feed, cache: new SqliteMediaCacheStore(db) });
  const transport = createRouterTransport(
    (router) => registerUpdateService(router, { feed, entries, scheduler, works, requireUser }),
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
  const client = createClient(UpdateService, transport);
  const as = (user: string) => ({ headers: { authorization: `Bearer ${user}` } });
  return { feed, works, runner, scheduler, client, as };
}

async function codeOf(call: Promise<unknown>): Promise<Code | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe('UpdateService', () => {
  it('lists only the caller’s own feed, paged, and marks only the caller’s items read', async () => {
    const t = setup();
    await t.feed.add([
      ...['u1', 'u2', 'u3'].map((unitId, n) => ({
        userId: 'alice',
        sourceId: 'demo',
        mediaId: 'a',
        entryId: 'ea',
        unitId,
        unitTitle: unitId,
        foundAt: n,
      })),
      {
        userId: 'bob',
        sourceId: 'demo',
        mediaId: 'b',
        entryId: 'eb',
        unitId: 'u1',
        unitTitle: 'u1',
        unitNumber: 1,
        foundAt: 5,
      },
    ]);
    const first = await t.client.listFeed({ pageSize: 2 }, t.as('alice'));
    expect(first.items.map((i) => i.unitId)).toEqual(['u3', 'u2']);
    const second = await t.client.listFeed({ pageSize: 2, pageToken: first.nextPageToken }, t.as('alice'));
    expect(second.items.map((i) => i.unitId)).toEqual(['u1']);
    expect(second.nextPageToken).toBe('');
    const bobs = await t.client.listFeed({}, t.as('bob'));
    expect(bobs.items).toHaveLength(1);
    expect(bobs.items[0]).toMatchObject({ mediaId: 'b', entryId: 'eb', unitNumber: 1, read: false });

    // alice guessing bob's item id changes nothing
    const bobsId = feedItemId({ userId: 'bob', sourceId: 'demo', mediaId: 'b', unitId: 'u1' });
    expect((await t.client.markFeedRead({ ids: [bobsId] }, t.as('alice'))).marked).toBe(0);
    expect((await t.client.listFeed({ unreadOnly: true }, t.as('bob'))).items).toHaveLength(1);
    expect((await t.client.markFeedRead({ ids: [first.items[0]?.id ?? ''] }, t.as('alice'))).marked).toBe(1);
    expect((await t.client.listFeed({ unreadOnly: true }, t.as('alice'))).items.map((i) => i.unitId)).toEqual([
      'u2',
      'u1',
    ]);
    expect((await t.client.markFeedRead({ all: true }, t.as('alice'))).marked).toBe(2);
    expect((await t.client.listFeed({ unreadOnly: true }, t.as('alice'))).items).toEqual([]);
  });

  it('refuses bad arguments and callers without a key', async () => {
    const t = setup();
    expect(await codeOf(t.client.listFeed({}))).toBe(Code.Unauthenticated);
    expect(await codeOf(t.client.markFeedRead({ all: true }))).toBe(Code.Unauthenticated);
    expect(await codeOf(t.client.refresh({}))).toBe(Code.Unauthenticated);
    expect(await codeOf(t.client.getRefreshStatus({}))).toBe(Code.Unauthenticated);
    await expect(t.client.listFeed({ pageSize: 501 }, t.as('alice'))).rejects.toThrow(/page_size/);
    await expect(t.client.listFeed({ pageToken: 'garbage' }, t.as('alice'))).rejects.toThrow(/page_token/);
    expect(await codeOf(t.client.markFeedRead({}, t.as('alice')))).toBe(Code.InvalidArgument);
    expect(await codeOf(t.client.refresh({ mediaId: 'a' }, t.as('root')))).toBe(Code.InvalidArgument);
  });

  it('lets a member refresh only their own works and an admin any', async () => {
    const t = setup();
    expect(await codeOf(t.client.refresh({ sourceId: 'demo', mediaId: 'b' }, t.as('alice')))).toBe(
      Code.PermissionDenied,
    );
    const started = await t.client.refresh({}, t.as('alice'));
    expect(started.status?.state).toBe(RefreshState.RUNNING);
    await t.scheduler.refreshNow(); // the running pass
    const status = await t.client.getRefreshStatus({}, t.as('alice'));
    expect(status.status?.state).toBe(RefreshState.IDLE);
    // alice's refresh covered only her work
    expect(status.status?.done.map((w) => w.mediaId)).toEqual(['a']);

    // everyone's works are in the pass, but a member sees only their own
    await t.client.refresh({}, t.as('root'));
    await t.scheduler.refreshNow();
    expect((await t.client.getRefreshStatus({}, t.as('bob'))).status?.done.map((w) => w.mediaId)).toEqual(['b']);
    expect((await t.client.getRefreshStatus({}, t.as('root'))).status?.done.map((w) => w.mediaId)).toEqual(['a', 'b']);

    await t.client.refresh({ sourceId: 'demo', mediaId: 'b' }, t.as('root'));
    const byAdmin = await t.scheduler.refreshNow();
    expect(byAdmin.done.map((w) => w.mediaId)).toEqual(['b']);
    await t.scheduler.stop();
    expect(await codeOf(t.client.refresh({}, t.as('root')))).toBe(Code.Unavailable);
  });

  it('refreshes the work of one of the caller’s entries, completed or not, and no one else’s', async () => {
    const t = setup();
    await t.client.refresh({ entryId: 'ea' }, t.as('alice'));
    const pass = await t.scheduler.refreshNow();
    expect(pass.done.map((w) => w.mediaId)).toEqual(['a']);
    // bob's entry id reads as missing to alice, and to an admin it is not theirs either
    expect(await codeOf(t.client.refresh({ entryId: 'eb' }, t.as('alice')))).toBe(Code.NotFound);
    expect(await codeOf(t.client.refresh({ entryId: 'eb' }, t.as('root')))).toBe(Code.NotFound);
    expect(await codeOf(t.client.refresh({ entryId: 'x'.repeat(10_000) }, t.as('alice')))).toBe(Code.NotFound);
    expect(await codeOf(t.client.refresh({ entryId: 'ea', sourceId: 'demo' }, t.as('alice')))).toBe(
      Code.InvalidArgument,
    );
    await t.scheduler.stop();
  });
});
