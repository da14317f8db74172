import { randomUUID } from 'node:crypto';
import type { SourceOp, SourceOpArgs, SourceOpResults, SourceRunner } from '@awasm/runner-api';
import {
  LibraryService,
  LibraryStatus as LibraryStatusEnum,
  type ProgressWrite as ProgressWriteMessage,
} from '@awasm/shared/gen/awasm/v1/library_service_pb.js';
import type { Media, Unit } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { requireSourceId } from '../source-id.js';
import type { RequireUser } from '../updates/update-service.js';
import {
  invalid,
  LIBRARY_LIMITS,
  pageSizeOf,
  quote,
  requireAmount,
  requireCategoryName,
  requireClientTime,
  requireCount,
  requireDuration,
  requireId,
  requireIds,
  requireSourceItemId,
  requireText,
} from './library-checks.js';
import {
  kindWord,
  sortWord,
  statusWord,
  toCategoryMessage,
  toEntryMessage,
  toHistoryMessage,
  toProgressMessage,
} from './library-messages.js';
import {
  CategoryNameTakenError,
  EntryExistsError,
  type EntryPatch,
  type EntryQuery,
  InvalidLibraryCursorError,
  type LibraryStatus,
  type LibraryStore,
  type MoveTarget,
  type ProgressWrite,
  UnknownCategoryError,
} from './library-store.js';
import { matchUnits } from './unit-matching.js';

/** Pages of a target's unit list MoveEntry reads at most, and units it keeps at most. */
const MAX_TARGET_UNIT_PAGES = 200;
const MAX_TARGET_UNITS = 20_000;

/** What the library needs to know of a source; PluginManager is one. */
export interface LibrarySources {
  /**
   * The installed, enabled source, with its manifest's display name; rejects with a ConnectError
   * (NOT_FOUND not installed, FAILED_PRECONDITION disabled, UNAVAILABLE failed to load) otherwise.
   */
  requireEnabled(sourceId: string): Promise<{ manifest: { name: string } }>;
}

export interface LibraryServiceDeps {
  store: LibraryStore;
  runner: Pick<SourceRunner, 'call'>;
  sources: LibrarySources;
  /** requireUser of @awasm/server's auth.ts; injected because the catalog does not depend on the server */
  requireUser: RequireUser;
  /**
   * The gateway's toConnectError: a failed source call as the status SourceService gives it, with
   * its awasm.v1.SourceError detail; injected because the catalog does not depend on the gateway.
   */
  sourceError: (sourceId: string, error: unknown) => ConnectError;
  /** entry, category and work ids; random UUIDs by default */
  newId?: () => string;
  /** unix ms */
  now?: () => number;
}

/** The caller's entry, or NOT_FOUND: another user's id reads exactly as one that does not exist. */
function noEntry(entryId: string): ConnectError {
  return new ConnectError(`you have no library entry ${quote(entryId)}`, Code.NotFound);
}

function noCategory(categoryId: string): ConnectError {
  return new ConnectError(`you have no category ${quote(categoryId)}`, Code.NotFound);
}

/** Store refusals as statuses; `categoryField` names the request field category ids came from. */
function storeError(error: unknown, categoryField = 'category_ids'): unknown {
  if (error instanceof InvalidLibraryCursorError) return invalid('page_token is not a token this server handed out');
  if (error instanceof UnknownCategoryError) {
    return invalid(`${categoryField}: you have no category ${quote(error.categoryId)}`);
  }
  if (error instanceof CategoryNameTakenError) {
    return new ConnectError(`you have a category named ${quote(error.categoryName)}`, Code.AlreadyExists);
  }
  if (error instanceof EntryExistsError) {
    return new ConnectError(
      `your library has ${quote(`${error.existing.sourceId}/${error.existing.mediaId}`)} as entry ${quote(error.existing.entryId)}`,
      Code.AlreadyExists,
    );
  }
  return error;
}

async function guarded<T>(work: () => Promise<T>, categoryField?: string): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw storeError(error, categoryField);
  }
}

function requireStatus(field: string, status: LibraryStatusEnum): LibraryStatus {
  const word = statusWord(status);
  if (word === undefined) throw invalid(`${field} ${status} is not a library status`);
  return word;
}

function requireCategoryIds(field: string, ids: readonly string[]): string[] {
  return requireIds(field, ids, 0, LIBRARY_LIMITS.entryCategories);
}

/** The client's deadline, if it set one, as the absolute deadline of the plugin call. */
function deadlineOf(context: HandlerContext): number | undefined {
  const remaining = context.timeoutMs();
  return remaining === undefined ? undefined : Date.now() + Math.max(1, remaining);
}

/** Serves awasm.v1.LibraryService: each user's own library, on a LibraryStore. */
export function registerLibraryService(router: ConnectRouter, deps: LibraryServiceDeps): void {
  const { store } = deps;
  const newId = deps.newId ?? randomUUID;
  const now = deps.now ?? Date.now;

  async function callSource<Op extends SourceOp>(
    sourceId: string,
    op: Op,
    args: SourceOpArgs[Op],
    context: HandlerContext,
  ): Promise<SourceOpResults[Op]> {
    try {
      const deadline = deadlineOf(context);
      return await deps.runner.call(
        { sourceId, op, args, requestId: randomUUID(), ...(deadline === undefined ? {} : { deadline }) },
        { signal: context.signal },
      );
    } catch (error) {
      throw deps.sourceError(sourceId, error);
    }
  }

  /** What the library remembers of a work, from its source (which must be installed and enabled). */
  async function workOf(sourceId: string, mediaId: string, context: HandlerContext): Promise<MoveTarget> {
    const { manifest } = await deps.sources.requireEnabled(sourceId);
    const media: Media = await callSource(sourceId, 'getMedia', { mediaId }, context);
    return {
      sourceId,
      mediaId,
      title: media.title,
      kind: kindWord(media.kind) ?? 'unspecified',
      ...(media.coverUrl ? { coverUrl: media.coverUrl } : {}),
      sourceName: manifest.name,
    };
  }

  /** Every unit the source lists for the work, page by page, within the bounds above. */
  async function allUnits(sourceId: string, mediaId: string, context: HandlerContext): Promise<Unit[]> {
    const units: Unit[] = [];
    let cursor = '';
    for (let page = 0; page < MAX_TARGET_UNIT_PAGES; page++) {
      const result = await callSource(sourceId, 'listUnits', { mediaId, ...(cursor ? { cursor } : {}) }, context);
      units.push(...result.items);
      if (units.length > MAX_TARGET_UNITS) {
        throw new ConnectError(`the target lists more than ${MAX_TARGET_UNITS} units`, Code.ResourceExhausted);
      }
      // a source that hands back the cursor it was given would loop forever
      if (!result.nextCursor || result.nextCursor === cursor) return units;
      cursor = result.nextCursor;
    }
    throw new ConnectError(`the target's unit list runs past ${MAX_TARGET_UNIT_PAGES} pages`, Code.ResourceExhausted);
  }

  /** Before the source is asked: the store would refuse these only after the call. */
  async function requireOwnCategories(userId: string, field: string, categoryIds: string[]): Promise<void> {
    if (categoryIds.length === 0) return;
    const own = new Set((await store.listCategories(userId)).map((c) => c.categoryId));
    const unknown = categoryIds.find((id) => !own.has(id));
    if (unknown !== undefined) throw storeError(new UnknownCategoryError(unknown), field);
  }

  async function requireEntry(userId: string, entryId: string) {
    const entry = await store.getEntry(userId, entryId);
    if (!entry) throw noEntry(entryId);
    return entry;
  }

  function progressWriteOf(index: number, write: ProgressWriteMessage, at: number): ProgressWrite {
    const field = `writes[${index}]`;
    return {
      unitId: requireSourceItemId(`${field}.unit_id`, write.unitId),
      ...(write.unitNumber === undefined
        ? {}
        : { unitNumber: requireAmount(`${field}.unit_number`, write.unitNumber, true) }),
      ...(write.unitTitle === undefined
        ? {}
        : { unitTitle: requireText(`${field}.unit_title`, write.unitTitle, LIBRARY_LIMITS.unitTitle) }),
      ...(write.read === undefined ? {} : { read: write.read }),
      ...(write.position === undefined ? {} : { position: requireAmount(`${field}.position`, write.position) }),
      ...(write.total === undefined ? {} : { total: requireAmount(`${field}.total`, write.total) }),
      clientTime: requireClientTime(`${field}.client_time`, write.clientTime, at),
    };
  }

  router.service(LibraryService, {
    async addEntry(request, context) {
      const { userId } = deps.requireUser(context);
      const sourceId = requireSourceId('source_id', request.sourceId);
      const mediaId = requireSourceItemId('media_id', request.mediaId);
      const status =
        request.status === LibraryStatusEnum.UNSPECIFIED ? 'reading' : requireStatus('status', request.status);
      const categoryIds = requireCategoryIds('category_ids', request.categoryIds);
      // a retried add answers from the library, without asking the source again
      const existing = await store.findEntry(userId, sourceId, mediaId);
      if (existing) return { entry: toEntryMessage(existing), created: false };
      await requireOwnCategories(userId, 'category_ids', categoryIds);
      const work = await workOf(sourceId, mediaId, context);
      const { entry, created } = await guarded(() =>
        store.addEntry({ ...work, entryId: newId(), userId, addedAt: now(), status, categoryIds }),
      );
      return { entry: toEntryMessage(entry), created };
    },

    async getEntry(request, context) {
      const { userId } = deps.requireUser(context);
      return { entry: toEntryMessage(await requireEntry(userId, requireId('entry_id', request.entryId))) };
    },

    async updateEntry(request, context) {
      const { userId } = deps.requireUser(context);
      const entryId = requireId('entry_id', request.entryId);
      const patch: EntryPatch = {
        ...(request.status === undefined ? {} : { status: requireStatus('status', request.status) }),
        ...(request.favourite === undefined ? {} : { favourite: request.favourite }),
        ...(request.notes === undefined ? {} : { notes: requireText('notes', request.notes, LIBRARY_LIMITS.notes) }),
        ...(request.categories === undefined
          ? {}
          : { categoryIds: requireCategoryIds('categories.category_ids', request.categories.categoryIds) }),
      };
      const entry = await guarded(() => store.updateEntry(userId, entryId, patch, now()), 'categories.category_ids');
      if (!entry) throw noEntry(entryId);
      return { entry: toEntryMessage(entry) };
    },

    async removeEntry(request, context) {
      const { userId } = deps.requireUser(context);
      const entryId = requireId('entry_id', request.entryId);
      if (!(await store.removeEntry(userId, entryId))) throw noEntry(entryId);
      return {};
    },

    async listEntries(request, context) {
      const { userId } = deps.requireUser(context);
      const kinds = requireCount('kinds', request.kinds, 0, LIBRARY_LIMITS.filterValues).map((kind, i) => {
        const word = kindWord(kind);
        if (word === undefined || word === 'unspecified') throw invalid(`kinds[${i}] ${kind} is not a media kind`);
        return word;
      });
      const statuses = requireCount('statuses', request.statuses, 0, LIBRARY_LIMITS.filterValues).map((s, i) =>
        requireStatus(`statuses[${i}]`, s),
      );
      const sort = sortWord(request.sort);
      if (sort === undefined) throw invalid(`sort ${request.sort} is not an entry sort`);
      const query: EntryQuery = {
        sort,
        limit: pageSizeOf(request.pageSize),
        reverse: request.reverse,
        unreadOnly: request.unreadOnly,
        orphanedOnly: request.orphanedOnly,
        ...(kinds.length ? { kinds } : {}),
        ...(statuses.length ? { statuses } : {}),
        ...(request.categoryId ? { categoryId: requireId('category_id', request.categoryId) } : {}),
        ...(request.text ? { text: requireText('text', request.text, LIBRARY_LIMITS.text) } : {}),
        ...(request.pageToken
          ? { cursor: requireText('page_token', request.pageToken, LIBRARY_LIMITS.pageToken) }
          : {}),
      };
      const page = await guarded(() => store.listEntries(userId, query));
      return { entries: page.entries.map(toEntryMessage), nextPageToken: page.nextCursor ?? '' };
    },

    async addCategory(request, context) {
      const { userId } = deps.requireUser(context);
      const name = requireCategoryName('name', request.name);
      if ((await store.listCategories(userId)).length >= LIBRARY_LIMITS.categories) {
        throw new ConnectError(
          `you have ${LIBRARY_LIMITS.categories} categories, the most there may be`,
          Code.ResourceExhausted,
        );
      }
      return { category: toCategoryMessage(await guarded(() => store.addCategory(userId, newId(), name))) };
    },

    async listCategories(_request, context) {
      const { userId } = deps.requireUser(context);
      return { categories: (await store.listCategories(userId)).map(toCategoryMessage) };
    },

    async renameCategory(request, context) {
      const { userId } = deps.requireUser(context);
      const categoryId = requireId('category_id', request.categoryId);
      const name = requireCategoryName('name', request.name);
      const category = await guarded(() => store.renameCategory(userId, categoryId, name));
      if (!category) throw noCategory(categoryId);
      return { category: toCategoryMessage(category) };
    },

    async reorderCategories(request, context) {
      const { userId } = deps.requireUser(context);
      const categoryIds = requireIds('category_ids', request.categoryIds, 0, LIBRARY_LIMITS.categories);
      try {
        return { categories: (await store.reorderCategories(userId, categoryIds)).map(toCategoryMessage) };
      } catch (error) {
        if (!(error instanceof UnknownCategoryError)) throw error;
        throw invalid(`category_ids must be each of your category ids once, in the new order (${error.message})`);
      }
    },

    async removeCategory(request, context) {
      const { userId } = deps.requireUser(context);
      const categoryId = requireId('category_id', request.categoryId);
      if (!(await store.removeCategory(userId, categoryId))) throw noCategory(categoryId);
      return {};
    },

    async writeProgress(request, context) {
      const { userId } = deps.requireUser(context);
      const entryId = requireId('entry_id', request.entryId);
      requireCount('writes', request.writes, 1, LIBRARY_LIMITS.progressWrites);
      const at = now();
      const writes = request.writes.map((write, i) => progressWriteOf(i, write, at));
      const rows = await store.writeProgress(userId, entryId, writes, at);
      if (!rows) throw noEntry(entryId);
      return { progress: rows.map(toProgressMessage) };
    },

    async listProgress(request, context) {
      const { userId } = deps.requireUser(context);
      const entryId = requireId('entry_id', request.entryId);
      const rows = await store.listProgress(userId, entryId);
      if (!rows) throw noEntry(entryId);
      return { progress: rows.map(toProgressMessage) };
    },

    async addHistory(request, context) {
      const { userId } = deps.requireUser(context);
      requireCount('records', request.records, 1, LIBRARY_LIMITS.historyRecords);
      const at = now();
      const records = request.records.map((record, i) => ({
        entryId: requireId(`records[${i}].entry_id`, record.entryId),
        unitId: requireSourceItemId(`records[${i}].unit_id`, record.unitId),
        openedAt: requireClientTime(`records[${i}].opened_at`, record.openedAt, at),
        durationMs: requireDuration(`records[${i}].duration`, record.duration),
      }));
      return { added: await store.addHistory(userId, records) };
    },

    async listHistory(request, context) {
      const { userId } = deps.requireUser(context);
      const limit = pageSizeOf(request.pageSize);
      if (request.entryId) await requireEntry(userId, requireId('entry_id', request.entryId));
      const page = await guarded(() =>
        store.listHistory(userId, {
          limit,
          ...(request.entryId ? { entryId: request.entryId } : {}),
          ...(request.pageToken
            ? { cursor: requireText('page_token', request.pageToken, LIBRARY_LIMITS.pageToken) }
            : {}),
        }),
      );
      return { records: page.records.map(toHistoryMessage), nextPageToken: page.nextCursor ?? '' };
    },

    async linkEntries(request, context) {
      const { userId } = deps.requireUser(context);
      const entryIds = requireIds('entry_ids', request.entryIds, 2, LIBRARY_LIMITS.linkedEntries);
      const workId = await store.linkEntries(userId, entryIds, newId(), now());
      if (workId === undefined) {
        throw new ConnectError('entry_ids: not every one is an entry of your library', Code.NotFound);
      }
      return { workId };
    },

    async unlinkEntry(request, context) {
      const { userId } = deps.requireUser(context);
      const entryId = requireId('entry_id', request.entryId);
      if (!(await store.unlinkEntry(userId, entryId, now()))) throw noEntry(entryId);
      return { entry: toEntryMessage(await requireEntry(userId, entryId)) };
    },

    async moveEntry(request, context) {
      const { userId } = deps.requireUser(context);
      const entryId = requireId('entry_id', request.entryId);
      const sourceId = requireSourceId('target_source_id', request.targetSourceId);
      const mediaId = requireSourceItemId('target_media_id', request.targetMediaId);
      const entry = await requireEntry(userId, entryId);
      if (entry.sourceId === sourceId && entry.mediaId === mediaId) {
        throw invalid('target_source_id and target_media_id name where the entry already is');
      }
      // a dry run foresees the refusal the move would meet
      const existing = await store.findEntry(userId, sourceId, mediaId);
      if (existing) throw storeError(new EntryExistsError(existing));
      const target = await workOf(sourceId, mediaId, context);
      const units = await allUnits(sourceId, mediaId, context);
      const progress = (await store.listProgress(userId, entryId)) ?? [];
      const { mapping } = matchUnits(
        progress,
        units.map((u) => ({ unitId: u.id, title: u.title, ...(u.number === undefined ? {} : { number: u.number }) })),
      );
      if (request.dryRun) {
        return {
          entry: toEntryMessage(entry),
          matched: progress.filter((row) => mapping.has(row.unitId)).length,
          unmatched: progress.filter((row) => !mapping.has(row.unitId)).map(toProgressMessage),
          targetUnits: units.length,
        };
      }
      const result = await guarded(() => store.moveEntry(userId, entryId, target, mapping, now()));
      if (!result) throw noEntry(entryId);
      return {
        entry: toEntryMessage(result.entry),
        matched: result.moved,
        unmatched: result.unmatched.map(toProgressMessage),
        targetUnits: units.length,
      };
    },
  });
}
