/**
 * The one check of a call's arguments before anything reaches a plugin, and their conversion to the
 * component's positional form. The gateway does not check them again: a refusal names the field.
 */

import { ARG_LIMITS, SOURCE_OPS, type SourceOp, type SourceOpArgs } from '@awasm/runner-api';
import { Listing } from '@awasm/shared/gen/awasm/v1/media_pb.js';

const LISTINGS = new Set(['popular', 'latest']);

/** The plugin contract's `listing` value of an API Listing; anything else is passed on and refused. */
function listingName(listing: unknown): unknown {
  if (listing === Listing.POPULAR) return 'popular';
  if (listing === Listing.LATEST) return 'latest';
  return listing;
}

/** Filters copied out of their messages: the component gets plain {id, values} records. */
function plainFilters(filters: unknown): unknown {
  if (!Array.isArray(filters)) return filters;
  return filters.map((f) => {
    if (typeof f !== 'object' || f === null) return f;
    const { id, values } = f as { id?: unknown; values?: unknown };
    return { id, values: Array.isArray(values) ? [...values] : values };
  });
}

class ArgError extends Error {}

function str(value: unknown, what: string, max: number): void {
  if (typeof value !== 'string') throw new ArgError(`${what} must be a string`);
  if (value.length > max) throw new ArgError(`${what} is ${value.length} characters, over the limit of ${max}`);
}

/** Queries and ids are never empty (nor only blanks). */
function text(value: unknown, what: string, max: number): void {
  str(value, what, max);
  if ((value as string).trim() === '') throw new ArgError(`${what} must not be empty`);
}

function optStr(value: unknown, what: string, max: number): void {
  if (value !== undefined && value !== null) str(value, what, max);
}

function arity(args: readonly unknown[], min: number, max: number, op: string): void {
  if (args.length < min || args.length > max) {
    throw new ArgError(`${op} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length}`);
  }
}

/**
 * Returns why the positional arguments (as the component takes them) are refused, naming the field
 * as the API does; undefined when they may be passed to the plugin.
 */
export function argumentProblem(op: string, args: readonly unknown[]): string | undefined {
  try {
    if (!Array.isArray(args)) throw new ArgError('arguments must be an array');
    switch (op) {
      case 'search': {
        arity(args, 2, 3, op);
        text(args[0], 'query', ARG_LIMITS.query);
        const filters = args[1];
        if (!Array.isArray(filters)) throw new ArgError('filters must be an array');
        if (filters.length > ARG_LIMITS.filters) {
          throw new ArgError(`${filters.length} filters, over the limit of ${ARG_LIMITS.filters}`);
        }
        for (const [i, f] of filters.entries()) {
          if (typeof f !== 'object' || f === null) throw new ArgError(`filters[${i}] must be {id, values}`);
          const { id, values } = f as { id?: unknown; values?: unknown };
          str(id, `filters[${i}].id`, ARG_LIMITS.filterString);
          if (!Array.isArray(values)) throw new ArgError(`filters[${i}].values must be an array`);
          if (values.length > ARG_LIMITS.filterValues) {
            throw new ArgError(
              `filters[${i}] has ${values.length} values, over the limit of ${ARG_LIMITS.filterValues}`,
            );
          }
          for (const [j, v] of values.entries()) str(v, `filters[${i}].values[${j}]`, ARG_LIMITS.filterString);
        }
        optStr(args[2], 'cursor', ARG_LIMITS.id);
        return undefined;
      }
      case 'list':
        arity(args, 1, 2, op);
        if (typeof args[0] !== 'string' || !LISTINGS.has(args[0])) {
          throw new ArgError(`listing must be one of ${[...LISTINGS].join(', ')}`);
        }
        optStr(args[1], 'cursor', ARG_LIMITS.id);
        return undefined;
      case 'getMedia':
        arity(args, 1, 1, op);
        text(args[0], 'media_id', ARG_LIMITS.id);
        return undefined;
      case 'getAssets':
        arity(args, 1, 1, op);
        text(args[0], 'unit_id', ARG_LIMITS.id);
        return undefined;
      case 'listUnits':
        arity(args, 1, 2, op);
        text(args[0], 'media_id', ARG_LIMITS.id);
        optStr(args[1], 'cursor', ARG_LIMITS.id);
        return undefined;
      case 'filters':
        arity(args, 0, 0, op);
        return undefined;
      default:
        return `unknown operation '${op}' (one of ${SOURCE_OPS.join(', ')})`;
    }
  } catch (err) {
    if (err instanceof ArgError) return err.message;
    throw err;
  }
}

/** The typed arguments of `op` in the component's positional order (not yet checked). */
export function positionalArgs<Op extends SourceOp>(op: Op, args: SourceOpArgs[Op]): unknown[] {
  const a = args as Partial<Record<string, unknown>>;
  // an empty cursor is the first page, as in the API
  const cursor = a.cursor === '' ? undefined : a.cursor;
  switch (op) {
    case 'search':
      return [a.query, plainFilters(a.filters), cursor];
    case 'list':
      return [listingName(a.listing), cursor];
    case 'getMedia':
      return [a.mediaId];
    case 'listUnits':
      return [a.mediaId, cursor];
    case 'getAssets':
      return [a.unitId];
    default:
      return [];
  }
}

/** Arguments as the component expects them: missing optional cursors become undefined. */
export function normaliseArgs(op: SourceOp, args: readonly unknown[]): unknown[] {
  const out = [...args];
  const cursorAt = op === 'search' ? 2 : op === 'list' || op === 'listUnits' ? 1 : -1;
  if (cursorAt >= 0) {
    while (out.length <= cursorAt) out.push(undefined);
    if (out[cursorAt] === null) out[cursorAt] = undefined;
  }
  return out;
}
