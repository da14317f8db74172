import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FeedSources,
  rateLimitExcess,
  type SiteUnit,
  startFeedSources,
} from '../../../../test/support/feed-sources.mjs';
import { CatalogDatabase } from '../catalog-database.js';
import { SqliteFeedStore } from './sqlite-feed-store.js';
import { SqliteMediaCacheStore } from './sqlite-media-cache-store.js';
import { InMemoryTrackedWorks, type TrackedWork } from './tracked-works.js';
import { UpdateScheduler } from './update-scheduler.js';

// The scheduler over real sources: the feed test plugin in the real sandbox, each source on its
// own loopback host behind the runner's HostScheduler. The fixture site counts what reached each
// source; the assertions are on those counts and on the feeds, never on how long a pass took.

const SOURCES = 3;
const WORKS_PER_SOURCE = 8;
const REQUESTS_PER_SECOND = 2;
/** how far apart two requests the host released one interval apart may arrive over loopback, ms */
const JITTER_MS = 250;

let sources: FeedSources;
let cacheDir: string;
let db: CatalogDatabase;

function units(count: number): SiteUnit[] {
  return Array.from({ length: count }, (_, i) => ({ id: `c${i + 1}`, title: `Chapter ${i + 1}`, number: i + 1 }));
}

beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'awasm-scheduler-rate-'));
  sources = await startFeedSources({ count: SOURCES, requestsPerSecond: REQUESTS_PER_SECOND, cacheDir });
  db = CatalogDatabase.open(':memory:');
});

afterAll(async () => {
  db?.close();
  await sources?.close();
  await rm(cacheDir, { recursive: true, force: true });
});

describe('UpdateScheduler against sources in the sandbox', () => {
  it("keeps every source within its manifest's rate limit and puts new units in their followers' feeds", async () => {
    // alice follows every work from before the first pass; bob follows source 0's from between the
    // passes (real time: the runner's deadlines are wall-clock times)
    const startedAt = Date.now();
    const works: TrackedWork[] = [];
    for (const sourceId of sources.sourceIds) {
      for (let w = 0; w < WORKS_PER_SOURCE; w++) {
        const mediaId = `w${w}`;
        sources.setUnits(sourceId, mediaId, units(3));
        const followers = [{ userId: 'alice', entryId: `alice-${sourceId}-${mediaId}`, addedAt: startedAt - 1_000 }];
        works.push({ sourceId, mediaId, completed: false, followers });
      }
    }
    const tracked = new InMemoryTrackedWorks(works);
    const feed = new SqliteFeedStore(db);
    const scheduler = new UpdateScheduler({
      runner: sources.runner,
      works: tracked,
      cache: new SqliteMediaCacheStore(db),
      feed,
      parallelSources: SOURCES,
    });
    try {
      const first = await scheduler.refreshNow();
      expect(first.failed).toEqual([]);
      expect(first.done).toHaveLength(SOURCES * WORKS_PER_SOURCE);

      // bob adds source 0's works; then two new chapters on one of them and one on a work of source 1
      const bobAddedAt = Date.now();
      tracked.set(
        works.map((w) =>
          w.sourceId === 'feed-0'
            ? { ...w, followers: [...w.followers, { userId: 'bob', entryId: `bob-${w.mediaId}`, addedAt: bobAddedAt }] }
            : w,
        ),
      );
      sources.setUnits('feed-0', 'w3', units(5));
      sources.setUnits('feed-1', 'w0', units(4));
      const second = await scheduler.refreshNow();
      expect(second.failed).toEqual([]);

      for (const sourceId of sources.sourceIds) {
        const times = sources.hits.get(sourceId) ?? [];
        // one listUnits request per work per pass (three to five units fit on one page)
        expect(times).toHaveLength(2 * WORKS_PER_SOURCE);
        expect(rateLimitExcess(times, REQUESTS_PER_SECOND, JITTER_MS)).toBeLessThanOrEqual(0);
      }

      const feedOf = async (userId: string) =>
        (await feed.list(userId, { limit: 100 })).items.map((i) => `${i.sourceId}/${i.mediaId}/${i.unitId}`).sort();
      expect(await feedOf('alice')).toEqual(['feed-0/w3/c4', 'feed-0/w3/c5', 'feed-1/w0/c4']);
      expect(await feedOf('bob')).toEqual(['feed-0/w3/c4', 'feed-0/w3/c5']);
      expect(tracked.recorded.get('feed-0/w3')).toMatchObject({ unitCount: 5 });
    } finally {
      await scheduler.stop();
    }
  });
});
