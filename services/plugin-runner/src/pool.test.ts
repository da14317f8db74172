import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginCallError, PluginLoadError } from '@awasm/runner-api';
import { componentEmbed, componentNew } from '@bytecodealliance/jco';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunnerPool, type SourceSpec } from './pool.js';
import { sha256Hex } from './transpile-cache.js';

// Components generated from WIT by wasm-tools (a "dummy" core module whose functions trap): they
// load in milliseconds, so the pool's bookkeeping is tested here and real plugins in test/security.

const witDir = fileURLToPath(new URL('../../../wit', import.meta.url));
let cacheDir: string;
let source: Uint8Array;
let sockets: Uint8Array;
let noExport: Uint8Array;

async function fromWitSource(witSource: string, world: string): Promise<Uint8Array> {
  return componentNew(await componentEmbed({ witSource, dummy: true, world }), undefined);
}

function spec(id: string, component: Uint8Array, overrides: Partial<SourceSpec> = {}): SourceSpec {
  return {
    id,
    digest: sha256Hex(component),
    component,
    allowedHosts: ['https://example.com'],
    limits: { memoryMb: 16, callTimeoutMs: 5000, maxResponseBytes: 1024, maxConcurrency: 1 },
    settings: {},
    ...overrides,
  };
}

async function rejection<T extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  const err = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  return err as T;
}

beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'awasm-pool-'));
  const filesystem = (await import('@bytecodealliance/preview2-shim/filesystem')) as unknown as {
    _setPreopens(preopens: Record<string, string>): void;
  };
  filesystem._setPreopens({ [witDir]: witDir });
  source = await componentNew(await componentEmbed({ witPath: witDir, dummy: true, world: 'source' }), undefined);
  sockets = await fromWitSource(
    `package test:sockets;
package wasi:sockets@0.2.10 {
  interface tcp { connect: func(port: u16) -> u32; }
}
world w {
  import wasi:sockets/tcp@0.2.10;
  export run: func() -> u32;
}`,
    'w',
  );
  noExport = await fromWitSource(
    'package test:other;\ninterface api { f: func() -> u32; }\nworld w { export api; }',
    'w',
  );
});

afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

describe('RunnerPool.load', () => {
  it('refuses an import the host does not provide, naming it, before transpiling anything', async () => {
    const pool = new RunnerPool({ cacheDir });
    const err = await rejection(pool.load(spec('sock', sockets)), PluginLoadError);
    expect(err.message).toBe(
      "source 'sock': refused: the component imports 'wasi:sockets/tcp@0.2.10', which the host does not provide",
    );
    expect(await readdir(cacheDir).catch(() => [])).not.toContain(sha256Hex(sockets));
    expect(pool.loaded()).toEqual([]);
  });

  it('refuses a component that does not export the source API', async () => {
    const pool = new RunnerPool({ cacheDir });
    const err = await rejection(pool.load(spec('other', noExport)), PluginLoadError);
    expect(err.message).toMatch(/does not export awasm:source\/source-api/);
  });

  it('names what is wrong with a spec', async () => {
    const pool = new RunnerPool({ cacheDir });
    const cases: Array<[Partial<SourceSpec>, RegExp]> = [
      [{ id: '../etc' }, /id must be/],
      [{ digest: 'xyz' }, /digest must be a lowercase sha256/],
      [
        { limits: { memoryMb: 0, callTimeoutMs: 1, maxResponseBytes: 1, maxConcurrency: 1 } },
        /limits.memoryMb must be an integer/,
      ],
      [
        { limits: { memoryMb: 16, callTimeoutMs: 1.5, maxResponseBytes: 1, maxConcurrency: 1 } },
        /limits.callTimeoutMs/,
      ],
      [{ allowedHosts: ['example.com'] }, /allowed host 'example.com' is not of the form/],
      [{ settings: { a: 1 as unknown as string } }, /setting 'a' must be a string/],
      [{ digest: sha256Hex(new Uint8Array(1)) }, /component bytes have sha256/],
    ];
    for (const [overrides, message] of cases) {
      const err = await rejection(pool.load(spec('s', source, overrides)), PluginLoadError);
      expect(err.message).toMatch(message);
    }
    expect(pool.loaded()).toEqual([]);
  });

  it('loads from the transpile cache the second time', async () => {
    const first = new RunnerPool({ cacheDir });
    await first.load(spec('a', source));
    const cold = first.loadInfo('a');
    await first.close();
    const second = new RunnerPool({ cacheDir });
    await second.load(spec('a', source));
    expect(cold?.cacheHit).toBe(false);
    expect(second.loadInfo('a')?.cacheHit).toBe(true);
    expect(await readdir(join(cacheDir, sha256Hex(source)))).toContain('component.mjs');
    await second.close();
  });

  it('rebuilds a cached entry whose core module was damaged, and loads', async () => {
    const first = new RunnerPool({ cacheDir });
    await first.load(spec('a', source));
    await first.close();
    // not even a wasm module any more: capping it fails while its hash is being checked
    await writeFile(join(cacheDir, sha256Hex(source), 'component.core.wasm'), 'damaged');
    const second = new RunnerPool({ cacheDir });
    try {
      await second.load(spec('a', source));
      expect(second.loadInfo('a')?.cacheHit).toBe(false);
      expect(second.loaded()).toEqual(['a']);
    } finally {
      await second.close();
    }
  });
});

describe('RunnerPool spare workers', () => {
  it('keeps booted workers ready, starts instances from them and boots replacements', async () => {
    const pool = new RunnerPool({ cacheDir, spareWorkers: 2 });
    try {
      // counted once booted (their worker.mjs waits for a setup)
      await expect.poll(() => pool.sparesReady(), { timeout: 5000 }).toBe(2);
      await pool.load(spec('spared', source));
      // the load took one; another is booted in its place once the instance is up
      expect(pool.sparesReady()).toBe(1);
      await expect.poll(() => pool.sparesReady(), { timeout: 5000 }).toBe(2);
      // a trap replaces the instance, again from a spare, and that spare is replaced in turn
      await rejection(pool.call('spared', 'filters', []), PluginCallError);
      expect(pool.stats('spared')?.instancesStarted).toBeGreaterThanOrEqual(2);
      for (let i = 0; i < 500 && pool.sparesReady() < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(pool.sparesReady()).toBe(2);
    } finally {
      await pool.close();
    }
    expect(pool.sparesReady()).toBe(0);
  });

  it('boots each instance on demand with no spares, and refuses a bad count', async () => {
    const pool = new RunnerPool({ cacheDir, spareWorkers: 0 });
    try {
      await pool.load(spec('unspared', source));
      expect(pool.sparesReady()).toBe(0);
      expect(pool.loaded()).toEqual(['unspared']);
    } finally {
      await pool.close();
    }
    expect(() => new RunnerPool({ cacheDir, spareWorkers: -1 })).toThrow(/spareWorkers must be a whole number/);
    expect(() => new RunnerPool({ cacheDir, spareWorkers: 1.5 })).toThrow(/spareWorkers/);
  });
});

describe('RunnerPool calls', () => {
  let pool: RunnerPool;

  beforeAll(async () => {
    pool = new RunnerPool({ cacheDir });
    await pool.load(spec('dummy', source));
  });

  afterAll(async () => {
    await pool.close();
  });

  it('fails only the call that traps and replaces the instance', async () => {
    const err = await rejection(pool.call('dummy', 'filters', []), PluginCallError);
    expect(err.kind).toBe('trap');
    expect(err.message).toMatch(/dummy.filters trapped: .*unreachable/);
    const again = await rejection(pool.call('dummy', 'getMedia', ['x']), PluginCallError);
    expect(again.kind).toBe('trap');
    expect(pool.stats('dummy')).toMatchObject({ calls: 2, traps: 2 });
    expect(pool.stats('dummy')?.instancesStarted).toBeGreaterThanOrEqual(3);
  });

  it('refuses bad arguments without reaching the instance', async () => {
    const calls = pool.stats('dummy')?.calls;
    const err = await rejection(pool.call('dummy', 'list', ['everything']), PluginCallError);
    expect(err.kind).toBe('refused');
    expect(err.message).toBe('listing must be one of popular, latest');
    expect(err.code).toBe('REFUSED');
    expect(pool.stats('dummy')?.calls).toBe(calls);
  });

  it('reports unknown sources as not-loaded', async () => {
    const err = await rejection(pool.call('nope', 'filters', []), PluginCallError);
    expect(err.kind).toBe('not-loaded');
    expect(() => pool.setSettings('nope', {})).toThrow(PluginCallError);
  });

  it('replaces a source loaded again under the same id, and fails calls of an unloaded one', async () => {
    await pool.load(spec('twice', source));
    await pool.load(spec('twice', source, { settings: { k: 'v' } }));
    expect(pool.loaded().filter((id) => id === 'twice')).toHaveLength(1);
    const pending = pool.call('twice', 'filters', []);
    await pool.unload('twice');
    const err = await rejection(pending, PluginCallError);
    expect(['not-loaded', 'trap']).toContain(err.kind);
    expect((await rejection(pool.call('twice', 'filters', []), PluginCallError)).kind).toBe('not-loaded');
  });

  it('does not install a load that was unloaded before it finished', async () => {
    const loading = pool.load(spec('raced', source));
    await pool.unload('raced');
    const err = await rejection(loading, PluginLoadError);
    expect(err.message).toMatch(/unloaded or loaded again while loading/);
    expect(pool.loaded()).not.toContain('raced');
  });

  it('refuses loads after close', async () => {
    const closing = new RunnerPool({ cacheDir });
    await closing.close();
    await rejection(closing.load(spec('late', source)), PluginLoadError);
  });
});
