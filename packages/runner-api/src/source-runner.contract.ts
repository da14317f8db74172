import { AssetKind, FilterKind, Listing, MediaKind, UnitKind } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { isMessage } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { type PluginCallError, sourceErrorMessage } from './errors.js';
import type { SourceOp } from './ops.js';
import { ARG_LIMITS } from './ops.js';
import type { SourceCall, SourceRunner } from './source-runner.js';

/** The contract plugin's source id (test/runner/plugins/contract/manifest.toml). */
export const CONTRACT_SOURCE_ID = 'contract-source';

/** A runner under test and the package store it reads from. */
export interface ContractRunner {
  runner: SourceRunner;
  /** stores a package file where the runner fetches packages from; returns its digest */
  publish(packageFile: Uint8Array): Promise<string>;
  close(): Promise<void>;
}

/** The packages the contract loads: the contract plugin, and the same component under another id. */
export interface ContractPackages {
  contract: Uint8Array;
  /** a valid package of a plugin whose id is not CONTRACT_SOURCE_ID */
  other: Uint8Array;
}

/**
 * The typed error a call rejects with. Checked by name rather than instanceof, so the suite holds
 * for an implementation built from another copy of this package (its dist, or a queue client).
 */
async function failure(promise: Promise<unknown>, name = 'PluginCallError'): Promise<PluginCallError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect((error as Error).name).toBe(name);
  return error as PluginCallError;
}

/** What crosses a process boundary of an error: its kind, message and variant, as plain JSON. */
function asJson(error: PluginCallError) {
  return JSON.parse(JSON.stringify({ kind: error.kind, message: error.message, sourceError: error.sourceError }));
}

/**
 * Behaviour every SourceRunner must have, whether it runs plugins in this process or behind a
 * queue. `open()` returns a fresh runner with an empty package store each time.
 */
export function sourceRunnerContract(
  implementation: string,
  open: () => Promise<ContractRunner>,
  packages: () => Promise<ContractPackages>,
): void {
  describe(`SourceRunner contract: ${implementation}`, () => {
    let n = 0;
    const call = <Op extends SourceOp>(
      runner: SourceRunner,
      op: Op,
      args: SourceCall<Op>['args'],
      extra: Partial<SourceCall<Op>> = {},
      signal?: AbortSignal,
    ) =>
      runner.call(
        { sourceId: CONTRACT_SOURCE_ID, op, args, requestId: `contract-${++n}`, ...extra },
        signal ? { signal } : {},
      );

    const loaded = async (): Promise<ContractRunner> => {
      const opened = await open();
      const packageDigest = await opened.publish((await packages()).contract);
      await opened.runner.load({ sourceId: CONTRACT_SOURCE_ID, packageDigest, settings: {} });
      return opened;
    };

    it('loads a source by package digest and answers every operation with protobuf messages', async () => {
      const { runner, close } = await loaded();
      try {
        const first = await call(runner, 'search', { query: 'dune', filters: [{ id: 'genre', values: ['sf'] }] });
        expect(isMessage(first)).toBe(true);
        expect(first.$typeName).toBe('awasm.internal.v1.MediaPage');
        expect(first.nextCursor).toBe('page-2');
        expect(first.items).toHaveLength(1);
        expect(first.items[0]).toMatchObject({
          $typeName: 'awasm.v1.Media',
          sourceId: CONTRACT_SOURCE_ID,
          id: 'dune-page-1',
          title: 'dune genre=sf',
          kind: MediaKind.BOOK,
          authors: ['A. Author'],
        });
        const second = await call(runner, 'search', { query: 'dune', filters: [], cursor: 'page-2' });
        expect(second.items[0]?.id).toBe('dune-page-2');
        expect(second.nextCursor).toBe('');

        const latest = await call(runner, 'list', { listing: Listing.LATEST });
        expect(latest.$typeName).toBe('awasm.internal.v1.MediaPage');
        expect(latest.items[0]?.title).toBe('the latest one');

        const media = await call(runner, 'getMedia', { mediaId: 'm1' });
        expect(media).toMatchObject({ $typeName: 'awasm.v1.Media', id: 'm1', title: 'media m1' });

        const units = await call(runner, 'listUnits', { mediaId: 'm1' });
        expect(units.$typeName).toBe('awasm.internal.v1.UnitPage');
        expect(units.items[0]).toMatchObject({ id: 'm1/1', mediaId: 'm1', kind: UnitKind.CHAPTER, number: 1 });
        expect(units.items[0]?.publishedAt?.seconds).toBe(1_700_000_000n);

        const assets = await call(runner, 'getAssets', { unitId: 'm1/1' });
        expect(assets.$typeName).toBe('awasm.internal.v1.AssetList');
        expect(assets.assets[0]).toMatchObject({ kind: AssetKind.PAGE, index: 0, mimeType: 'image/png' });
        expect(assets.assets[0]?.headers.map((h) => [h.name, h.value])).toEqual([
          ['referer', 'https://contract.awasm.test/'],
        ]);

        const filters = await call(runner, 'filters', {});
        expect(filters.$typeName).toBe('awasm.internal.v1.FilterList');
        expect(filters.filters[0]).toMatchObject({ id: 'genre', kind: FilterKind.SELECT });
      } finally {
        await close();
      }
    });

    it('refuses a digest the package store does not hold, and a package of another plugin', async () => {
      const { runner, publish, close } = await open();
      try {
        const missing = await failure(
          runner.load({ sourceId: CONTRACT_SOURCE_ID, packageDigest: '0'.repeat(64), settings: {} }),
          'PluginLoadError',
        );
        expect(missing.message).toMatch(/missing from the package store/);
        const otherDigest = await publish((await packages()).other);
        const other = await failure(
          runner.load({ sourceId: CONTRACT_SOURCE_ID, packageDigest: otherDigest, settings: {} }),
          'PluginLoadError',
        );
        expect(other.message).toMatch(/holds plugin 'other-source'/);
        expect(await runner.health(CONTRACT_SOURCE_ID)).toBeUndefined();
      } finally {
        await close();
      }
    });

    it("rejects with the plugin's source-error variant and the one message built for it", async () => {
      const { runner, close } = await loaded();
      try {
        const variants = [
          ['network', 'connection refused'],
          ['rate-limited', 30],
          ['challenge', 'https://contract.awasm.test/check'],
          ['auth-required', undefined],
          ['not-found', undefined],
          ['parse', 'no title in the page'],
          ['unsupported', undefined],
          ['domain-moved', 'https://moved.awasm.test'],
          ['internal', 'it broke'],
        ] as const;
        for (const [tag, val] of variants) {
          const error = await failure(call(runner, 'search', { query: `fail:${tag}`, filters: [] }));
          const sourceError = val === undefined ? { tag } : { tag, val };
          expect(asJson(error)).toEqual({
            kind: 'source-error',
            message: sourceErrorMessage(CONTRACT_SOURCE_ID, sourceError),
            sourceError,
          });
        }
        const missing = await failure(call(runner, 'getMedia', { mediaId: 'missing' }));
        expect(missing.sourceError).toEqual({ tag: 'not-found' });
        expect(missing.message).toBe(`source '${CONTRACT_SOURCE_ID}' has no such item`);
      } finally {
        await close();
      }
    });

    it('ends a call at its absolute deadline, and does not start one whose deadline has passed', async () => {
      const { runner, close } = await loaded();
      try {
        const started = Date.now();
        const late = await failure(
          call(runner, 'search', { query: 'hang', filters: [] }, { deadline: Date.now() + 300 }),
        );
        expect(late.kind).toBe('deadline-exceeded');
        expect(Date.now() - started).toBeLessThan(4000);
        const past = await failure(call(runner, 'getMedia', { mediaId: 'm1' }, { deadline: Date.now() - 1 }));
        expect(past.kind).toBe('deadline-exceeded');
        // a deadline the caller set is not the source's failure
        expect((await runner.health(CONTRACT_SOURCE_ID))?.state).toBe('healthy');
        expect((await call(runner, 'getMedia', { mediaId: 'm2' })).id).toBe('m2');
      } finally {
        await close();
      }
    });

    it('cancels a call through its signal', async () => {
      const { runner, close } = await loaded();
      try {
        const controller = new AbortController();
        const pending = failure(call(runner, 'search', { query: 'hang', filters: [] }, {}, controller.signal));
        setTimeout(() => controller.abort(), 100);
        const cancelled = await pending;
        expect(asJson(cancelled).kind).toBe('cancelled');
        const before = new AbortController();
        before.abort();
        expect((await failure(call(runner, 'getMedia', { mediaId: 'm1' }, {}, before.signal))).kind).toBe('cancelled');
        expect((await call(runner, 'getMedia', { mediaId: 'm3' })).id).toBe('m3');
      } finally {
        await close();
      }
    });

    it('refuses arguments over the limits or empty, naming the field, before the plugin runs', async () => {
      const { runner, close } = await loaded();
      try {
        const empty = await failure(call(runner, 'search', { query: '  ', filters: [] }));
        expect(asJson(empty)).toEqual({ kind: 'refused', message: 'query must not be empty' });
        const long = await failure(call(runner, 'getMedia', { mediaId: 'm'.repeat(ARG_LIMITS.id + 1) }));
        expect(long.kind).toBe('refused');
        expect(long.message).toBe(`media_id is ${ARG_LIMITS.id + 1} characters, over the limit of ${ARG_LIMITS.id}`);
        const listing = await failure(call(runner, 'list', { listing: Listing.UNSPECIFIED }));
        expect(listing.kind).toBe('refused');
        expect(listing.message).toMatch(/^listing /);
      } finally {
        await close();
      }
    });

    it('rejects malformed plugin output as malformed-output naming the field', async () => {
      const { runner, close } = await loaded();
      try {
        const error = await failure(call(runner, 'search', { query: 'malformed', filters: [] }));
        expect(error.kind).toBe('malformed-output');
        expect(error.message).toMatch(/search\.nextCursor: 2000 bytes; at most 1024 allowed/);
      } finally {
        await close();
      }
    });

    it('passes settings to the plugin at load and when they change, with the manifest defaults', async () => {
      const { runner, close } = await loaded();
      try {
        const title = async () => (await call(runner, 'search', { query: 'setting', filters: [] })).items[0]?.title;
        expect(await title()).toBe('hello');
        await runner.setSettings(CONTRACT_SOURCE_ID, { greeting: 'good morning' });
        expect(await title()).toBe('good morning');
        await runner.setSettings(CONTRACT_SOURCE_ID, {});
        expect(await title()).toBe('hello');
        expect((await failure(runner.setSettings('no-such-source', {}))).kind).toBe('not-loaded');
      } finally {
        await close();
      }
    });

    it('reports health while loaded; after unload, calls are not-loaded and health is undefined', async () => {
      const { runner, close } = await loaded();
      try {
        const health = await runner.health(CONTRACT_SOURCE_ID);
        expect(health).toMatchObject({ state: 'healthy', consecutiveFailures: 0 });
        expect(JSON.parse(JSON.stringify(health))).toEqual(health);
        await runner.unload(CONTRACT_SOURCE_ID);
        expect(await runner.health(CONTRACT_SOURCE_ID)).toBeUndefined();
        const gone = await failure(call(runner, 'getMedia', { mediaId: 'm1' }));
        expect(gone.kind).toBe('not-loaded');
        const unknown = await failure(
          runner.call({ sourceId: 'no-such-source', op: 'filters', args: {}, requestId: 'x' }),
        );
        expect(unknown.kind).toBe('not-loaded');
      } finally {
        await close();
      }
    });
  });
}
