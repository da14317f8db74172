import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentEmbed, componentNew, parse, transpile } from '@bytecodealliance/jco';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { splitDataSegments } from './engine-split.js';
import {
  capHandleTables,
  capLifts,
  DigestMismatchError,
  EngineDamagedError,
  MAX_HANDLES_PER_RESOURCE_TYPE,
  refuseUnknownHandles,
  type SplitCoreModule,
  sha256Hex,
  TranspileCache,
  type TranspiledComponent,
  type TranspileFn,
} from './transpile-cache.js';
import { applySegments, ENGINE_MEMORY_FIELD, ENGINE_MEMORY_MODULE } from './worker/engine-data.mjs';

/** A small real component: a generated core module behind a one-function world. */
async function tinyComponent(name: string): Promise<Uint8Array> {
  const witSource = `package test:${name};
interface api { add: func(a: u32, b: u32) -> u32; }
world w { export api; }`;
  return componentNew(await componentEmbed({ witSource, dummy: true, world: 'w' }), undefined);
}

let dir: string;
let calls: number;
const counting: TranspileFn = async (bytes) => {
  calls++;
  return transpile(bytes, { name: 'component', instantiation: 'async', noTypescript: true, base64Cutoff: 0 });
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'awasm-transpile-'));
  calls = 0;
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('TranspileCache', () => {
  it('transpiles once and serves later loads, also from a new cache instance, from disk', async () => {
    const bytes = await tinyComponent('once');
    const digest = sha256Hex(bytes);
    const first = await new TranspileCache(dir, { transpile: counting }).get(digest, bytes);
    expect(first.hit).toBe(false);
    expect(calls).toBe(1);
    expect(first.entry.dir).toBe(join(dir, digest));
    expect((await readdir(first.entry.dir)).sort()).toEqual([
      'component.core.wasm',
      'component.core2.wasm',
      'component.mjs',
      'meta.json',
    ]);
    expect([...first.entry.coreModules.keys()].sort()).toEqual(['component.core.wasm', 'component.core2.wasm']);
    expect(first.entry.exports).toContain('test:once/api');

    const again = await new TranspileCache(dir, { transpile: counting }).get(digest, bytes);
    expect(again.hit).toBe(true);
    expect(calls).toBe(1);
    expect(again.entry.coreModules).toEqual(first.entry.coreModules);

    // the glue loads and the component runs
    const glue = await import(again.entry.componentUrl);
    const instance = await glue.instantiate(
      (name: string) => WebAssembly.compile(again.entry.coreModules.get(name) as Uint8Array),
      {},
    );
    expect(typeof instance.api.add).toBe('function');
  });

  it('checks the sha256 before doing anything', async () => {
    const bytes = await tinyComponent('digest');
    const cache = new TranspileCache(dir, { transpile: counting });
    const wrong = sha256Hex(new Uint8Array([1, 2, 3]));
    await expect(cache.get(wrong, bytes)).rejects.toBeInstanceOf(DigestMismatchError);
    await expect(cache.get(wrong, bytes)).rejects.toThrow(
      `component bytes have sha256 ${sha256Hex(bytes)}, expected ${wrong}`,
    );
    await expect(cache.get('ABC', bytes)).rejects.toThrow(/not a lowercase sha256/);
    expect(calls).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });

  it('does not serve another component from an entry planted under its digest', async () => {
    const a = await tinyComponent('planted-a');
    const b = await tinyComponent('planted-b');
    const cache = new TranspileCache(dir, { transpile: counting });
    const built = await cache.get(sha256Hex(a), a);
    // b's bytes under a's digest never get as far as the cache
    await expect(cache.get(sha256Hex(a), b)).rejects.toBeInstanceOf(DigestMismatchError);
    expect((await cache.get(sha256Hex(a), a)).entry.componentUrl).toBe(built.entry.componentUrl);
    expect(calls).toBe(1);
  });

  it('rebuilds an entry whose files were changed or removed', async () => {
    const bytes = await tinyComponent('damaged');
    const digest = sha256Hex(bytes);
    const cache = new TranspileCache(dir, { transpile: counting });
    const { entry } = await cache.get(digest, bytes);
    const glue = fileURLToPath(entry.componentUrl);
    await writeFile(glue, `${await readFile(glue, 'utf8')}\nglobalThis.pwned = true;\n`);
    const rebuilt = await cache.get(digest, bytes);
    expect(rebuilt.hit).toBe(false);
    expect(calls).toBe(2);
    expect(await readFile(glue, 'utf8')).not.toContain('pwned');

    await rm(join(entry.dir, 'component.core.wasm'));
    expect((await cache.get(digest, bytes)).hit).toBe(false);
    await writeFile(join(entry.dir, 'meta.json'), '{ not json');
    expect((await cache.get(digest, bytes)).hit).toBe(false);
    expect(calls).toBe(4);
  });

  it('hands out prepared core modules only from an entry whose hashes match', async () => {
    const bytes = await tinyComponent('prepared');
    const digest = sha256Hex(bytes);
    const cache = new TranspileCache(dir, { transpile: counting });
    const { entry } = await cache.get(digest, bytes);
    const meta = JSON.parse(await readFile(join(entry.dir, 'meta.json'), 'utf8')) as { files: Record<string, string> };
    const seen: string[] = [];
    const prepare = async (name: string, content: Uint8Array) => {
      seen.push(`${name}:${sha256Hex(content)}`);
      return sha256Hex(content);
    };

    const hit = await cache.get(digest, bytes, prepare);
    expect(hit.hit).toBe(true);
    const wasmHashes = Object.entries(meta.files).filter(([name]) => name.endsWith('.wasm'));
    expect(wasmHashes.length).toBeGreaterThan(0);
    expect([...(hit.prepared ?? new Map())].sort()).toEqual(wasmHashes.sort());

    // a damaged core module is prepared while its hash is checked, but what comes back is the rebuilt one's
    const core = join(entry.dir, 'component.core.wasm');
    const damaged = new Uint8Array(await readFile(core));
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0xff;
    await writeFile(core, damaged);
    const rebuilt = await cache.get(digest, bytes, prepare);
    expect(rebuilt.hit).toBe(false);
    expect(seen).toContain(`component.core.wasm:${sha256Hex(damaged)}`);
    expect(rebuilt.prepared?.get('component.core.wasm')).toBe(meta.files['component.core.wasm']);

    // and nothing is prepared for bytes that are not the component asked for
    seen.length = 0;
    await expect(cache.get(digest, new Uint8Array([1, 2, 3]), prepare)).rejects.toBeInstanceOf(DigestMismatchError);
  });

  it('transpiles concurrent loads of one component once', async () => {
    const bytes = await tinyComponent('concurrent');
    const digest = sha256Hex(bytes);
    const cache = new TranspileCache(dir, { transpile: counting });
    const results = await Promise.all([cache.get(digest, bytes), cache.get(digest, bytes), cache.get(digest, bytes)]);
    expect(calls).toBe(1);
    expect(new Set(results.map((r) => r.entry.componentUrl)).size).toBe(1);
    expect((await readdir(dir)).filter((n) => n.startsWith('.tmp'))).toEqual([]);
  });

  it('keeps glue without per-call async task bookkeeping (the lean transpiler), unlike the newer jco', async () => {
    const bytes = await tinyComponent('glue');
    const { entry } = await new TranspileCache(dir).get(sha256Hex(bytes), bytes);
    const lean = await readFile(join(entry.dir, 'component.mjs'), 'utf8');
    expect(lean).toMatch(/export async function instantiate|export function instantiate/);
    const newer = (await counting(bytes)).files['component.js'];
    const heavy = new TextDecoder().decode(newer);
    // the marker must be in the newer glue for this test to mean anything
    for (const marker of ['createNewCurrentTask', '_debugLog']) {
      expect(heavy).toContain(marker);
      expect(lean).not.toContain(marker);
    }
  });

  it('caps the glue handle tables, and refuses glue whose handle helper changed shape', async () => {
    const bytes = await tinyComponent('glue');
    const glue = new TextDecoder().decode((await counting(bytes)).files['component.js']);
    // jco 1.35's glue for the same component: the runner's jco 1.11 glue is covered by the sandbox
    // tests (test/security/resources.test.ts floods a real instance's handle table)
    if (glue.includes('rscTableCreateOwn')) {
      expect(capHandleTables(glue)).toContain(`if (table.length >> 1 > ${MAX_HANDLES_PER_RESOURCE_TYPE}) throw`);
    }
    const helper = `  function rscTableCreateOwn (table, rep) {
    const free = table[0] & ~T_FLAG;
    if (free === 0) {
      table.push(0);
      table.push(rep | T_FLAG);
      return (table.length >> 1) - 1;
    }
  }`;
    const capped = capHandleTables(`const T_FLAG = 1 << 30;\n${helper}\nexport { rscTableCreateOwn };`, 2);
    const make = new Function(`${capped.replace('export { rscTableCreateOwn };', '')}; return rscTableCreateOwn;`)();
    const table = [1 << 30, 0]; // as jco makes them: slot 0 is the free list
    expect([make(table, 1), make(table, 2)]).toEqual([1, 2]);
    expect(() => make(table, 3)).toThrow('the plugin holds more than 2 handles of one resource type');
    expect(capHandleTables('no resources here')).toBe('no resources here');
    expect(() => capHandleTables(helper.replace('table.push(0);', 'table.push(0, 0);'))).toThrow(
      'the glue has no single rscTableCreateOwn helper of the expected shape to cap',
    );
  });

  it('caps the strings and lists the glue lifts, and counts what one call lifts before copying it', async () => {
    const { instantiate, taken } = await liftComponent();
    const { api } = await instantiate;
    // 8 entries all pointing at one 3 MiB buffer: 24 MiB to copy, refused before the first copy past 16 MiB
    expect(api.run(2, 3 * 1024 * 1024)).toBe(2);
    expect(taken).toEqual([2 * 3 * 1024 * 1024]);
    expect(() => api.run(8, 3 * 1024 * 1024)).toThrow(/^the plugin passed \d+ bytes in one call, over 16777216$/);
    expect(taken).toHaveLength(1);
    // the count starts again at every call: the same two entries still pass
    expect(api.run(2, 3 * 1024 * 1024)).toBe(2);
    // an export's result: 1,000 aliases of one 1 MiB string are refused, 10 are lifted
    expect(api.give(10, 1024 * 1024)).toHaveLength(10);
    expect(() => api.give(1000, 1024 * 1024)).toThrow('the plugin returned a result of more than 16777216 bytes');
    // empty strings cost their overhead: a list of 500,000 is over the budget as well
    expect(() => api.give(500_000, 0)).toThrow('the plugin returned a result of more than 16777216 bytes');
    expect(api.give(1000, 0)).toHaveLength(1000);
    expect(() => api.give(600_000, 0)).toThrow('the plugin passed a list of 600000 elements, over 500000');
    expect(() => api.give(1, 5 * 1024 * 1024)).toThrow('the plugin passed a string of 5242880 bytes, over 4194304');
  });

  it('refuses glue it cannot count: another decoder, list shape, copy or a lift outside a crossing', () => {
    const trampoline = `  const utf8Decoder = new TextDecoder();
    function trampoline1(arg0, arg1) {
      var ptr0 = arg0;
      var len0 = arg1;
      var result0 = utf8Decoder.decode(new Uint8Array(memory0.buffer, ptr0, len0));
    }`;
    expect(capLifts(trampoline)).toContain('__awasmLifted = 0;');
    expect(() => capLifts(trampoline.replace('const utf8Decoder', 'const otherDecoder'))).toThrow(
      'the glue makes a text decoder this cannot cap',
    );
    expect(() => capLifts(trampoline.replace('function trampoline1', 'function helper'))).toThrow(
      /the glue lifts from guest memory where the per-call count does not start/,
    );
    expect(() =>
      capLifts(`${trampoline}\nvar x = new Uint8Array(memory0.buffer.slice(ptr0, ptr0 + len0 * 1 + 1));`),
    ).toThrow('the glue copies guest memory in a shape this cannot count');
    expect(() => capLifts(`${trampoline}\nvar result1 = [];\nfor (let i = 0; i < len1; i++) {\n}`)).toThrow(
      'the glue lifts a list in a shape this cannot count',
    );
  });

  it('traps on a handle that names no resource the host made, naming the resource', () => {
    const glue = `class Fields { get() { return 'answered'; } }
const captureTable4 = new Map([[7, new Fields()]]);
return (rep) => {
  var rsc0 = captureTable4.get(rep);
  if (!rsc0) {
    rsc0 = Object.create(Fields.prototype);
  }
  return rsc0.get();
};`;
    const borrow = new Function(refuseUnknownHandles(glue))();
    expect(borrow(7)).toBe('answered');
    expect(() => borrow(8)).toThrow('the plugin used an invalid Fields handle (dropped, or never handed to it)');
    // jco renames a class that clashes with a global; the message names the resource
    const renamed = new Function(refuseUnknownHandles(glue.replaceAll('Fields', 'Error$1')))();
    expect(() => renamed(8)).toThrow('the plugin used an invalid Error handle (dropped, or never handed to it)');
    expect(() => refuseUnknownHandles(`${glue}\nconst other = Object.create(null);`)).toThrow(
      'the glue makes resource objects in a way this cannot check',
    );
  });
});

/**
 * A real component whose core module has a memory (1 page, at most 4) and data: `add` returns
 * a + b + `word`, which a data segment puts at 100. With `dataDrop` its code drops that segment,
 * which an engine without the data count section cannot validate.
 */
async function componentWithData(word: number, options: { dataDrop?: boolean } = {}): Promise<Uint8Array> {
  const witSource = `package test:split;
interface api { add: func(a: u32, b: u32) -> u32; }
world w { export api; }`;
  const hex = [0, 8, 16, 24].map((shift) => `\\${((word >>> shift) & 0xff).toString(16).padStart(2, '0')}`).join('');
  const core = (await (parse(`(module
    (memory (export "memory") 1 4)
    (data $word (i32.const 100) "${hex}")
    (data (i32.const 65532) "\\01\\02\\03\\04")
    (func (export "test:split/api#add") (param i32 i32) (result i32)
      ${options.dataDrop ? '(data.drop $word)' : ''}
      (i32.add (i32.add (local.get 0) (local.get 1)) (i32.load (i32.const 100))))
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) unreachable))`) as unknown as Promise<Uint8Array>)) as Uint8Array;
  return componentNew(await componentEmbed({ binary: core, witSource, world: 'w' }), undefined);
}

/** The core module jco makes of `bytes`, before the cache does anything to it. */
async function wholeCore(bytes: Uint8Array): Promise<Uint8Array> {
  const out = await transpile(bytes, {
    name: 'component',
    instantiation: 'async',
    noTypescript: true,
    base64Cutoff: 0,
  });
  return out.files['component.core.wasm'] as Uint8Array;
}

/**
 * Loads an entry's glue and instantiates it, each split module as worker.mjs does (a memory of its
 * limits, the engine on it, then its data). Each name gets a Module of its own, so two names that
 * share an engine are told apart.
 */
async function instantiateEntry(
  cache: TranspileCache,
  entry: TranspiledComponent,
): Promise<Record<string, Record<string, (...args: number[]) => number>>> {
  const engines = new Map<WebAssembly.Module, SplitCoreModule>();
  const glue = await import(entry.componentUrl);
  return glue.instantiate(
    async (name: string) => {
      const whole = entry.coreModules.get(name);
      if (whole) return WebAssembly.compile(whole);
      const split = entry.splitModules.get(name);
      if (!split) throw new Error(`the component asked for an unknown core module ${name}`);
      const engine = await WebAssembly.compile(await cache.engineBytes(split.engineDigest));
      engines.set(engine, split);
      return engine;
    },
    {},
    async (module: WebAssembly.Module, imports: WebAssembly.Imports) => {
      const split = engines.get(module);
      if (!split) return WebAssembly.instantiate(module, imports);
      const memory = new WebAssembly.Memory({ initial: split.initialPages, maximum: split.maximumPages });
      const made = await WebAssembly.instantiate(module, {
        ...imports,
        [ENGINE_MEMORY_MODULE]: { [ENGINE_MEMORY_FIELD]: memory },
      });
      applySegments(memory.buffer, split.data);
      return made;
    },
  );
}

async function runAdd(cache: TranspileCache, entry: TranspiledComponent, a: number, b: number): Promise<number> {
  const instance = await instantiateEntry(cache, entry);
  return (instance.api as Record<string, (...args: number[]) => number>).add?.(a, b) as number;
}

function splitOf(entry: TranspiledComponent, name = 'component.core.wasm'): SplitCoreModule {
  const split = entry.splitModules.get(name);
  if (!split) throw new Error(`${name} was not split`);
  return split;
}

describe('TranspileCache, core modules kept as a shared engine plus their data', () => {
  it('splits a core module of at least splitAt bytes, and the split module runs as the whole one did', async () => {
    const bytes = await componentWithData(7);
    const whole = await wholeCore(bytes);
    const expected = splitDataSegments(whole);
    if ('refused' in expected) throw new Error(`refused: ${expected.refused}`);
    const cache = new TranspileCache(dir, { transpile: counting, splitAt: 0 });
    const { entry, hit } = await cache.get(sha256Hex(bytes), bytes);
    expect(hit).toBe(false);
    expect(calls).toBe(1);

    expect([...entry.splitModules.keys()]).toEqual(['component.core.wasm']);
    expect(entry.coreModules.has('component.core.wasm')).toBe(false);
    expect((await readdir(entry.dir)).sort()).toEqual(['component.core.wasm.data', 'component.mjs', 'meta.json']);
    const split = splitOf(entry);
    expect(split).toMatchObject({ initialPages: 1, maximumPages: 4 });
    expect(Buffer.from(split.data).equals(expected.data)).toBe(true);

    // the engine is under <dir>/engines/, named by its sha256
    expect(cache.enginePath(split.engineDigest)).toBe(join(dir, 'engines', `${split.engineDigest}.wasm`));
    expect(await readdir(join(dir, 'engines'))).toEqual([`${split.engineDigest}.wasm`]);
    const onDisk = await readFile(cache.enginePath(split.engineDigest));
    expect(sha256Hex(onDisk)).toBe(split.engineDigest);
    expect(onDisk.equals(expected.engine)).toBe(true);
    expect(Buffer.from(await cache.engineBytes(split.engineDigest)).equals(onDisk)).toBe(true);

    // the data round-trips: written into a memory, it is what the segments said
    const memory = new ArrayBuffer(split.initialPages * 65_536);
    applySegments(memory, split.data);
    expect([...new Uint8Array(memory, 100, 4)]).toEqual([7, 0, 0, 0]);
    expect([...new Uint8Array(memory, 65_532, 4)]).toEqual([1, 2, 3, 4]);

    expect(await runAdd(cache, entry, 2, 3)).toBe(12);

    // another component with the same code and other data shares the engine
    const other = await componentWithData(1000);
    const second = await cache.get(sha256Hex(other), other);
    expect(calls).toBe(2);
    expect(splitOf(second.entry).engineDigest).toBe(split.engineDigest);
    expect(Buffer.from(splitOf(second.entry).data).equals(split.data)).toBe(false);
    expect(await readdir(join(dir, 'engines'))).toEqual([`${split.engineDigest}.wasm`]);
    expect(await runAdd(cache, second.entry, 2, 3)).toBe(1005);
  });

  it("runs a split module through the runner's own glue (the default transpiler)", async () => {
    const bytes = await componentWithData(40);
    const cache = new TranspileCache(dir, { splitAt: 0 });
    const { entry } = await cache.get(sha256Hex(bytes), bytes);
    expect([...entry.splitModules.keys()]).toEqual(['component.core.wasm']);
    expect(await runAdd(cache, entry, 1, 1)).toBe(42);
  });

  it('splits only the first of two core modules of one component that share an engine', async () => {
    // two core modules, unnamed (a name would be in each one's name section), each reading its own word
    const core = (word: number) => `(core module
      (memory (export "memory") 1)
      (data (i32.const 100) "\\${word.toString(16).padStart(2, '0')}\\00\\00\\00")
      (func (export "get") (result i32) (i32.load (i32.const 100))))`;
    const bytes = (await (parse(`(component
      ${core(7)}
      ${core(9)}
      (core instance $a (instantiate 0))
      (core instance $b (instantiate 1))
      (type $f (func (result u32)))
      (func $first (type $f) (canon lift (core func $a "get")))
      (func $second (type $f) (canon lift (core func $b "get")))
      (export "first" (func $first))
      (export "second" (func $second)))`) as unknown as Promise<Uint8Array>)) as Uint8Array;
    const cache = new TranspileCache(dir, { splitAt: 0 });
    const { entry } = await cache.get(sha256Hex(bytes), bytes);
    // the worker tells split modules apart by their compiled engine, so a second one is kept whole
    expect([...entry.splitModules.keys()]).toEqual(['component.core.wasm']);
    expect(entry.coreModules.has('component.core2.wasm')).toBe(true);
    const first = splitOf(entry, 'component.core.wasm');
    expect(await readdir(join(dir, 'engines'))).toEqual([`${first.engineDigest}.wasm`]);
    const instance = (await instantiateEntry(cache, entry)) as unknown as Record<string, () => number>;
    expect([instance.first?.(), instance.second?.()]).toEqual([7, 9]);
  });

  it('serves a split entry from disk to a new cache instance, whatever its own splitAt', async () => {
    const bytes = await componentWithData(7);
    const digest = sha256Hex(bytes);
    const first = await new TranspileCache(dir, { transpile: counting, splitAt: 0 }).get(digest, bytes);
    const cache = new TranspileCache(dir, { transpile: counting });
    const seen: string[] = [];
    const again = await cache.get(digest, bytes, async (name) => {
      seen.push(name);
      return name;
    });
    expect(again.hit).toBe(true);
    expect(calls).toBe(1);
    expect(cache.transpiles).toBe(0);
    expect(again.entry.splitModules).toEqual(first.entry.splitModules);
    expect(again.entry.coreModules).toEqual(first.entry.coreModules);
    // the engine is compiled from engineBytes; neither it nor the data is handed to prepare
    expect(seen).toEqual([]);
    expect(await runAdd(cache, again.entry, 20, 22)).toBe(49);
  });

  /** A component with data, transpiled with its core module split, and its engine file as written. */
  async function splitEntry() {
    const bytes = await componentWithData(7);
    const digest = sha256Hex(bytes);
    const cache = new TranspileCache(dir, { transpile: counting, splitAt: 0 });
    const { entry } = await cache.get(digest, bytes);
    const { engineDigest } = splitOf(entry);
    const enginePath = cache.enginePath(engineDigest);
    return { bytes, digest, cache, entry, engineDigest, enginePath, engine: await readFile(enginePath) };
  }

  it('rebuilds an entry whose engine file or data file is gone, and writes the engine again', async () => {
    const { bytes, digest, cache, entry, engineDigest, enginePath, engine } = await splitEntry();

    await rm(enginePath);
    const rebuilt = await cache.get(digest, bytes);
    expect(rebuilt.hit).toBe(false);
    expect(calls).toBe(2);
    expect(splitOf(rebuilt.entry).engineDigest).toBe(engineDigest);
    expect((await readFile(enginePath)).equals(engine)).toBe(true);
    expect((await cache.get(digest, bytes)).hit).toBe(true);

    await rm(join(entry.dir, 'component.core.wasm.data'));
    expect((await cache.get(digest, bytes)).hit).toBe(false);
    expect(calls).toBe(3);
    expect(await runAdd(cache, rebuilt.entry, 1, 1)).toBe(9);
  });

  it('throws EngineDamagedError for a damaged engine file and removes it; the next get rebuilds it', async () => {
    const { bytes, digest, cache, engineDigest, enginePath, engine } = await splitEntry();
    const damaged = Uint8Array.from(engine);
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0xff;
    await writeFile(enginePath, damaged);

    const err = await cache.engineBytes(engineDigest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineDamagedError);
    expect((err as EngineDamagedError).engineDigest).toBe(engineDigest);
    expect((err as Error).message).toBe(`the cached engine ${engineDigest} did not match its hash and was removed`);
    expect(existsSync(enginePath)).toBe(false);
    await expect(cache.engineBytes(engineDigest)).rejects.toThrow(`the cached engine ${engineDigest} is missing`);
    await expect(cache.engineBytes('../../etc/passwd')).rejects.toThrow(EngineDamagedError);
    await expect(cache.engineBytes('../../etc/passwd')).rejects.toThrow('is not named by a sha256');

    const rebuilt = await cache.get(digest, bytes);
    expect(rebuilt.hit).toBe(false);
    expect(calls).toBe(2);
    expect(Buffer.from(await cache.engineBytes(engineDigest)).equals(engine)).toBe(true);
  });

  it('forgets an entry: the next get transpiles again', async () => {
    const bytes = await componentWithData(7);
    const digest = sha256Hex(bytes);
    const cache = new TranspileCache(dir, { transpile: counting, splitAt: 0 });
    const { entry } = await cache.get(digest, bytes);
    expect((await cache.get(digest, bytes)).hit).toBe(true);
    await cache.forget(digest);
    expect(existsSync(entry.dir)).toBe(false);
    // the engine may be shared with other entries: it stays
    expect(existsSync(cache.enginePath(splitOf(entry).engineDigest))).toBe(true);
    const again = await cache.get(digest, bytes);
    expect(again.hit).toBe(false);
    expect(calls).toBe(2);
    expect(again.entry.splitModules).toEqual(entry.splitModules);
    await expect(cache.forget('../outside')).rejects.toThrow('is not a lowercase sha256 hex string');
  });

  it('keeps a core module smaller than splitAt (by default 1 MiB) whole', async () => {
    const bytes = await componentWithData(7);
    const digest = sha256Hex(bytes);
    const size = (await wholeCore(bytes)).length;
    const byDefault = await new TranspileCache(dir, { transpile: counting }).get(digest, bytes);
    expect(byDefault.entry.splitModules.size).toBe(0);
    expect(byDefault.entry.coreModules.get('component.core.wasm')?.length).toBe(size);
    expect(existsSync(join(dir, 'engines'))).toBe(false);

    await mkdir(join(dir, 'at'));
    await mkdir(join(dir, 'above'));
    const at = await new TranspileCache(join(dir, 'at'), { transpile: counting, splitAt: size }).get(digest, bytes);
    expect([...at.entry.splitModules.keys()]).toEqual(['component.core.wasm']);
    const above = await new TranspileCache(join(dir, 'above'), { transpile: counting, splitAt: size + 1 }).get(
      digest,
      bytes,
    );
    expect(above.entry.splitModules.size).toBe(0);
    expect([...above.entry.coreModules.keys()]).toEqual(['component.core.wasm']);
  });

  it('keeps whole the core modules that cannot be split (no data, a start function)', async () => {
    const bytes = await tinyComponent('unsplittable');
    const { entry } = await new TranspileCache(dir, { transpile: counting, splitAt: 0 }).get(sha256Hex(bytes), bytes);
    expect(entry.splitModules.size).toBe(0);
    expect([...entry.coreModules.keys()].sort()).toEqual(['component.core.wasm', 'component.core2.wasm']);
  });

  it('keeps whole a core module whose engine would not validate (its code uses data.drop)', async () => {
    const bytes = await componentWithData(7, { dataDrop: true });
    const whole = await wholeCore(bytes);
    const parts = splitDataSegments(whole);
    // splitDataSegments does split it: only the validation keeps it whole
    if ('refused' in parts) throw new Error(`refused: ${parts.refused}`);
    expect(WebAssembly.validate(parts.engine)).toBe(false);

    const cache = new TranspileCache(dir, { transpile: counting, splitAt: 0 });
    const { entry } = await cache.get(sha256Hex(bytes), bytes);
    expect(entry.splitModules.size).toBe(0);
    expect(Buffer.from(entry.coreModules.get('component.core.wasm') ?? []).equals(whole)).toBe(true);
    expect(existsSync(join(dir, 'engines')) ? await readdir(join(dir, 'engines')) : []).toEqual([]);
    expect(await runAdd(cache, entry, 2, 3)).toBe(12);
  });
});

/**
 * A component (a core module in WAT, glue from the runner's jco with the runner's patches) whose
 * `run(n, size)` passes the host n byte lists that all alias one buffer of `size` bytes, and whose
 * `give(n, size)` returns n strings that all alias one string of `size` bytes.
 */
async function liftComponent() {
  const witSource = `package test:lift;
interface host { take: func(values: list<list<u8>>) -> u32; }
interface api { run: func(n: u32, size: u32) -> u32; give: func(n: u32, size: u32) -> list<string>; }
world w { import host; export api; }`;
  const wat = `(module
  (import "test:lift/host" "take" (func $take (param i32 i32) (result i32)))
  (memory (export "memory") 96)
  ;; n (ptr, len) pairs at 64, all pointing at the same bytes at 1 MiB
  (func $aliases (param $n i32) (param $size i32)
    (local $i i32)
    (block $done (loop $more
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store (i32.add (i32.const 64) (i32.mul (local.get $i) (i32.const 8))) (i32.const 1048576))
      (i32.store (i32.add (i32.const 68) (i32.mul (local.get $i) (i32.const 8))) (local.get $size))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $more))))
  (func (export "test:lift/api#run") (param $n i32) (param $size i32) (result i32)
    (call $aliases (local.get $n) (local.get $size))
    (call $take (i32.const 64) (local.get $n)))
  (func (export "test:lift/api#give") (param $n i32) (param $size i32) (result i32)
    (call $aliases (local.get $n) (local.get $size))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (local.get $n))
    (i32.const 0))
  (func (export "cabi_post_test:lift/api#give") (param i32))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0)))`;
  const core = await parse(wat);
  const bytes = await componentNew(await componentEmbed({ binary: core, witSource, world: 'w' }), undefined);
  const { entry } = await new TranspileCache(dir).get(sha256Hex(bytes), bytes);
  const glue = await import(entry.componentUrl);
  const taken: number[] = [];
  const take = (values: Uint8Array[]) => {
    taken.push(values.reduce((sum, v) => sum + v.byteLength, 0));
    return values.length;
  };
  const instantiate = glue.instantiate(
    (name: string) => WebAssembly.compile(entry.coreModules.get(name) as Uint8Array),
    { 'test:lift/host': { take } },
  ) as Promise<{ api: { run(n: number, size: number): number; give(n: number, size: number): string[] } }>;
  return { instantiate, taken };
}
