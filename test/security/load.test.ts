import { PluginLoadError, type RunnerPool, sha256Hex } from '@awasm/plugin-runner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '../support/rejection.js';
import { type Built, newPool, spec } from '../support/runner.js';
import { attackWitDir, buildPlugin, tableBombComponent } from './helpers.js';

// Components the runner must refuse before any of their code runs, while what is loaded keeps serving.

let fetcher: Built;
let sockets: Built;
let pool: RunnerPool;

/**
 * A component of the `sockets` world in test/security/wit (it imports wasi:sockets/tcp and friends
 * and exports the source API), made by wasm-tools from the WIT with a generated core module.
 * componentize-js cannot build this world: its runtime wants a newer wasi:sockets than the vendored
 * 0.2.10, so the component is constructed instead.
 */
async function socketsComponent(): Promise<Built> {
  const witDir = await attackWitDir();
  const filesystem = (await import('@bytecodealliance/preview2-shim/filesystem')) as unknown as {
    _setPreopens(preopens: Record<string, string>): void;
  };
  filesystem._setPreopens({ [witDir]: witDir });
  const { componentEmbed, componentNew } = await import('@bytecodealliance/jco');
  const core = await componentEmbed({ witPath: witDir, world: 'sockets', dummy: true });
  const bytes = await componentNew(core, undefined);
  return { bytes, digest: sha256Hex(bytes) };
}

/**
 * A component written in WAT whose core modules are `modules` (module bodies), all instantiated;
 * it exports the source API's instance with one function, the first module's `f`, which is enough
 * for the load checks (they run before any instance starts).
 */
async function coreModulesComponent(modules: string[]): Promise<Built> {
  const { parse } = await import('@bytecodealliance/jco');
  const bytes = await parse(`(component
  ${modules.map((m, i) => `(core module $m${i} ${m})`).join('\n  ')}
  ${modules.map((_, i) => `(core instance $i${i} (instantiate $m${i}))`).join('\n  ')}
  (func $f (canon lift (core func $i0 "f")))
  (instance $api (export "filters" (func $f)))
  (export "awasm:source/source-api@0.1.0" (instance $api))
)`);
  return { bytes, digest: sha256Hex(bytes) };
}

const loadError = (promise: Promise<unknown>) => rejection(promise, PluginLoadError);

beforeAll(async () => {
  [fetcher, sockets] = await Promise.all([buildPlugin('fetcher'), socketsComponent()]);
  pool = newPool();
  await pool.load(spec('good', fetcher));
});

afterAll(async () => {
  await pool?.close();
});

describe('the runner refuses components it must not run', () => {
  it('refuses a component importing wasi:sockets, naming the import', async () => {
    const err = await loadError(pool.load(spec('sockets', sockets)));
    expect(err.message).toMatch(/source 'sockets': refused/);
    expect(err.message).toContain("'wasi:sockets/tcp@0.2.10', which the host does not provide");
    expect(err.message).toContain("'wasi:sockets/tcp-create-socket@0.2.10'");
    expect(pool.loaded()).toEqual(['good']);
    expect(await pool.call('good', 'list', ['popular'])).toMatchObject({ items: [{ title: 'listing popular' }] });
  });

  it('refuses bytes that do not match the expected sha256', async () => {
    const tampered = new Uint8Array(fetcher.bytes);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 0xff;
    const err = await loadError(pool.load({ ...spec('tampered', fetcher), component: tampered }));
    expect(err.message).toMatch(/sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
    expect(pool.loaded()).toEqual(['good']);
  });

  it('refuses a component whose initial memory is over its memory limit', async () => {
    const err = await loadError(pool.load(spec('small', fetcher, { limits: { memoryMb: 4 } })));
    expect(err.message).toMatch(/initially, more than the limit of 64 pages \(4 MiB\)/);
    expect(err.message).toMatch(/limits.memoryMb is 4/);
  });

  it('refuses a component whose table starts over maxTableEntries, naming the table and the limit', async () => {
    const big = await tableBombComponent({ initialEntries: 100_001 });
    const err = await loadError(pool.load(spec('big-table', big)));
    expect(err.message).toMatch(
      /^source 'big-table': refused: [\w.]+\.wasm: table 0 starts with 100001 entries, over the 100000 allowed \(maxTableEntries\)$/,
    );
    // a module with more tables than a module may have (17) is refused too, naming the count
    const many = await tableBombComponent({ extraTables: 16 });
    const tooMany = await loadError(pool.load(spec('many-tables', many)));
    expect(tooMany.message).toMatch(/refused: [\w.]+\.wasm: the module has 17 tables, over the 16 a module may have$/);
    expect(pool.loaded()).toEqual(['good']);
    expect(await pool.call('good', 'list', ['popular'])).toMatchObject({ items: [{ title: 'listing popular' }] });
    expect(() => newPool({ maxTableEntries: 0 })).toThrow(
      'RunnerOptions.maxTableEntries must be a positive integer, got 0',
    );
    // the same components are within a runner's limit when the operator raises it
    const roomy = newPool({ maxTableEntries: 200_000 });
    try {
      await roomy.load(spec('big-table', big));
      expect(roomy.loaded()).toEqual(['big-table']);
    } finally {
      await roomy.close();
    }
  });

  it('holds the caps per component: a second memory or too many tables across core modules is refused', async () => {
    const twoMemories = await coreModulesComponent(['(memory 1) (func (export "f"))', '(memory 1)']);
    expect((await loadError(pool.load(spec('two-memories', twoMemories)))).message).toBe(
      "source 'two-memories': refused: the component's core modules define 2 memories (component.core.wasm: 1, component.core2.wasm: 1); a component may define one, which limits.memoryMb caps",
    );
    // 12 tables a module is under the 16 a module may have, but 36 in all is over the component's 32
    const tables = Array.from({ length: 12 }, () => '(table 1 funcref)').join(' ');
    const manyTables = await coreModulesComponent([`${tables} (func (export "f"))`, tables, tables]);
    expect((await loadError(pool.load(spec('many-tables', manyTables)))).message).toBe(
      "source 'many-tables': refused: the component's core modules define 36 tables, over the 32 a component may have",
    );
    // one memory over several modules loads
    const oneMemory = await coreModulesComponent(['(memory 1) (func (export "f"))', '(func)']);
    await pool.load(spec('one-memory', oneMemory));
    expect(pool.loaded()).toEqual(['good', 'one-memory']);
    await pool.unload('one-memory');
    expect(await pool.call('good', 'list', ['popular'])).toMatchObject({ items: [{ title: 'listing popular' }] });
  });

  it('refuses a host pattern it cannot parse, naming it', async () => {
    const err = await loadError(pool.load(spec('bad-host', fetcher, { allowedHosts: ['https://example.com/path'] })));
    expect(err.message).toContain("allowed host 'https://example.com/path'");
  });

  it('refuses bytes that are not a component', async () => {
    const bytes = new TextEncoder().encode('not wasm at all');
    const err = await loadError(pool.load({ ...spec('junk', fetcher), component: bytes, digest: sha256Hex(bytes) }));
    expect(err.message).toMatch(/not a WebAssembly component/);
    expect(pool.loaded()).toEqual(['good']);
  });
});
