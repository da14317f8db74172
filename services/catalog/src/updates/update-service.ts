import {
  type FeedItem as FeedItemMessage,
  FeedItemSchema,
  RefreshState,
  type RefreshStatus as RefreshStatusMessage,
  RefreshStatusSchema,
  RefreshWorkSchema,
  UpdateService,
} from '@awasm/shared/gen/awasm/v1/update_service_pb.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import type { LibraryStore } from '../library/library-store.js';
import { type FeedItem, type FeedStore, InvalidFeedCursorError } from './feed-store.js';
import type { RefreshStatus } from './refresh-status.js';
import type { TrackedWorks } from './tracked-works.js';
import type { RefreshFilter, UpdateScheduler } from './update-scheduler.js';

export const DEFAULT_FEED_PAGE_SIZE = 50;
export const MAX_FEED_PAGE_SIZE = 500;
const MAX_MARK_IDS = 1000;
const MAX_ENTRY_ID_CHARS = 256;

/** The caller as packages/server/src/auth.ts's requireUser gives it (UNAUTHENTICATED when there is none). */
export type RequireUser = (context: HandlerContext) => { role: 'admin' | 'member'; userId: string };

export interface UpdateServiceDeps {
  feed: FeedStore;
  /** the library, to find the work of a RefreshRequest's entry_id */
  entries: Pick<LibraryStore, 'getEntry'>;
  scheduler: UpdateScheduler;
  works: TrackedWorks;
  /** requireUser of @awasm/server's auth.ts; injected because the catalog does not depend on the server */
  requireUser: RequireUser;
}

function toFeedItem(item: FeedItem): FeedItemMessage {
  return create(FeedItemSchema, {
    id: item.id,
    sourceId: item.sourceId,
    mediaId: item.mediaId,
    entryId: item.entryId,
    unitId: item.unitId,
    unitTitle: item.unitTitle,
    ...(item.unitNumber === undefined ? {} : { unitNumber: item.unitNumber }),
    foundAt: timestampFromMs(item.foundAt),
    read: item.read,
  });
}

export function toRefreshStatus(status: RefreshStatus): RefreshStatusMessage {
  const works = (list: { sourceId: string; mediaId: string; reason?: string; newUnits?: number }[]) =>
    list.map((w) =>
      create(RefreshWorkSchema, {
        sourceId: w.sourceId,
        mediaId: w.mediaId,
        reason: w.reason ?? '',
        newUnits: w.newUnits ?? 0,
      }),
    );
  return create(RefreshStatusSchema, {
    state: status.state === 'running' ? RefreshState.RUNNING : RefreshState.IDLE,
    ...(status.passStartedAt === undefined ? {} : { passStartedAt: timestampFromMs(status.passStartedAt) }),
    ...(status.passFinishedAt === undefined ? {} : { passFinishedAt: timestampFromMs(status.passFinishedAt) }),
    pending: works(status.pending),
    running: works(status.running),
    done: works(status.done),
    failed: works(status.failed),
    skipped: works(status.skipped),
  });
}

function pageSizeOf(requested: number): number {
  if (requested === 0) return DEFAULT_FEED_PAGE_SIZE;
  if (!Number.isInteger(requested) || requested < 1 || requested > MAX_FEED_PAGE_SIZE) {
    throw new ConnectError(
      `page_size must be 1 to ${MAX_FEED_PAGE_SIZE} (or 0 for ${DEFAULT_FEED_PAGE_SIZE}), got ${requested}`,
      Code.InvalidArgument,
    );
  }
  return requested;
}

/** Serves awasm.v1.UpdateService: each user's own feed, and refresh passes of the UpdateScheduler. */
export function registerUpdateService(router: ConnectRouter, deps: UpdateServiceDeps): void {
  /** The pass's status as this caller may see it: a member sees only the works in their library. */
  async function statusFor(caller: { role: 'admin' | 'member'; userId: string }): Promise<RefreshStatus> {
    const status = deps.scheduler.getStatus();
    if (caller.role === 'admin') return status;
    const mine = new Set(
      (await deps.works.trackedWorks())
        .filter((w) => w.followers.some((f) => f.userId === caller.userId))
        .map((w) => `${w.sourceId}\u0000${w.mediaId}`),
    );
    const own = <T extends { sourceId: string; mediaId: string }>(list: T[]) =>
      list.filter((w) => mine.has(`${w.sourceId}\u0000${w.mediaId}`));
    return {
      ...status,
      pending: own(status.pending),
      running: own(status.running),
      done: own(status.done),
      failed: own(status.failed),
      skipped: own(status.skipped),
    };
  }

  router.service(UpdateService, {
    async listFeed(request, context) {
      const { userId } = deps.requireUser(context);
      const limit = pageSizeOf(request.pageSize);
      try {
        const page = await deps.feed.list(userId, {
          limit,
          unreadOnly: request.unreadOnly,
          ...(request.pageToken ? { cursor: request.pageToken } : {}),
        });
        return { items: page.items.map(toFeedItem), nextPageToken: page.nextCursor ?? '' };
      } catch (error) {
        if (error instanceof InvalidFeedCursorError) {
          throw new ConnectError(`page_token is not a token this server handed out`, Code.InvalidArgument);
        }
        throw error;
      }
    },

    async markFeedRead(request, context) {
      const { userId } = deps.requireUser(context);
      if (request.all) return { marked: await deps.feed.markAllRead(userId) };
      if (request.ids.length === 0) throw new ConnectError('give ids to mark read, or all', Code.InvalidArgument);
      if (request.ids.length > MAX_MARK_IDS) {
        throw new ConnectError(
          `ids holds ${request.ids.length} ids; at most ${MAX_MARK_IDS} per call`,
          Code.InvalidArgument,
        );
      }
      return { marked: await deps.feed.markRead(userId, request.ids) };
    },

    async refresh(request, context) {
      const caller = deps.requireUser(context);
      if (request.entryId !== undefined) {
        if (request.sourceId !== undefined || request.mediaId !== undefined) {
          throw new ConnectError('entry_id names one work: leave source_id and media_id unset', Code.InvalidArgument);
        }
        const entry =
          request.entryId.length <= MAX_ENTRY_ID_CHARS
            ? await deps.entries.getEntry(caller.userId, request.entryId)
            : undefined;
        if (!entry) {
          throw new ConnectError(`no entry '${request.entryId.slice(0, 64)}' in your library`, Code.NotFound);
        }
        if (deps.scheduler.isStopped()) throw new ConnectError('the server is shutting down', Code.Unavailable);
        const filter: RefreshFilter = { sourceId: entry.sourceId, mediaId: entry.mediaId, includeCompleted: true };
        deps.scheduler.refreshNow(filter).catch(() => undefined);
        return { status: toRefreshStatus(await statusFor(caller)) };
      }
      if (request.mediaId !== undefined && request.sourceId === undefined) {
        throw new ConnectError(
          'media_id needs source_id: a media id is only unique within its source',
          Code.InvalidArgument,
        );
      }
      const filter: RefreshFilter = {
        ...(request.sourceId === undefined ? {} : { sourceId: request.sourceId }),
        ...(request.mediaId === undefined ? {} : { mediaId: request.mediaId }),
        includeCompleted: request.includeCompleted,
      };
      if (caller.role !== 'admin') {
        filter.followedBy = caller.userId;
        if (request.sourceId !== undefined && request.mediaId !== undefined) {
          const works = await deps.works.trackedWorks();
          const followed = works.some(
            (w) =>
              w.sourceId === request.sourceId &&
              w.mediaId === request.mediaId &&
              w.followers.some((f) => f.userId === caller.userId),
          );
          if (!followed) {
            throw new ConnectError(
              `${request.sourceId}/${request.mediaId} is not in your library; a member refreshes only their own works`,
              Code.PermissionDenied,
            );
          }
        }
      }
      if (deps.scheduler.isStopped()) throw new ConnectError('the server is shutting down', Code.Unavailable);
      // the pass runs on; its outcome is read with GetRefreshStatus
      deps.scheduler.refreshNow(filter).catch(() => undefined);
      return { status: toRefreshStatus(await statusFor(caller)) };
    },

    async getRefreshStatus(_request, context) {
      return { status: toRefreshStatus(await statusFor(deps.requireUser(context))) };
    },
  });
}
