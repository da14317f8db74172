import { PluginCallError } from '@awasm/runner-api';
import { afterEach, describe, expect, it } from 'vitest';
import { CatalogDatabase } from '../catalog-database.js';
import { slotPhase } from './refresh-slots.js';
import { SqliteFeedStore } from './sqlite-feed-store.js';
import { SqliteMediaCacheStore } from './sqlite-media-cache-store.js';
import { FakeSourceRunner } from './testing/fake-source-runner.js';
import { InMemoryTrackedWorks, type TrackedWork } from './tracked-works.js';
import { type SetTimer, UpdateScheduler, type UpdateSchedulerOptions } from './update-scheduler.js';

const databases: CatalogDatabase[] = [];
afterEach(() => {
  for (const db of databases.splice(0)) db.close();
});

function work(sourceId: string, mediaId: string, followers: [string, number][], completed = false): TrackedWork {
  return {
    sourceId,
    mediaId,
    completed,
    followers: followers.map(([userId, addedAt]) => ({ userId, entryId: `${userId}-${mediaId}`, addedAt })),
  };
}

/** A scheduler on a fake runner, a fake clock and timers the test fires itself. */
function setup(works: TrackedWork[], options: Partial<UpdateSchedulerOptions> = {}) {
  const db = CatalogDatabase.open(':memory:');
  databases.push(db);
  const clock = { now: 1_000 };
  const timers: { callback: () => void; delayMs: number; cancelled: boolean }[] = [];
  const setTimer: SetTimer = (callback, delayMs) => {
    const timer = { callback, delayMs, cancelled: false };
    timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };
  const runner = new FakeSourceRunner();
  const tracked = new InMemoryTrackedWorks(works);
  const feed = new SqliteFeedStore(db);
  const cache = new SqliteMediaCacheStore(db);
  const scheduler = new UpdateScheduler({
    runner,
    works: tracked,
    cache,
    feed,
    now: () => clock.now,
    setTimer,
    ...options,
  });
  return { clock, timers, runner, tracked, feed, cache, scheduler };
}

async function feedOf(feed: SqliteFeedStore, userId: string): Promise<string[]> {
  return (await feed.list(userId, { limit: 100 })).items.map((i) => `${i.mediaId}:${i.unitId}`);
}

describe('UpdateScheduler', () => {
  it('seeds the cache on the first refresh and puts later new units in the feeds of earlier followers', async () => {
    const t = setup([
      work('demo', 'm1', [
        ['alice', 500],
        ['bob', 1_500],
      ]),
    ]);
    t.runner.setUnits('demo', 'm1', [{ id: 'u1', number: 1, publishedAt: 100 }, { id: 'u2' }, { id: 'u3' }]);

    const first = await t.scheduler.refreshNow();
    expect(first.done).toEqual([{ sourceId: 'demo', mediaId: 'm1', newUnits: 0, feedItems: 0 }]);
    expect(await feedOf(t.feed, 'alice')).toEqual([]);
    // three units over two pages
    expect(t.runner.calls.map((c) => c.args)).toEqual([{ mediaId: 'm1' }, { mediaId: 'm1', cursor: '2' }]);
    expect((await t.cache.get('demo', 'm1'))?.units.map((u) => [u.unitId, u.firstSeenAt])).toEqual([
      ['u1', 1_000],
      ['u2', 1_000],
      ['u3', 1_000],
    ]);
    expect(t.tracked.recorded.get('demo/m1')).toEqual({ unitCount: 3, lastUnitAt: 100 });

    // bob added the work at 1500, after u4 was... not yet seen: u4 is seen at 2000, news to both
    t.clock.now = 2_000;
    t.runner.setUnits('demo', 'm1', [{ id: 'u1' }, { id: 'u2' }, { id: 'u3' }, { id: 'u4', number: 4 }]);
    const second = await t.scheduler.refreshNow();
    expect(second.done).toEqual([{ sourceId: 'demo', mediaId: 'm1', newUnits: 1, feedItems: 2 }]);
    expect(await feedOf(t.feed, 'alice')).toEqual(['m1:u4']);
    expect(await feedOf(t.feed, 'bob')).toEqual(['m1:u4']);
    const [item] = (await t.feed.list('alice', { limit: 1 })).items;
    expect(item).toMatchObject({ entryId: 'alice-m1', unitNumber: 4, foundAt: 2_000, read: false });
    // a unit keeps the time it was first seen
    expect((await t.cache.get('demo', 'm1'))?.units.map((u) => u.firstSeenAt)).toEqual([1_000, 1_000, 1_000, 2_000]);

    // carol added the work at 3000, after u5 was seen at 2500: not news to her
    t.tracked.set([
      work('demo', 'm1', [
        ['alice', 500],
        ['carol', 3_000],
      ]),
    ]);
    t.clock.now = 2_500;
    t.runner.setUnits('demo', 'm1', [{ id: 'u1' }, { id: 'u2' }, { id: 'u3' }, { id: 'u4' }, { id: 'u5' }]);
    await t.scheduler.refreshNow();
    expect(await feedOf(t.feed, 'alice')).toEqual(['m1:u5', 'm1:u4']);
    expect(await feedOf(t.feed, 'carol')).toEqual([]);
    expect(t.scheduler.getStatus()).toMatchObject({ state: 'idle', passStartedAt: 2_500, passFinishedAt: 2_500 });
  });

  it('skips unhealthy and unloaded sources and completed works, and records a source error per work', async () => {
    const t = setup([
      work('sick', 'a', [['alice', 0]]),
      work('gone', 'b', [['alice', 0]]),
      work('demo', 'done', [['alice', 0]], true),
      work('demo', 'broken', [['alice', 0]]),
      work('demo', 'ok', [['alice', 0]]),
    ]);
    t.runner.healthOf.set('sick', {
      state: 'unhealthy',
      reason: '5 failures in a row',
      since: 0,
      consecutiveFailures: 5,
    });
    t.runner.healthOf.set('gone', undefined);
    t.runner.failing.set('demo/broken', 'upstream said 503');
    t.runner.setUnits('demo', 'ok', [{ id: 'u1' }]);
    t.runner.setUnits('demo', 'done', [{ id: 'u1' }]);

    const status = await t.scheduler.refreshNow();
    expect(status.pending).toEqual([]);
    expect(status.running).toEqual([]);
    expect(status.done.map((w) => w.mediaId)).toEqual(['ok']);
    expect(status.failed).toEqual([{ sourceId: 'demo', mediaId: 'broken', reason: 'upstream said 503' }]);
    expect(status.skipped).toEqual(
      expect.arrayContaining([
        { sourceId: 'sick', mediaId: 'a', reason: 'the source is unhealthy: 5 failures in a row' },
        { sourceId: 'gone', mediaId: 'b', reason: 'the source is not loaded' },
        { sourceId: 'demo', mediaId: 'done', reason: 'every follower has completed it' },
      ]),
    );
    expect(status.skipped).toHaveLength(3);
    expect(t.runner.calls.some((c) => c.sourceId === 'sick' || c.sourceId === 'gone')).toBe(false);

    const withCompleted = await t.scheduler.refreshNow({ sourceId: 'demo', mediaId: 'done', includeCompleted: true });
    expect(withCompleted.done.map((w) => w.mediaId)).toEqual(['done']);
    expect(withCompleted.skipped).toEqual([]);
  });

  it('orphans the entries of a source that answers domain-moved and skips its other works', async () => {
    const t = setup([
      work('moved', 'a', [['alice', 0]]),
      work('moved', 'b', [['bob', 0]]),
      work('demo', 'ok', [['alice', 0]]),
    ]);
    t.runner.setUnits('demo', 'ok', [{ id: 'u1' }]);
    const moved = new PluginCallError('source-error', 'moved', 'moved: the site moved', {
      tag: 'domain-moved',
      val: 'https://new.example',
    });
    const runner: UpdateSchedulerOptions['runner'] = {
      health: (sourceId) => t.runner.health(sourceId),
      call: (call, options) => (call.sourceId === 'moved' ? Promise.reject(moved) : t.runner.call(call, options)),
    };
    const scheduler = new UpdateScheduler({ runner, works: t.tracked, cache: t.cache, feed: t.feed });
    const status = await scheduler.refreshNow();
    expect(status.done.map((w) => w.mediaId)).toEqual(['ok']);
    expect(status.failed).toEqual([{ sourceId: 'moved', mediaId: 'a', reason: 'moved: the site moved' }]);
    expect(status.skipped).toEqual([
      { sourceId: 'moved', mediaId: 'b', reason: 'the source moved to https://new.example' },
    ]);
    expect(t.tracked.moved.get('moved')).toEqual({ reason: 'domain_moved', detail: 'https://new.example' });
    // orphaned works are no longer tracked: the next pass does not ask the source
    expect((await t.tracked.trackedWorks()).map((w) => w.sourceId)).toEqual(['demo']);
  });

  it('refreshes a few sources in parallel and one work at a time per source', async () => {
    const works: TrackedWork[] = [];
    for (const source of ['s1', 's2', 's3', 's4', 's5']) {
      for (const media of ['a', 'b', 'c']) works.push(work(source, media, [['alice', 0]]));
    }
    const t = setup(works, { parallelSources: 2 });
    for (const w of works) t.runner.setUnits(w.sourceId, w.mediaId, [{ id: 'u1' }, { id: 'u2' }, { id: 'u3' }]);
    const status = await t.scheduler.refreshNow();
    expect(status.done).toHaveLength(15);
    expect(t.runner.maxInFlightPerSource).toBe(1);
    expect(t.runner.maxInFlight).toBe(2);
  });

  it('never overlaps a pass and stop() cancels the running one promptly', async () => {
    const t = setup([work('demo', 'a', [['alice', 0]]), work('demo', 'b', [['alice', 0]])]);
    t.runner.setUnits('demo', 'a', [{ id: 'u1' }]);
    t.runner.setUnits('demo', 'b', [{ id: 'u1' }]);
    t.runner.gate = new Promise(() => {}); // never opens: only stop() ends the call
    const pass = t.scheduler.refreshNow();
    expect(t.scheduler.refreshNow()).toBe(pass);
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.scheduler.getStatus()).toMatchObject({
      state: 'running',
      running: [{ sourceId: 'demo', mediaId: 'a' }],
      pending: [{ sourceId: 'demo', mediaId: 'b' }],
    });
    await t.scheduler.stop();
    const status = await pass;
    expect(status.state).toBe('idle');
    expect(status.failed).toEqual([{ sourceId: 'demo', mediaId: 'a', reason: 'cancelled' }]);
    expect(status.skipped).toEqual([{ sourceId: 'demo', mediaId: 'b', reason: 'the update scheduler stopped' }]);
    expect(t.runner.calls).toHaveLength(1);
    expect(t.runner.calls[0]?.requestId).toMatch(/^refresh-/);
    await expect(t.scheduler.refreshNow()).rejects.toThrow('stopped');
  });

  it('spreads works over the interval and wakes for the next due one', async () => {
    const interval = 10_000;
    const works = ['a', 'b', 'c', 'd'].map((m) => work('demo', m, [['alice', 0]]));
    const t = setup(works, { intervalMs: interval, rescanMs: interval });
    for (const w of works) t.runner.setUnits('demo', w.mediaId, [{ id: 'u1' }]);
    t.clock.now = 0;
    t.scheduler.start();
    const refreshedAt = new Map<string, number>();
    // fire each wake at the time it asked for, until every work was refreshed once
    for (let wakes = 0; wakes < 10 && refreshedAt.size < works.length; wakes++) {
      const timer = t.timers.filter((x) => !x.cancelled).at(-1);
      if (!timer) throw new Error('the scheduler set no timer');
      timer.cancelled = true;
      t.clock.now += timer.delayMs;
      const before = t.runner.calls.length;
      timer.callback();
      // let the wake's pass run and set its next timer
      while (t.timers.filter((x) => !x.cancelled).length === 0) await new Promise((resolve) => setImmediate(resolve));
      for (const call of t.runner.calls.slice(before)) {
        const mediaId = (call.args as { mediaId: string }).mediaId;
        if (!refreshedAt.has(mediaId)) refreshedAt.set(mediaId, t.clock.now);
      }
    }
    // each work at its own slot of the first interval, not all at the first wake
    for (const w of works) expect(refreshedAt.get(w.mediaId)).toBe(slotPhase('demo', w.mediaId, interval));
    expect(new Set(refreshedAt.values()).size).toBeGreaterThan(1);
    // and the next wake is the first slot of the second interval
    const next = t.timers.filter((x) => !x.cancelled).at(-1);
    const firstSlot = Math.min(...works.map((w) => slotPhase('demo', w.mediaId, interval)));
    expect(t.clock.now + (next?.delayMs ?? Number.NaN)).toBe(firstSlot + interval);
    await t.scheduler.stop();
  });
});
