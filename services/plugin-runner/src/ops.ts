/** The source-api operations and the checks on their arguments before anything reaches a plugin. */

export type SourceOp = 'search' | 'list' | 'getMedia' | 'listUnits' | 'getAssets' | 'filters';

export const SOURCE_OPS: readonly SourceOp[] = ['search', 'list', 'getMedia', 'listUnits', 'getAssets', 'filters'];

export const ARG_LIMITS = {
  /** a search query */
  query: 1024,
  /** ids and cursors */
  id: 4096,
  filters: 64,
  filterValues: 64,
  filterString: 256,
};

const LISTINGS = new Set(['popular', 'latest']);

class ArgError extends Error {}

function str(value: unknown, what: string, max: number): void {
  if (typeof value !== 'string') throw new ArgError(`${what} must be a string`);
  if (value.length > max) throw new ArgError(`${what} is ${value.length} characters, over the limit of ${max}`);
}

function optStr(value: unknown, what: string, max: number): void {
  if (value !== undefined && value !== null) str(value, what, max);
}

function arity(args: readonly unknown[], min: number, max: number, op: string): void {
  if (args.length < min || args.length > max) {
    throw new ArgError(`${op} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length}`);
  }
}

/** Returns why the arguments are refused, or undefined when they may be passed to the plugin. */
export function argumentProblem(op: string, args: readonly unknown[]): string | undefined {
  try {
    if (!Array.isArray(args)) throw new ArgError('arguments must be an array');
    switch (op) {
      case 'search': {
        arity(args, 2, 3, op);
        str(args[0], 'query', ARG_LIMITS.query);
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
      case 'getAssets':
        arity(args, 1, 1, op);
        str(args[0], 'id', ARG_LIMITS.id);
        return undefined;
      case 'listUnits':
        arity(args, 1, 2, op);
        str(args[0], 'media id', ARG_LIMITS.id);
        optStr(args[1], 'cursor', ARG_LIMITS.id);
        return undefined;
      case 'filters':
        arity(args, 0, 0, op);
        return undefined;
      default:
        return `unknown operation '${op}' (one of ${SOURCE_OPS.join(', ')})`;
    }
  } catch (err) {
    if (err instanceof ArgError) return `${op}: ${err.message}`;
    throw err;
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
