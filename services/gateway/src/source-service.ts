import type { SourceOp } from '@awasm/plugin-runner';
import { SourceService } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import {
  cursorForPlugin,
  filterValuesForPlugin,
  listingName,
  mediaKindName,
  toAsset,
  toFilter,
  toMedia,
  toPage,
  toUnit,
} from './convert.js';
import { toConnectError } from './errors.js';
import type { PluginManager } from './plugin-manager.js';
import { type HealthLookup, toSourceHealth } from './source-health.js';

/** What SourceService needs: the plugin manager and a way to call a loaded source. */
export interface SourceServiceDeps {
  plugins: PluginManager;
  call(sourceId: string, op: SourceOp, args: unknown[], options: { timeoutMs?: number }): Promise<unknown>;
  /** a loaded source's health, shown by ListSources */
  health?: HealthLookup;
}

const MAX_QUERY_LENGTH = 500;
const MAX_ID_LENGTH = 2048;

function requireText(field: string, value: string, max = MAX_ID_LENGTH): string {
  if (value.trim() === '') throw new ConnectError(`${field} must not be empty`, Code.InvalidArgument);
  if (value.length > max)
    throw new ConnectError(`${field} is ${value.length} characters; at most ${max} allowed`, Code.InvalidArgument);
  return value;
}

/** The client's deadline, if it set one, bounds the plugin call too. */
function timeoutFrom(context: HandlerContext): { timeoutMs?: number } {
  const remaining = context.timeoutMs();
  return remaining === undefined ? {} : { timeoutMs: Math.max(1, remaining) };
}

export function registerSourceService(router: ConnectRouter, deps: SourceServiceDeps): void {
  const call = async (sourceId: string, op: SourceOp, args: unknown[], context: HandlerContext): Promise<unknown> => {
    await deps.plugins.requireEnabled(sourceId);
    try {
      return await deps.call(sourceId, op, args, timeoutFrom(context));
    } catch (error) {
      throw toConnectError(sourceId, error);
    }
  };
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
      const query = requireText('query', request.query, MAX_QUERY_LENGTH);
      const result = await call(
        request.sourceId,
        'search',
        [query, filterValuesForPlugin(request.filters), cursorForPlugin(request.cursor)],
        context,
      );
      return converted(request.sourceId, () => toPage(result, (m, p) => toMedia(request.sourceId, m, p), 'search'));
    },

    async listMedia(request, context) {
      const listing = listingName(request.listing);
      if (!listing) throw new ConnectError('listing must be LISTING_POPULAR or LISTING_LATEST', Code.InvalidArgument);
      const result = await call(request.sourceId, 'list', [listing, cursorForPlugin(request.cursor)], context);
      return converted(request.sourceId, () => toPage(result, (m, p) => toMedia(request.sourceId, m, p), 'list'));
    },

    async getMedia(request, context) {
      const result = await call(request.sourceId, 'getMedia', [requireText('media_id', request.mediaId)], context);
      return { media: converted(request.sourceId, () => toMedia(request.sourceId, result)) };
    },

    async listUnits(request, context) {
      const mediaId = requireText('media_id', request.mediaId);
      const result = await call(request.sourceId, 'listUnits', [mediaId, cursorForPlugin(request.cursor)], context);
      return converted(request.sourceId, () => toPage(result, toUnit, 'listUnits'));
    },

    async getAssets(request, context) {
      const result = await call(request.sourceId, 'getAssets', [requireText('unit_id', request.unitId)], context);
      return {
        assets: converted(request.sourceId, () => {
          if (!Array.isArray(result)) throw new Error('getAssets must return a list');
          return result.map((a, i) => toAsset(a, `assets[${i}]`));
        }),
      };
    },

    async getFilters(request, context) {
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
