import { componentEmbed, componentNew, parse, print } from '@bytecodealliance/jco';
import { describe, expect, it } from 'vitest';
import {
  capLimits,
  capMemories,
  capTables,
  componentImportNames,
  encodeUleb,
  MAX_TABLES_PER_MODULE,
  MemoryLimitError,
  pagesForMiB,
  Reader,
  sections,
  TableLimitError,
  WasmFormatError,
} from './wasm-binary.js';

async function wat(text: string): Promise<Uint8Array> {
  return parse(text) as unknown as Promise<Uint8Array>;
}

/** A module whose export `grow` adds one page at a time until memory.grow fails; returns the page count. */
const GROW_BOMB = `(module
  (memory (export "memory") 1)
  (func (export "grow") (result i32)
    (block $done
      (loop $more
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $more)))
    (memory.size)))`;

/**
 * A module whose export `grow` grows its table (declared without a maximum) by 1,000,000 entries at
 * a time, then by a tenth of that whenever table.grow returns -1, down to 1; returns the table size.
 */
const TABLE_BOMB = `(module
  (table $t (export "table") 1 funcref)
  (func (export "grow") (result i32)
    (local $step i32)
    (local.set $step (i32.const 1000000))
    (block $done
      (loop $more
        (if (i32.eq (table.grow $t (ref.null func) (local.get $step)) (i32.const -1))
          (then
            (br_if $done (i32.eq (local.get $step) (i32.const 1)))
            (local.set $step (i32.div_u (local.get $step) (i32.const 10)))))
        (br $more)))
    (table.size $t)))`;

/** A core module of the given sections, encoded by hand. */
function module(...sectionList: Array<[id: number, payload: number[]]>): Uint8Array {
  const body = sectionList.flatMap(([id, payload]) => [id, ...encodeUleb(payload.length), ...payload]);
  return Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...body);
}

function tableSection(bytes: Uint8Array): number[] {
  const s = sections(bytes).find((x) => x.id === 4);
  return s ? [...bytes.subarray(s.payloadStart, s.end)] : [];
}

function instantiate(bytes: Uint8Array, imports: Record<string, Record<string, unknown>> = {}) {
  const module = new WebAssembly.Module(bytes);
  // biome-ignore lint/suspicious/noExplicitAny: the test reaches into the instance's exports
  return (new (WebAssembly as any).Instance(module, imports) as { exports: Record<string, any> }).exports;
}

describe('LEB128', () => {
  it('round-trips values of every length, including 64-bit ones', () => {
    for (const v of [0n, 1n, 127n, 128n, 255n, 16_384n, 2n ** 32n - 1n, 2n ** 53n, 2n ** 64n - 1n]) {
      const bytes = encodeUleb(v);
      const r = new Reader(bytes);
      expect(r.uleb(64)).toBe(v);
      expect(r.eof()).toBe(true);
    }
    expect([...encodeUleb(624485)]).toEqual([0xe5, 0x8e, 0x26]);
  });

  it('rejects a value over its bit width and a truncated encoding', () => {
    expect(() => new Reader(encodeUleb(2n ** 32n)).u32()).toThrow(WasmFormatError);
    expect(() => new Reader(Uint8Array.of(0x80, 0x80)).u32()).toThrow(/unexpected end/);
    expect(() => new Reader(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)).u32()).toThrow(/too long/);
  });

  it('reads signed values', () => {
    expect(new Reader(Uint8Array.of(0x7f)).s33()).toBe(-1n);
    expect(new Reader(Uint8Array.of(0x3f)).s33()).toBe(63n);
    expect(new Reader(Uint8Array.of(0xc0, 0xbb, 0x78)).s33()).toBe(-123456n);
  });
});

describe('capMemories', () => {
  it('gives an unbounded memory a maximum, so a memory.grow bomb stops at the limit', async () => {
    const original = await wat(GROW_BOMB);
    const capped = capMemories(original, 16);
    expect(capped.changed).toBe(true);
    expect(capped.memories).toEqual([
      {
        index: 0,
        before: { min: 1n, shared: false, memory64: false },
        after: { min: 1n, max: 16n, shared: false, memory64: false },
      },
    ]);
    expect(instantiate(capped.bytes).grow()).toBe(16);
    // the limit, not something else, is what stops it
    expect(instantiate(capMemories(original, 40).bytes).grow()).toBe(40);
  });

  it('lowers a larger maximum and keeps a smaller one', async () => {
    const lowered = capMemories(await wat('(module (memory 2 1000))'), 16);
    expect(lowered.memories[0]?.after.max).toBe(16n);
    const kept = capMemories(await wat('(module (memory 2 8))'), 16);
    expect(kept.changed).toBe(false);
    expect(kept.memories[0]?.after.max).toBe(8n);
  });

  it('refuses a memory whose initial size is over the limit, saying by how much', async () => {
    const bytes = await wat('(module (memory 32))');
    expect(() => capMemories(bytes, 16)).toThrow(MemoryLimitError);
    expect(() => capMemories(bytes, 16)).toThrow(
      'memory 0 needs 32 pages (2 MiB) initially, more than the limit of 16 pages (1 MiB)',
    );
  });

  it('lowers an imported memory with a larger maximum so the import stays valid', async () => {
    const bytes = await wat(`(module
      (import "env" "memory" (memory 1 1000))
      (func (export "size") (result i32) (memory.size)))`);
    const capped = capMemories(bytes, 16);
    expect(capped.memories).toEqual([
      expect.objectContaining({ importedFrom: 'env.memory', after: expect.objectContaining({ max: 16n }) }),
    ]);
    const memory = new (WebAssembly as unknown as { Memory: new (d: object) => unknown }).Memory({
      initial: 1,
      maximum: 16,
    });
    expect(instantiate(capped.bytes, { env: { memory } }).size()).toBe(1);
    // an import without a maximum accepts any memory and is left alone
    const open = capMemories(await wat('(module (import "env" "memory" (memory 1)))'), 16);
    expect(open.changed).toBe(false);
    const big = await wat('(module (import "env" "memory" (memory 20)))');
    expect(() => capMemories(big, 16)).toThrow(/imported memory env.memory needs 20 pages/);
  });

  it('caps every memory of a multi-memory module and 64-bit memories', async () => {
    // encoded by hand: magic, version, then a memory section with (memory 1), (memory i32 2 9999), (memory i64 3)
    const payload = Uint8Array.of(3, 0x00, 1, 0x01, 2, ...encodeUleb(9999), 0x04, 3);
    const bytes = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, payload.length, ...payload);
    const capped = capMemories(bytes, 16);
    expect(capped.memories.map((m) => [m.after.min, m.after.max, m.after.memory64])).toEqual([
      [1n, 16n, false],
      [2n, 16n, false],
      [3n, 16n, true],
    ]);
    // capping again is a no-op: the rewritten section reads back the same
    expect(capMemories(capped.bytes, 16).changed).toBe(false);
    expect(sections(capped.bytes).map((s) => s.id)).toEqual([5]);
  });

  it('keeps every other section byte for byte', async () => {
    const bytes = await wat(`(module
      (type (func (param i32) (result i32)))
      (memory 1)
      (global (mut i32) (i32.const 7))
      (func (export "add") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (data (i32.const 0) "hello"))`);
    const capped = capMemories(bytes, 4);
    const before = sections(bytes).filter((s) => s.id !== 5);
    const after = sections(capped.bytes).filter((s) => s.id !== 5);
    expect(after.map((s) => capped.bytes.subarray(s.start, s.end))).toEqual(
      before.map((s) => bytes.subarray(s.start, s.end)),
    );
    expect(instantiate(capped.bytes).add(41)).toBe(42);
  });

  it('refuses what is not a core module', () => {
    expect(() => capMemories(new TextEncoder().encode('hello world'), 16)).toThrow(WasmFormatError);
    expect(() => capMemories(Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 10, 1), 16)).toThrow(
      /runs past the end/,
    );
  });

  it('converts MiB to pages', () => {
    expect(pagesForMiB(64)).toBe(1024);
    expect(() => pagesForMiB(0)).toThrow(RangeError);
    expect(() => pagesForMiB(1.5)).toThrow(RangeError);
  });
});

describe('capTables', () => {
  it('gives a table without a maximum one, so a table.grow bomb stops at the limit', async () => {
    const original = await wat(TABLE_BOMB);
    const capped = capTables(original, 1000);
    expect(capped.changed).toBe(true);
    expect(capped.tables).toEqual([
      { index: 0, before: { min: 1n, table64: false }, after: { min: 1n, max: 1000n, table64: false } },
    ]);
    expect(WebAssembly.validate(capped.bytes)).toBe(true);
    const exports = instantiate(capped.bytes);
    expect(exports.grow()).toBe(1000);
    // table.grow at the maximum returns -1 (the bomb's loop saw it), and the host cannot grow it either
    expect(exports.table.length).toBe(1000);
    expect(() => exports.table.grow(1)).toThrow(RangeError);
    // the limit, not something else, is what stops it
    expect(instantiate(capTables(original, 4321).bytes).grow()).toBe(4321);
    // memories are left alone
    expect(capped.memories).toEqual([]);
  });

  it('lowers a larger maximum and keeps a smaller one', async () => {
    const lowered = capTables(await wat('(module (table 2 1000000 funcref))'), 1000);
    expect(lowered.tables[0]?.after).toEqual({ min: 2n, max: 1000n, table64: false });
    expect(WebAssembly.validate(lowered.bytes)).toBe(true);
    const kept = capTables(await wat('(module (table 2 8 externref))'), 1000);
    expect(kept.changed).toBe(false);
    expect(kept.tables[0]?.after.max).toBe(8n);
  });

  it('refuses a table that starts with more entries than the limit, naming it', async () => {
    const bytes = await wat('(module (table 10 funcref) (table 2000 externref))');
    expect(() => capTables(bytes, 1000)).toThrow(TableLimitError);
    expect(() => capTables(bytes, 1000)).toThrow('table 1 starts with 2000 entries, over the 1000 allowed');
    const imported = await wat('(module (import "env" "t" (table 2000 funcref)))');
    expect(() => capTables(imported, 1000)).toThrow(
      'imported table env.t (table 0) starts with 2000 entries, over the 1000 allowed',
    );
    expect(() => capTables(bytes, 1000)).toThrow(expect.objectContaining({ reason: 'entries' }));
    // exactly at the limit is allowed
    expect(capTables(bytes, 2000).tables[1]?.after.max).toBe(2000n);
  });

  it('lowers an imported table with a larger maximum so it still links to the capped definition', async () => {
    const exporter = capTables(await wat('(module (table (export "t") 3 funcref))'), 1000);
    const importer = await wat(`(module
      (import "env" "t" (table 1 50000 funcref))
      (func (export "grow") (result i32) (table.grow 0 (ref.null func) (i32.const 100000))))`);
    const capped = capTables(importer, 1000);
    expect(capped.tables).toEqual([
      {
        index: 0,
        importedFrom: 'env.t',
        before: { min: 1n, max: 50000n, table64: false },
        after: { min: 1n, max: 1000n, table64: false },
      },
    ]);
    // it links against the capped definition, and growing past the cap through it fails
    const table = instantiate(exporter.bytes).t;
    expect(instantiate(capped.bytes, { env: { t: table } }).grow()).toBe(-1);
    // a table with a larger maximum than the import declares would not link: the import is lowered
    // only to the cap, never below what it asked for
    const TableCtor = (WebAssembly as unknown as { Table: new (d: object) => unknown }).Table;
    const wide = new TableCtor({ element: 'anyfunc', initial: 1, maximum: 2000 });
    expect(() => instantiate(capped.bytes, { env: { t: wide } })).toThrow(/table import 0 .*maximum/);
    // an import without a maximum accepts any table and is left alone
    const open = capTables(await wat('(module (import "env" "t" (table 1 funcref)))'), 1000);
    expect(open.changed).toBe(false);
    expect(open.tables[0]?.after).toEqual({ min: 1n, table64: false });
  });

  it('caps both table-section forms, copying an initialiser expression through', async () => {
    const bytes = await wat(`(module
      (func $f)
      (table 1 externref)
      (table 2 funcref (ref.func $f))
      (table 3 10 funcref))`);
    // entries: 6f 00 01 | 40 00 70 00 02 d2 00 0b | 70 01 03 0a
    expect(tableSection(bytes)).toEqual([
      3, 0x6f, 0x00, 1, 0x40, 0x00, 0x70, 0x00, 2, 0xd2, 0x00, 0x0b, 0x70, 0x01, 3, 10,
    ]);
    const capped = capTables(bytes, 1000);
    const max = [...encodeUleb(1000)];
    expect(tableSection(capped.bytes)).toEqual([
      3,
      ...[0x6f, 0x01, 1, ...max],
      ...[0x40, 0x00, 0x70, 0x01, 2, ...max, 0xd2, 0x00, 0x0b],
      ...[0x70, 0x01, 3, 10],
    ]);
    expect(capped.tables.map((t) => t.after.max)).toEqual([1000n, 1000n, 10n]);
    // Node 20's V8 does not take the initialiser form (function references), so it is checked by
    // wasm-tools reading it back instead of WebAssembly.validate
    const text = await (print(capped.bytes) as unknown as Promise<string>);
    expect(text).toContain('(table (;0;) 1 1000 externref)');
    expect(text).toContain('(table (;1;) 2 1000 funcref ref.func $f)');
    expect(text).toContain('(table (;2;) 3 10 funcref)');
    expect(capTables(capped.bytes, 1000).changed).toBe(false);
  });

  it('copies other initialiser expressions through (global.get, ref.null) and refuses non-constants', () => {
    // (global funcref (ref.null func)) (table 0x40 0x00 funcref 2 (global.get 0)) (table 0x40 0x00 funcref 1 (ref.null func))
    const globals: number[] = [1, 0x70, 0x00, 0xd0, 0x70, 0x0b];
    const tables: number[] = [2, 0x40, 0x00, 0x70, 0x00, 2, 0x23, 0, 0x0b, 0x40, 0x00, 0x70, 0x00, 1, 0xd0, 0x70, 0x0b];
    const capped = capTables(module([4, tables], [6, globals]), 7);
    expect(tableSection(capped.bytes)).toEqual([
      2,
      ...[0x40, 0x00, 0x70, 0x01, 2, 7, 0x23, 0, 0x0b],
      ...[0x40, 0x00, 0x70, 0x01, 1, 7, 0xd0, 0x70, 0x0b],
    ]);
    // an instruction that is not a constant is refused, not guessed at
    const bad = [1, 0x40, 0x00, 0x70, 0x00, 1, 0x20, 0, 0x0b];
    expect(() => capTables(module([4, bad]), 7)).toThrow(/instruction 0x20 at offset \d+ is not supported/);
  });

  it('caps 64-bit tables and keeps their flag', () => {
    // (table i64 3 funcref), (table i64 1 99999 externref)
    const payload = [2, 0x70, 0x04, 3, 0x6f, 0x05, 1, ...encodeUleb(99999)];
    const capped = capTables(module([4, payload]), 1000);
    expect(tableSection(capped.bytes)).toEqual([
      2,
      0x70,
      0x05,
      3,
      ...encodeUleb(1000),
      0x6f,
      0x05,
      1,
      ...encodeUleb(1000),
    ]);
    expect(capped.tables.map((t) => [t.after.min, t.after.max, t.after.table64])).toEqual([
      [3n, 1000n, true],
      [1n, 1000n, true],
    ]);
    expect(capTables(capped.bytes, 1000).changed).toBe(false);
  });

  it(`refuses a module with more than ${MAX_TABLES_PER_MODULE} tables`, async () => {
    const many = (n: number) => `(module ${'(table 1 funcref)'.repeat(n)})`;
    expect(capTables(await wat(many(MAX_TABLES_PER_MODULE)), 1000).tables).toHaveLength(MAX_TABLES_PER_MODULE);
    const bytes = await wat(`(module (import "env" "t" (table 1 funcref)) ${'(table 1 funcref)'.repeat(16)})`);
    expect(() => capTables(bytes, 1000)).toThrow('the module has 17 tables, over the 16 a module may have');
    // without a table cap, tables are not looked at
    expect(capMemories(bytes, 16).tables).toEqual([]);
  });

  it('caps memories and tables in one pass, leaving everything else byte for byte', async () => {
    const bytes = await wat(`(module
      (import "env" "f" (func $f (param i32)))
      (import "env" "t" (table 1 70000 funcref))
      (import "env" "m" (memory 1 1000))
      (table 4 funcref)
      (func (export "add") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (elem (table 1) (i32.const 0) func 1))`);
    const capped = capLimits(bytes, { maxMemoryPages: 16, maxTableEntries: 500 });
    expect(capped.tables.map((t) => [t.importedFrom, t.after.max])).toEqual([
      ['env.t', 500n],
      [undefined, 500n],
    ]);
    expect(capped.memories.map((m) => [m.importedFrom, m.after.max])).toEqual([['env.m', 16n]]);
    expect(WebAssembly.validate(bytes)).toBe(true);
    expect(WebAssembly.validate(capped.bytes)).toBe(true);
    const rewritten = new Set([2, 4, 5]);
    const before = sections(bytes).filter((s) => !rewritten.has(s.id));
    const after = sections(capped.bytes).filter((s) => !rewritten.has(s.id));
    expect(after.map((s) => capped.bytes.subarray(s.start, s.end))).toEqual(
      before.map((s) => bytes.subarray(s.start, s.end)),
    );
    // capMemories alone leaves the table section as it was
    expect(tableSection(capMemories(bytes, 16).bytes)).toEqual(tableSection(bytes));
  });
});

describe('componentImportNames', () => {
  it('lists the top-level imports of a component with their versions', async () => {
    const witSource = `package test:attack;
package wasi:sockets@0.2.10 {
  interface tcp { connect: func(port: u16) -> u32; }
}
interface host { get: func(key: string) -> option<string>; }
world w {
  import wasi:sockets/tcp@0.2.10;
  import host;
  export run: func() -> u32;
}`;
    const core = await componentEmbed({ witSource, dummy: true, world: 'w' });
    const component = await componentNew(core, undefined);
    expect(componentImportNames(component)).toEqual(['wasi:sockets/tcp@0.2.10', 'test:attack/host']);
  });

  it('refuses a core module or other bytes', async () => {
    const core = await wat('(module)');
    expect(() => componentImportNames(core)).toThrow(/not a WebAssembly component/);
    expect(() => componentImportNames(Uint8Array.of(1, 2, 3))).toThrow(WasmFormatError);
  });
});
