import { randomUUID } from 'node:crypto';
import { requireSourceId, toSourceHealth } from '@awasm/catalog';
import { PluginCallError, type SourceOp, type SourceOpArgs, type SourceRunner } from '@awasm/runner-api';
import { requireUser } from '@awasm/server';
import type { CatalogService } from '@awasm/shared/gen/awasm/internal/v1/catalog_pb.js';
import { Listing } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { SourceService } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import type { Client, ConnectRouter, HandlerContext } from '@connectrpc/connect';
import { type CursorBinding, CursorCodec } from './cursor.js';
import { toConnectError } from './errors.js';

/** The catalog as the gateway reaches it: in-process in the embedded server, over HTTP/2 otherwise. */
export type CatalogClient = Client<typeof CatalogService>;

/** What SourceService needs: the catalog's client and the runner seam. */
export interface SourceServiceDeps {
  /** lists the installed sources, and says why one the runner has not loaded cannot run */
  catalog: CatalogClient;
  /** runs the calls (it checks their arguments) and answers for loaded sources' health */
  runner: SourceRunner;
  /**
   * The key that signs the cursors this gateway hands out (at least 16 bytes). Every gateway of one
   * deployment needs the same one; the embedded server keeps its own in the data directory.
   */
  cursorSecret: Uint8Array;
}

/** A list cursor is bound to the listing's plugin name, as cursors issued before were. */
const LISTING_BINDINGS: Partial<Record<Listing, string>> = { [Listing.POPULAR]: 'popular', [Listing.LATEST]: 'latest' };

/** The client's deadline, if it set one, as the absolute deadline of the plugin call. */
function deadlineOf(context: HandlerContext): number | undefined {
  const remaining = context.timeoutMs();
  return remaining === undefined ? undefined : Date.now() + Math.max(1, remaining);
}

export function registerSourceService(router: ConnectRouter, deps: SourceServiceDeps): void {
  const cursors = new CursorCodec(deps.cursorSecret);
  /**
   * One call through the seam. Only the runner is asked whether the source can run; when it is not
   * loaded, the catalog says why (not installed, disabled, failed to load).
   */
  const call = async <Op extends SourceOp>(
    sourceId: string,
    op: Op,
    args: SourceOpArgs[Op],
    context: HandlerContext,
  ) => {
    try {
      const deadline = deadlineOf(context);
      return await deps.runner.call(
        { sourceId, op, args, requestId: randomUUID(), ...(deadline === undefined ? {} : { deadline }) },
        { signal: context.signal },
      );
    } catch (error) {
      if (error instanceof PluginCallError && error.kind === 'not-loaded') {
        await deps.catalog.checkSourceRunnable({ sourceId }, { signal: context.signal });
      }
      throw toConnectError(sourceId, error);
    }
  };
  /** A page whose next cursor is sealed to the same binding the request's cursor was checked against. */
  const sealed = <T>(binding: CursorBinding, page: { items: T[]; nextCursor: string }) => ({
    items: page.items,
    nextCursor: cursors.seal(binding, page.nextCursor),
  });

  router.service(SourceService, {
    async listSources(request, context) {
      requireUser(context);
      const { sources } = await deps.catalog.listInstalledSources(
        { includeDisabled: request.includeDisabled },
        { signal: context.signal },
      );
      return {
        sources: await Promise.all(
          sources.map(async (source) => ({
            ...source,
            health: toSourceHealth(source.enabled ? await deps.runner.health(source.id) : undefined),
          })),
        ),
      };
    },

    async search(request, context) {
      requireUser(context);
      const sourceId = requireSourceId('source_id', request.sourceId);
      const { query } = request;
      const filters = request.filters.map((f) => ({ id: f.id, values: [...f.values] }));
      const binding: CursorBinding = [sourceId, 'search', query, filters];
      const cursor = cursors.open(binding, request.cursor);
      return sealed(
        binding,
        await call(sourceId, 'search', { query, filters, ...(cursor ? { cursor } : {}) }, context),
      );
    },

    async listMedia(request, context) {
      requireUser(context);
      const sourceId = requireSourceId('source_id', request.sourceId);
      const { listing } = request;
      const binding: CursorBinding = [sourceId, 'list', LISTING_BINDINGS[listing] ?? listing];
      const cursor = cursors.open(binding, request.cursor);
      return sealed(binding, await call(sourceId, 'list', { listing, ...(cursor ? { cursor } : {}) }, context));
    },

    async getMedia(request, context) {
      requireUser(context);
      const sourceId = requireSourceId('source_id', request.sourceId);
      return { media: await call(sourceId, 'getMedia', { mediaId: request.mediaId }, context) };
    },

    async listUnits(request, context) {
      requireUser(context);
      const sourceId = requireSourceId('source_id', request.sourceId);
      const { mediaId } = request;
      const binding: CursorBinding = [sourceId, 'listUnits', mediaId];
      const cursor = cursors.open(binding, request.cursor);
      return sealed(binding, await call(sourceId, 'listUnits', { mediaId, ...(cursor ? { cursor } : {}) }, context));
    },

    async getAssets(request, context) {
      requireUser(context);
      const sourceId = requireSourceId('source_id', request.sourceId);
      return { assets: (await call(sourceId, 'getAssets', { unitId: request.unitId }, context)).assets };
    },

    async getFilters(request, context) {
      requireUser(context);
      const sourceId = requireSourceId('source_id', request.sourceId);
      return { filters: (await call(sourceId, 'filters', {}, context)).filters };
    },
  });
}
