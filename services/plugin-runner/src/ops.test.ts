import { ARG_LIMITS } from '@awasm/runner-api';
import { Listing } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { describe, expect, it } from 'vitest';
import { checkImports, importProblem } from './import-policy.js';
import { argumentProblem, normaliseArgs, positionalArgs } from './ops.js';

describe('argumentProblem', () => {
  it('accepts well-formed arguments for every operation', () => {
    expect(argumentProblem('search', ['dune', [{ id: 'genre', values: ['sf'] }], 'c1'])).toBeUndefined();
    expect(argumentProblem('search', ['dune', []])).toBeUndefined();
    expect(argumentProblem('list', ['popular'])).toBeUndefined();
    expect(argumentProblem('list', ['latest', null])).toBeUndefined();
    expect(argumentProblem('getMedia', ['m1'])).toBeUndefined();
    expect(argumentProblem('listUnits', ['m1', 'c'])).toBeUndefined();
    expect(argumentProblem('getAssets', ['u1'])).toBeUndefined();
    expect(argumentProblem('filters', [])).toBeUndefined();
  });

  it('names the argument that is wrong or too large', () => {
    expect(argumentProblem('search', ['x'.repeat(ARG_LIMITS.query + 1), []])).toBe(
      `query is ${ARG_LIMITS.query + 1} characters, over the limit of ${ARG_LIMITS.query}`,
    );
    expect(argumentProblem('search', [42, []])).toBe('query must be a string');
    expect(argumentProblem('search', ['q'])).toMatch(/takes 2 to 3 arguments/);
    expect(argumentProblem('search', ['q', [{ id: 'a', values: 'b' }]])).toMatch(
      /filters\[0\].values must be an array/,
    );
    expect(argumentProblem('search', ['q', [], 'c'.repeat(5000)])).toMatch(/cursor is 5000 characters/);
    expect(argumentProblem('list', ['everything'])).toMatch(/listing must be one of popular, latest/);
    expect(argumentProblem('getMedia', [])).toMatch(/takes 1 arguments/);
    expect(argumentProblem('filters', ['x'])).toMatch(/takes 0 arguments/);
    expect(argumentProblem('drop', [])).toMatch(/unknown operation 'drop'/);
    expect(argumentProblem('search', 'q' as unknown as unknown[])).toMatch(/arguments must be an array/);
    expect(argumentProblem('search', ['  ', []])).toBe('query must not be empty');
    expect(argumentProblem('getMedia', [''])).toBe('media_id must not be empty');
    expect(argumentProblem('getAssets', ['u'.repeat(ARG_LIMITS.id + 1)])).toBe(
      `unit_id is ${ARG_LIMITS.id + 1} characters, over the limit of ${ARG_LIMITS.id}`,
    );
  });

  it('puts typed arguments in the component order, an empty cursor as none', () => {
    expect(positionalArgs('search', { query: 'q', filters: [{ id: 'g', values: ['a'] }], cursor: '' })).toEqual([
      'q',
      [{ id: 'g', values: ['a'] }],
      undefined,
    ]);
    expect(positionalArgs('list', { listing: Listing.LATEST, cursor: 'c' })).toEqual(['latest', 'c']);
    expect(argumentProblem('list', positionalArgs('list', { listing: Listing.UNSPECIFIED }))).toBe(
      'listing must be one of popular, latest',
    );
    expect(positionalArgs('listUnits', { mediaId: 'm' })).toEqual(['m', undefined]);
    expect(positionalArgs('getAssets', { unitId: 'u' })).toEqual(['u']);
    expect(positionalArgs('filters', {})).toEqual([]);
  });

  it('fills in missing optional cursors', () => {
    expect(normaliseArgs('search', ['q', []])).toEqual(['q', [], undefined]);
    expect(normaliseArgs('list', ['popular', null])).toEqual(['popular', undefined]);
    expect(normaliseArgs('getMedia', ['m'])).toEqual(['m']);
  });
});

describe('import policy', () => {
  it('provides the source world, wasi 0.2 cli/clocks/filesystem/http/io/random, and nothing else', () => {
    expect(
      checkImports([
        'wasi:http/outgoing-handler@0.2.10',
        'wasi:http/types@0.2.10',
        'wasi:io/streams@0.2.12',
        'wasi:cli/exit@0.2.3',
        'wasi:filesystem/preopens@0.2.12',
        'awasm:source/host@0.1.0',
        'awasm:source/types@0.1.0',
      ]),
    ).toEqual([]);
    expect(
      checkImports(['wasi:sockets/tcp@0.2.10', 'wasi:http/types@0.2.10', 'wasi:http/incoming-handler@0.2.10']),
    ).toEqual([
      "imports 'wasi:sockets/tcp@0.2.10', which the host does not provide",
      "imports 'wasi:http/incoming-handler@0.2.10', which the host does not provide",
    ]);
  });

  it('refuses versions it does not implement', () => {
    expect(importProblem('wasi:http/types@0.3.0')).toMatch(/a version of wasi:http\/types the host does not provide/);
    expect(importProblem('wasi:io/streams')).toMatch(/a version/);
    expect(importProblem('awasm:source/host@1.0.0')).toMatch(/a version/);
  });
});
