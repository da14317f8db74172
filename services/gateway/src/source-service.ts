import type { SourceOp } from '@awasm/plugin-runner';
import { ID_PATTERN } from '@awasm/shared';
import { SourceService } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import {
  filterValuesForPlugin,
  listingName,
  mediaKindName,
  toAsset,
  toFilter,
  toMedia,
  toPage,
  toUnit,
} from './convert.js';
import { type CursorBinding, CursorCodec } from './cursor.js';
import { echo, toConnectError } from './errors.js';
import type { PluginManager } from './plugin-manager.js';
import { type HealthLookup, toSourceHealth } from './source-health.js';

/** What SourceService needs: the plugin manager and a way to call a loaded source. */
export interface SourceServiceDeps {
  plugins: PluginManager;
  call(sourceId: string, op: SourceOp, args: unknown[], options: SourceCallOptions): Promise<unknown>;
  /** a loaded source's health, shown by ListSources */
  health?: HealthLookup;
  /**
   * The key that signs the cursors this gateway hands out (at least 16 bytes). Every gateway of one
   * deployment needs the same one; the embedded server keeps its own in the data directory.
   */
  cursorSecret: Uint8Array;
}

/** How a call is bounded: the client's deadline and its cancellation (the Connect handler's signal). */
export interface SourceCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

const MAX_QUERY_LENGTH = 500;
const MAX_ID_LENGTH = 2048;

function requireText(field: string, value: string, max = MAX_ID_LENGTH): string {
  if (value.trim() === '') throw new ConnectError(`${field} must not be empty`, Code.InvalidArgument);
  if (value.length > max)
    throw new ConnectError(`${field} is ${value.length} characters; at most ${max} allowed`, Code.InvalidArgument);
  return value;
}

/** A source id is a plugin id (the manifest's rule), checked before anything looks it up or echoes it. */
export function requireSourceId(field: string, value: string): string {
  if (value === '') throw new ConnectError(`${field} must not be empty`, Code.InvalidArgument);
  if (!ID_PATTERN.test(value)) {
    throw new ConnectError(
      `${field} '${echo(value, 64)}' must be 2-64 lowercase letters, digits and dashes (${value.length} characters given)`,
      Code.InvalidArgument,
    );
  }
  return value;
}

/** The client's deadline, if it set one, bounds the plugin call too, and its cancellation stops it. */
function callOptionsFrom(context: HandlerContext): SourceCallOptions {
  const remaining = context.timeoutMs();
  return remaining === undefined
    ? { signal: context.signal }
    : { timeoutMs: Math.max(1, remaining), signal: context.signal };
}

export function registerSourceService(router: ConnectRouter, deps: SourceServiceDeps): void {
  const cursors = new CursorCodec(deps.cursorSecret);
  const call = async (sourceId: string, op: SourceOp, args: unknown[], context: HandlerContext): Promise<unknown> => {
    await deps.plugins.requireEnabled(sourceId);
    try {
      return await deps.call(sourceId, op, args, callOptionsFrom(context));
    } catch (error) {
      throw toConnectError(sourceId, error);
    }
  };
  /** A page whose next cursor is sealed to the same binding the request's cursor was checked against. */
  const page = <T>(
    sourceId: string,
    binding: CursorBinding,
    result: unknown,
    convert: (item: unknown, path: string) => T,
    path: string,
  ) =>
    converted(sourceId, () => {
      const { items, nextCursor } = toPage(result, convert, path);
      return { items, nextCursor: cursors.seal(binding, nextCursor) };
    });
  const converted = <T>(sourceId: string, convert: () => T): T => {
    try {
      return convert();
    } catch (error) {
      throw toConnectError(sourceId, error);
    }
  };

  router.service(SourceService, {
    async listSources(request) {
      const plugins = await deps.plugins.list();
      return {
        sources: plugins
          .filter((p) => request.includeDisabled || p.record.enabled)
          .map(({ record, manifest }) => ({
            id: record.id,
            name: manifest.name,
            version: manifest.version,
            mediaKinds: manifest.mediaKinds.map(mediaKindName),
            languages: manifest.languages,
            nsfw: manifest.nsfw,
            enabled: record.enabled,
            health: toSourceHealth(record.enabled ? deps.health?.(record.id) : undefined),
          })),
      };
    },

    async search(request, context) {
      const sourceId = requireSourceId('source_id', request.sourceId);
      const query = requireText('query', request.query, MAX_QUERY_LENGTH);
      const filters = filterValuesForPlugin(request.filters);
      const binding: CursorBinding = [sourceId, 'search', query, filters];
      const cursor = cursors.open(binding, request.cursor);
      const result = await call(sourceId, 'search', [query, filters, cursor], context);
      return page(sourceId, binding, result, (m, p) => toMedia(sourceId, m, p), 'search');
    },

    async listMedia(request, context) {
      const sourceId = requireSourceId('source_id', request.sourceId);
      const listing = listingName(request.listing);
      if (!listing) throw new ConnectError('listing must be LISTING_POPULAR or LISTING_LATEST', Code.InvalidArgument);
      const binding: CursorBinding = [sourceId, 'list', listing];
      const cursor = cursors.open(binding, request.cursor);
      const result = await call(sourceId, 'list', [listing, cursor], context);
      return page(sourceId, binding, result, (m, p) => toMedia(sourceId, m, p), 'list');
    },

    async getMedia(request, context) {
      const sourceId = requireSourceId('source_id', request.sourceId);
      const result = await call(sourceId, 'getMedia', [requireText('media_id', request.mediaId)], context);
      return { media: converted(sourceId, () => toMedia(sourceId, result)) };
    },

    async listUnits(request, context) {
      const sourceId = requireSourceId('source_id', request.sourceId);
      const mediaId = requireText('media_id', request.mediaId);
      const binding: CursorBinding = [sourceId, 'listUnits', mediaId];
      const cursor = cursors.open(binding, request.cursor);
      const result = await call(sourceId, 'listUnits', [mediaId, cursor], context);
      return page(sourceId, binding, result, toUnit, 'listUnits');
    },

    async getAssets(request, context) {
      requireSourceId('source_id', request.sourceId);
      const result = await call(request.sourceId, 'getAssets', [requireText('unit_id', request.unitId)], context);
      return {
        assets: converted(request.sourceId, () => {
          if (!Array.isArray(result)) throw new Error('getAssets must return a list');
          return result.map((a, i) => toAsset(a, `assets[${i}]`));
        }),
      };
    },

    async getFilters(request, context) {
      requireSourceId('source_id', request.sourceId);
      const result = await call(request.sourceId, 'filters', [], context);
      return {
        filters: converted(request.sourceId, () => {
          if (!Array.isArray(result)) throw new Error('filters must return a list');
          return result.map((f, i) => toFilter(f, `filters[${i}]`));
        }),
      };
    },
  });
}
