import { parse } from '@bytecodealliance/jco';
import { describe, expect, it } from 'vitest';
import { type EngineSplit, MERGE_GAP_BYTES, mergeSegments, type Segment, splitDataSegments } from './engine-split.js';
import { concat, encodeUleb, sections, WASM_PAGE_BYTES, WasmFormatError } from './wasm-binary.js';
import { applySegments, ENGINE_MEMORY_FIELD, ENGINE_MEMORY_MODULE } from './worker/engine-data.mjs';

async function wat(text: string): Promise<Uint8Array> {
  return parse(text) as unknown as Promise<Uint8Array>;
}

interface Descriptor {
  module?: string;
  name: string;
  kind: string;
}

/** The parts of the JS API the runner's webassembly.d.ts leaves out. */
const js = WebAssembly as unknown as {
  Module: { imports(m: WebAssembly.Module): Descriptor[]; exports(m: WebAssembly.Module): Descriptor[] };
  Global: new (descriptor: { value: 'i32'; mutable?: boolean }, value: number) => object;
  Table: new (descriptor: { element: 'anyfunc'; initial: number }) => object;
};

type Fn = (...args: number[]) => number;

function split(bytes: Uint8Array): EngineSplit {
  const parts = splitDataSegments(bytes);
  if ('refused' in parts) throw new Error(`refused: ${parts.refused}`);
  return parts;
}

/** As worker.mjs instantiateCore does: a memory of the module's limits, the engine on it, then the data. */
async function instantiateSplit(parts: EngineSplit, imports: WebAssembly.Imports) {
  const memory = new WebAssembly.Memory({ initial: parts.initialPages, maximum: parts.maximumPages });
  const instance = await WebAssembly.instantiate(new WebAssembly.Module(parts.engine), {
    ...imports,
    [ENGINE_MEMORY_MODULE]: { [ENGINE_MEMORY_FIELD]: memory },
  });
  applySegments(memory.buffer, parts.data);
  return { instance, memory };
}

const INITIAL_PAGES = 2;
const END = INITIAL_PAGES * WASM_PAGE_BYTES;

/**
 * Imports of every kind but memory (functions on both sides of a global and a table), a table of
 * its own filled by an element segment, and active segments at 0, overlapping, empty, and one that
 * ends exactly where the initial memory does.
 */
function mainModule(memoryLimits: string): string {
  return `(module
  (type $unary (func (param i32) (result i32)))
  (import "env" "double" (func $double (param i32) (result i32)))
  (import "env" "base" (global $base i32))
  (import "env" "table" (table $imported 1 funcref))
  (import "env" "log" (func $log (param i32)))
  (table $t 2 funcref)
  (memory $mem (export "memory") ${memoryLimits})
  (global $calls (mut i32) (i32.const 0))
  (elem (table $t) (i32.const 0) func $readAt $doubledWord)
  (data $head (i32.const 0) "\\01\\02\\03\\04")
  (data (i32.const 1000) "hello")
  (data (i32.const 1002) "LL")
  (data (i32.const 500) "")
  (data $tail (i32.const ${END - 4}) "\\fc\\fd\\fe\\ff")
  (func $readAt (export "readAt") (type $unary) (i32.load8_u (local.get 0)))
  (func $doubledWord (export "doubledWord") (type $unary)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (call $double (i32.load (local.get 0))))
  (func (export "word") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "plusBase") (param i32) (result i32) (i32.add (global.get $base) (i32.load8_u (local.get 0))))
  (func (export "viaTable") (param i32 i32) (result i32)
    (call_indirect $t (type $unary) (local.get 1) (local.get 0)))
  (func (export "logBytes") (param $at i32) (param $n i32) (result i32)
    (local $sum i32)
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $n)))
        (call $log (i32.load8_u (local.get $at)))
        (local.set $sum (i32.add (local.get $sum) (i32.load8_u (local.get $at))))
        (local.set $at (i32.add (local.get $at) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $more)))
    (local.get $sum))
  (func (export "calls") (result i32) (global.get $calls))
  (func (export "store") (param i32 i32) (result i32) (i32.store (local.get 0) (local.get 1)) (i32.const 0))
  (func (export "size") (result i32) (memory.size))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`;
}

function hostImports(logged: number[]): WebAssembly.Imports {
  return {
    env: {
      double: (x: number) => x * 2,
      base: new js.Global({ value: 'i32' }, 1000),
      table: new js.Table({ element: 'anyfunc', initial: 1 }),
      log: (x: number) => {
        logged.push(x);
      },
    },
  };
}

/** The answers of the main module's exports, in order; `call` returns a value or the trap's message. */
function probe(exports: Record<string, unknown>): (number | string)[] {
  const call = (name: string, ...args: number[]) => {
    try {
      return (exports[name] as Fn)(...args);
    } catch (err) {
      return `trap: ${(err as Error).message}`;
    }
  };
  return [
    ...[0, 1, 2, 3, 4, 500, 999, 1000, 1001, 1002, 1003, 1004, 1005, END - 5, END - 4, END - 1].map((at) =>
      call('readAt', at),
    ),
    call('word', 0),
    call('word', END - 4),
    call('word', END - 3),
    call('doubledWord', 0),
    call('plusBase', 1002),
    call('viaTable', 0, 1003),
    call('viaTable', 1, 0),
    call('viaTable', 2, 0),
    call('logBytes', 1000, 5),
    call('calls'),
    call('size'),
  ];
}

function sameBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

describe('splitDataSegments', () => {
  it.each([
    { limits: `${INITIAL_PAGES}`, maximum: undefined },
    { limits: `${INITIAL_PAGES} 5`, maximum: 5 },
  ])('gives an engine that behaves as the whole module (memory $limits)', async ({ limits, maximum }) => {
    const bytes = await wat(mainModule(limits));
    expect(WebAssembly.validate(bytes)).toBe(true);
    const parts = split(bytes);
    expect(parts.initialPages).toBe(INITIAL_PAGES);
    expect(parts.maximumPages).toBe(maximum);
    expect('maximumPages' in parts).toBe(maximum !== undefined);
    expect(WebAssembly.validate(parts.engine)).toBe(true);
    // the engine has the data in no form: no memory, data or data count section
    const ids = sections(parts.engine).map((s) => s.id);
    expect(ids.filter((id) => id === 5 || id === 11 || id === 12)).toEqual([]);
    expect(ids.filter((id) => id === 2)).toEqual([2]);
    // 5 segments (the empty one too)
    expect(new DataView(parts.data.buffer, parts.data.byteOffset).getUint32(0, true)).toBe(5);

    const original = new WebAssembly.Module(bytes);
    const engine = new WebAssembly.Module(parts.engine);
    // the memory import comes last, so nothing imported before it moves
    expect(js.Module.imports(engine)).toEqual([
      ...js.Module.imports(original),
      { module: ENGINE_MEMORY_MODULE, name: ENGINE_MEMORY_FIELD, kind: 'memory' },
    ]);
    expect(js.Module.imports(original).map((i) => i.kind)).toEqual(['function', 'global', 'table', 'function']);
    expect(js.Module.exports(engine)).toEqual(js.Module.exports(original));

    const loggedWhole: number[] = [];
    const whole = await WebAssembly.instantiate(original, hostImports(loggedWhole));
    const loggedSplit: number[] = [];
    const { instance, memory } = await instantiateSplit(parts, hostImports(loggedSplit));
    // the memory the engine exports is the one it was given
    expect(instance.exports.memory).toBe(memory);
    const wholeMemory = whole.exports.memory as WebAssembly.Memory;
    expect(memory.buffer.byteLength).toBe(END);
    expect(sameBytes(memory.buffer, wholeMemory.buffer)).toBe(true);

    const answers = probe(whole.exports);
    expect(probe(instance.exports)).toEqual(answers);
    expect(loggedSplit).toEqual(loggedWhole);
    // and the answers are the data's, not those of an empty memory
    expect(answers.slice(0, 16)).toEqual([1, 2, 3, 4, 0, 0, 0, 104, 101, 76, 76, 111, 0, 0, 0xfc, 0xff]);
    expect(answers.slice(16)).toEqual([
      0x04030201,
      0xfffefdfc | 0,
      expect.stringMatching(/^trap: /),
      0x04030201 * 2,
      1076,
      76,
      0x04030201 * 2,
      expect.stringMatching(/^trap: /),
      468,
      2,
      INITIAL_PAGES,
    ]);
    expect(loggedWhole).toEqual([104, 101, 76, 76, 111]);

    // writes and growth behave the same, up to the maximum if there is one
    for (const exports of [whole.exports, instance.exports]) {
      (exports.store as Fn)(2000, 0x12345678);
      expect((exports.grow as Fn)(3)).toBe(INITIAL_PAGES);
      expect((exports.grow as Fn)(1)).toBe(maximum === undefined ? INITIAL_PAGES + 3 : -1);
    }
    expect(memory.buffer.byteLength).toBe(wholeMemory.buffer.byteLength);
    expect(sameBytes(memory.buffer, wholeMemory.buffer)).toBe(true);
  });

  it('gives the same engine for modules that differ only in their data', async () => {
    const module = (text: string) =>
      wat(`(module
        (memory (export "memory") 1)
        (data (i32.const 16) "${text}")
        (func (export "at") (param i32) (result i32) (i32.load8_u (local.get 0))))`);
    const a = split(await module('first plugin'));
    const b = split(await module('another plugin, longer'));
    expect(Buffer.from(a.engine).equals(Buffer.from(b.engine))).toBe(true);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(false);
    const { instance } = await instantiateSplit(b, {});
    expect((instance.exports.at as Fn)(16)).toBe('a'.charCodeAt(0));
    expect((instance.exports.at as Fn)(17)).toBe('n'.charCodeAt(0));
  });

  it('adds an import section to a module without one, and keeps its custom sections', async () => {
    const bytes = await wat(`(module
      (memory 1 1)
      (data $greeting (i32.const 8) "hi")
      (func $at (export "at") (param i32) (result i32) (i32.load8_u (local.get 0))))`);
    expect(sections(bytes).some((s) => s.id === 2)).toBe(false);
    const customs = sections(bytes).filter((s) => s.id === 0).length;
    expect(customs).toBeGreaterThan(0); // the name section, with the data segment's name
    const parts = split(bytes);
    expect(parts).toMatchObject({ initialPages: 1, maximumPages: 1 });
    expect(sections(parts.engine).filter((s) => s.id === 0).length).toBe(customs);
    expect(js.Module.imports(new WebAssembly.Module(parts.engine))).toEqual([
      { module: ENGINE_MEMORY_MODULE, name: ENGINE_MEMORY_FIELD, kind: 'memory' },
    ]);
    const { instance } = await instantiateSplit(parts, {});
    expect((instance.exports.at as Fn)(9)).toBe('i'.charCodeAt(0));
  });

  it('drops a data count section', async () => {
    const plain = await wat(`(module
      (memory 1)
      (data (i32.const 0) "\\2a")
      (func (export "first") (result i32) (i32.load8_u (i32.const 0))))`);
    // wasm-tools writes a data count section only for code that needs one; put one in (before the code)
    const code = sections(plain).find((s) => s.id === 10);
    if (!code) throw new Error('no code section');
    const bytes = concat([plain.subarray(0, code.start), Uint8Array.of(12, 1, 1), plain.subarray(code.start)]);
    expect(WebAssembly.validate(bytes)).toBe(true);
    const parts = split(bytes);
    expect(sections(parts.engine).some((s) => s.id === 12)).toBe(false);
    expect(WebAssembly.validate(parts.engine)).toBe(true);
    const { instance } = await instantiateSplit(parts, {});
    expect((instance.exports.first as Fn)()).toBe(42);
  });

  const refusals: [what: string, text: string, reason: string][] = [
    [
      'a start function',
      `(module (memory 1) (data (i32.const 0) "a") (func $init) (start $init))`,
      'it has a start function',
    ],
    ['no data section', `(module (memory 1) (func (export "f")))`, 'it has no data section'],
    // a memory imported and none defined is refused as defining none (no memory section to split)
    [
      'an imported memory only',
      `(module (import "m" "mem" (memory 1)) (data (i32.const 0) "a"))`,
      'it defines no memory',
    ],
    // multi-memory: jco's parse accepts it (Node 20 does not validate it, which does not matter here)
    ['two memories', `(module (memory 1) (memory 1) (data (i32.const 0) "a"))`, 'it defines more than one memory'],
    [
      'an imported memory next to its own',
      `(module (import "m" "mem" (memory 1)) (memory 1) (data (memory 1) (i32.const 0) "a"))`,
      'it imports a memory',
    ],
    ['a shared memory', `(module (memory 1 2 shared) (data (i32.const 0) "a"))`, 'its memory is shared or 64-bit'],
    ['a 64-bit memory', `(module (memory i64 1) (data (i64.const 0) "a"))`, 'its memory is shared or 64-bit'],
    [
      'a passive segment',
      `(module (memory 1) (data (i32.const 0) "a") (data "passive"))`,
      'data segment 1 is passive or names a memory',
    ],
    [
      'a passive segment used by memory.init',
      `(module (memory 1) (data $p "passive")
        (func (export "init") (memory.init $p (i32.const 0) (i32.const 0) (i32.const 7))))`,
      'data segment 0 is passive or names a memory',
    ],
    [
      'an offset from global.get',
      `(module (import "env" "at" (global $at i32)) (memory 1) (data (global.get $at) "a"))`,
      'data segment 0 has an offset that is not an i32.const',
    ],
    [
      'a segment past the initial memory (inside the maximum)',
      `(module (memory 1 2) (data (i32.const 0) "a") (data (i32.const 65535) "ab"))`,
      'data segment 1 does not fit the initial memory',
    ],
    [
      'a segment at a negative offset',
      `(module (memory 1) (data (i32.const -1) "a"))`,
      'data segment 0 does not fit the initial memory',
    ],
    [
      'an import from awasm:engine',
      `(module (import "awasm:engine" "memory" (func)) (memory 1) (data (i32.const 0) "a"))`,
      'it imports from awasm:engine',
    ],
  ];

  it.each(refusals)('refuses a module with %s', async (_what, text, reason) => {
    expect(splitDataSegments(await wat(text))).toEqual({ refused: reason });
  });

  it('refuses a module with no memory at all (data section without one, encoded by hand)', () => {
    const bytes = concat([
      Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0),
      Uint8Array.of(11, 7, 1, 0, 0x41, 0, 0x0b, 1, 0x61),
    ]);
    expect(splitDataSegments(bytes)).toEqual({ refused: 'it defines no memory' });
  });

  it('refuses an offset of an extended constant expression', async () => {
    let bytes: Uint8Array;
    try {
      bytes = await wat(`(module (memory 1) (data (i32.add (i32.const 1) (i32.const 2)) "a"))`);
    } catch {
      // jco's parse without extended-const: the same offset encoded by hand
      bytes = concat([
        Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0),
        Uint8Array.of(5, 3, 1, 0, 1),
        Uint8Array.of(11, 11, 1, 0, 0x41, 1, 0x41, 2, 0x6a, 0x0b, 1, 0x61),
      ]);
    }
    expect(splitDataSegments(bytes)).toEqual({ refused: 'data segment 0 has an offset that is not an i32.const' });
  });

  it('splits only segments the original would have written: one that does not fit fails its instantiation', async () => {
    const bytes = await wat(`(module (memory 1 2) (data (i32.const 65535) "ab"))`);
    await expect(WebAssembly.instantiate(new WebAssembly.Module(bytes))).rejects.toThrow();
    // while one that ends exactly at the end of the initial memory is written
    const fits = await wat(`(module (memory 1 2) (data (i32.const 65534) "ab") (data (i32.const 65536) ""))`);
    const parts = split(fits);
    const { memory } = await instantiateSplit(parts, {});
    expect([...new Uint8Array(memory.buffer, 65534)]).toEqual([97, 98]);
  });

  it('splits a module whose code uses data.drop into an engine that does not validate (the cache checks)', async () => {
    const bytes = await wat(`(module
      (memory 1)
      (data $d (i32.const 0) "a")
      (func (export "drop") (data.drop $d)))`);
    expect(WebAssembly.validate(bytes)).toBe(true);
    const parts = splitDataSegments(bytes);
    if ('refused' in parts) throw new Error(`refused: ${parts.refused}`);
    expect(WebAssembly.validate(parts.engine)).toBe(false);
  });

  it('throws WasmFormatError for a module it cannot read', async () => {
    const bytes = await wat(`(module (memory 1) (data (i32.const 0) "abc"))`);
    expect(() => splitDataSegments(bytes.subarray(0, bytes.length - 2))).toThrow(WasmFormatError);
    // a memory section with a byte after its one memory
    const memory = sections(bytes).find((s) => s.id === 5);
    if (!memory) throw new Error('no memory section');
    const payload = concat([bytes.subarray(memory.payloadStart, memory.end), Uint8Array.of(0)]);
    const padded = concat([
      bytes.subarray(0, memory.start),
      Uint8Array.of(5),
      encodeUleb(payload.length),
      payload,
      bytes.subarray(memory.end),
    ]);
    expect(() => splitDataSegments(padded)).toThrow('memory section has trailing bytes');
  });
});

describe('mergeSegments', () => {
  const seg = (offset: number, ...bytes: number[]): Segment => ({ offset, bytes: Uint8Array.from(bytes) });
  const shape = (segments: Segment[]) => segments.map((s) => [s.offset, [...s.bytes]]);
  /** what writing `segments` in order into `size` zeroed bytes leaves */
  const written = (segments: Segment[], size: number) => {
    const memory = new Uint8Array(size);
    for (const s of segments) memory.set(s.bytes, s.offset);
    return memory;
  };

  it('joins segments up to maxGap apart into one run, the gap zero, and the later of two overlapping ones wins', () => {
    const segments = [seg(10, 1, 2, 3), seg(20, 4), seg(11, 9), seg(100, 7), seg(50)];
    const runs = mergeSegments(segments, 8);
    expect(shape(runs)).toEqual([
      [10, [1, 9, 3, 0, 0, 0, 0, 0, 0, 0, 4]],
      [100, [7]],
    ]);
    expect(written(runs, 128)).toEqual(written(segments, 128));
  });

  it('keeps the segments as they are when the runs would take more than twice their bytes', () => {
    // one byte every MERGE_GAP_BYTES: each run would be almost all zeros
    const sparse = Array.from({ length: 100 }, (_, i) => seg(i * MERGE_GAP_BYTES, i + 1));
    expect(mergeSegments(sparse, MERGE_GAP_BYTES)).toBe(sparse);
    // the same bytes packed closer are merged
    const dense = Array.from({ length: 100 }, (_, i) => seg(i * 2, i + 1));
    const runs = mergeSegments(dense, MERGE_GAP_BYTES);
    expect(runs).toHaveLength(1);
    expect(written(runs, 256)).toEqual(written(dense, 256));
  });
});
