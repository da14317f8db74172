import type { SourceRunner } from '@awasm/runner-api';
import type { Unit } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { FeedStore, NewFeedItem } from './feed-store.js';
import type { CachedUnit, MediaCacheStore } from './media-cache-store.js';
import type { TrackedWork, TrackedWorks } from './tracked-works.js';

/** Pages of listUnits one refresh follows before it gives up on a source that never ends its list. */
export const MAX_UNIT_PAGES = 200;

export interface WorkRefreshDeps {
  runner: Pick<SourceRunner, 'call'>;
  cache: MediaCacheStore;
  feed: FeedStore;
  works: TrackedWorks;
  now: () => number;
  /** how long each listUnits call may take, ms */
  callTimeoutMs: number;
  /** how long a refreshed entry counts as fresh, ms */
  freshForMs: number;
  requestId: () => string;
}

export interface WorkRefreshResult {
  newUnits: number;
  feedItems: number;
}

/** Every unit of the work, following the source's cursors; throws the runner's error. */
async function listAllUnits(deps: WorkRefreshDeps, work: TrackedWork, signal: AbortSignal): Promise<Unit[]> {
  const units: Unit[] = [];
  const seenCursors = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_UNIT_PAGES; page++) {
    const result = await deps.runner.call(
      {
        sourceId: work.sourceId,
        op: 'listUnits',
        args: { mediaId: work.mediaId, ...(cursor ? { cursor } : {}) },
        deadline: deps.now() + deps.callTimeoutMs,
        requestId: deps.requestId(),
      },
      { signal },
    );
    units.push(...result.items);
    if (!result.nextCursor) return units;
    if (seenCursors.has(result.nextCursor)) throw new Error(`listUnits repeated the cursor '${result.nextCursor}'`);
    seenCursors.add(result.nextCursor);
    cursor = result.nextCursor;
  }
  throw new Error(`listUnits did not end its list within ${MAX_UNIT_PAGES} pages`);
}

function toCachedUnit(unit: Unit, firstSeenAt: number): CachedUnit {
  return {
    unitId: unit.id,
    title: unit.title,
    ...(unit.number === undefined ? {} : { number: unit.number }),
    ...(unit.group === undefined ? {} : { group: unit.group }),
    ...(unit.publishedAt ? { publishedAt: timestampMs(unit.publishedAt) } : {}),
    firstSeenAt,
  };
}

/**
 * Refreshes one work: its whole unit list from the source, diffed against the cache. A unit the
 * cache did not have is news to each follower who added the work before it was seen; the first
 * refresh of a work only seeds the cache. The feed is written before the cache, so a refresh that
 * fails in between finds the same units new again and the feed's upsert keeps one item of each.
 */
export async function refreshWork(
  deps: WorkRefreshDeps,
  work: TrackedWork,
  signal: AbortSignal,
): Promise<WorkRefreshResult> {
  const listed = await listAllUnits(deps, work, signal);
  const seenAt = deps.now();
  const previous = await deps.cache.get(work.sourceId, work.mediaId);
  const known = new Map(previous?.units.map((u) => [u.unitId, u]));
  const units: CachedUnit[] = [];
  const fresh: CachedUnit[] = [];
  const ids = new Set<string>();
  for (const unit of listed) {
    if (ids.has(unit.id)) continue; // a source that lists a unit twice: the first wins
    ids.add(unit.id);
    const cached = toCachedUnit(unit, known.get(unit.id)?.firstSeenAt ?? seenAt);
    units.push(cached);
    if (previous && !known.has(unit.id)) fresh.push(cached);
  }

  const items: NewFeedItem[] = [];
  for (const follower of work.followers) {
    for (const unit of fresh) {
      if (follower.addedAt >= unit.firstSeenAt) continue;
      items.push({
        userId: follower.userId,
        sourceId: work.sourceId,
        mediaId: work.mediaId,
        entryId: follower.entryId,
        unitId: unit.unitId,
        unitTitle: unit.title,
        ...(unit.number === undefined ? {} : { unitNumber: unit.number }),
        foundAt: seenAt,
      });
    }
  }
  const feedItems = items.length > 0 ? await deps.feed.add(items) : 0;
  await deps.cache.put({
    sourceId: work.sourceId,
    mediaId: work.mediaId,
    ...(previous?.media ? { media: previous.media } : {}),
    units,
    fetchedAt: seenAt,
    freshUntil: seenAt + deps.freshForMs,
  });
  const published = units.flatMap((u) => (u.publishedAt === undefined ? [] : [u.publishedAt]));
  await deps.works.recordUnits(
    work.sourceId,
    work.mediaId,
    units.length,
    published.length > 0 ? Math.max(...published) : undefined,
  );
  return { newUnits: fresh.length, feedItems };
}
