import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco';
import { describe, expect, it } from 'vitest';
import {
  capMemories,
  componentImportNames,
  encodeUleb,
  MemoryLimitError,
  pagesForMiB,
  Reader,
  sections,
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
