/**
 * The source-api operations as they cross the runner seam: their names, their typed arguments and
 * the one set of limits. The check of those arguments is the runner's (plugin-runner's ops.ts).
 */

import type { Listing } from '@awasm/shared/gen/awasm/v1/media_pb.js';

export type SourceOp = 'search' | 'list' | 'getMedia' | 'listUnits' | 'getAssets' | 'filters';

export const SOURCE_OPS: readonly SourceOp[] = ['search', 'list', 'getMedia', 'listUnits', 'getAssets', 'filters'];

/** The one set of argument limits (characters, or entries for lists). */
export const ARG_LIMITS = {
  /** a search query */
  query: 1024,
  /** media and unit ids and cursors */
  id: 2048,
  filters: 64,
  filterValues: 64,
  filterString: 256,
};

/** The longest cursor a plugin may hand out; a longer one is a plugin fault, never sent to clients. */
export const MAX_PLUGIN_CURSOR_BYTES = 1024;

/** Each operation's arguments, field for field as awasm.internal.v1's *Args messages carry them. */
export interface SourceOpArgs {
  search: { query: string; filters: { id: string; values: string[] }[]; cursor?: string };
  list: { listing: Listing; cursor?: string };
  getMedia: { mediaId: string };
  listUnits: { mediaId: string; cursor?: string };
  getAssets: { unitId: string };
  filters: Record<string, never>;
}
