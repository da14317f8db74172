import { describe, expect, it } from 'vitest';
import { applySegments, ENGINE_MEMORY_FIELD, ENGINE_MEMORY_MODULE, encodeSegments } from './engine-data.mjs';

const PAGE = 65_536;

function le32(...values: number[]): number[] {
  return values.flatMap((v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]);
}

describe('engine data', () => {
  it('names the import the engine takes its memory from', () => {
    expect([ENGINE_MEMORY_MODULE, ENGINE_MEMORY_FIELD]).toEqual(['awasm:engine', 'memory']);
  });

  it('encodes segments as a count, a table of offsets and lengths, then their bytes', () => {
    const data = encodeSegments([
      { offset: 0, bytes: Uint8Array.of(1, 2, 3) },
      { offset: 0x01020304, bytes: new Uint8Array(0) },
      { offset: 70_000, bytes: Uint8Array.of(9) },
    ]);
    expect([...data]).toEqual([...le32(3, 0, 3, 0x01020304, 0, 70_000, 1), 1, 2, 3, 9]);
    expect([...encodeSegments([])]).toEqual(le32(0));
  });

  it('writes the segments where they were, in order, and nothing else', () => {
    const segments = [
      { offset: 0, bytes: Uint8Array.of(1, 2, 3, 4) },
      { offset: 100, bytes: new TextEncoder().encode('hello') },
      { offset: 102, bytes: new TextEncoder().encode('LL') }, // a later segment overwrites an earlier one
      { offset: 5000, bytes: new Uint8Array(0) },
      { offset: 2 * PAGE - 3, bytes: Uint8Array.of(0xfd, 0xfe, 0xff) }, // ends at the end of the memory
    ];
    const memory = new ArrayBuffer(2 * PAGE);
    applySegments(memory, encodeSegments(segments));
    const expected = new Uint8Array(2 * PAGE);
    expected.set([1, 2, 3, 4], 0);
    expected.set(new TextEncoder().encode('heLLo'), 100);
    expected.set([0xfd, 0xfe, 0xff], 2 * PAGE - 3);
    expect(Buffer.from(memory).equals(expected)).toBe(true);
  });

  it('writes nothing for zero segments, and an empty segment may sit at the very end', () => {
    const memory = new ArrayBuffer(PAGE);
    applySegments(memory, encodeSegments([]));
    applySegments(memory, encodeSegments([{ offset: PAGE, bytes: new Uint8Array(0) }]));
    expect(new Uint8Array(memory).every((b) => b === 0)).toBe(true);
    // even into a memory of no pages
    applySegments(new ArrayBuffer(0), encodeSegments([{ offset: 0, bytes: new Uint8Array(0) }]));
  });

  it('reads data that is a view into a larger buffer, at any alignment (a file read into a pooled Buffer)', () => {
    const encoded = encodeSegments([
      { offset: 7, bytes: Uint8Array.of(0xaa, 0xbb) },
      { offset: 1, bytes: Uint8Array.of(0xcc) },
    ]);
    const larger = new Uint8Array(encoded.length + 10).fill(0xee);
    larger.set(encoded, 3);
    const memory = new ArrayBuffer(16);
    applySegments(memory, larger.subarray(3, 3 + encoded.length));
    expect([...new Uint8Array(memory)]).toEqual([0, 0xcc, 0, 0, 0, 0, 0, 0xaa, 0xbb, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('writes into a SharedArrayBuffer too', () => {
    const memory = new SharedArrayBuffer(8);
    applySegments(memory, encodeSegments([{ offset: 6, bytes: Uint8Array.of(5, 6) }]));
    expect([...new Uint8Array(memory)]).toEqual([0, 0, 0, 0, 0, 0, 5, 6]);
  });

  describe('refuses malformed data, naming what is wrong', () => {
    const memory = () => new ArrayBuffer(PAGE);
    const two = encodeSegments([
      { offset: 0, bytes: Uint8Array.of(1, 2) },
      { offset: 10, bytes: Uint8Array.of(3, 4, 5) },
    ]);

    it('without a whole segment count', () => {
      for (const data of [new Uint8Array(0), Uint8Array.of(1, 0, 0)]) {
        expect(() => applySegments(memory(), data)).toThrow('engine data is truncated (no segment count)');
      }
    });

    it('with fewer table entries than the count announces', () => {
      expect(() => applySegments(memory(), Uint8Array.from([...le32(2, 0, 0)]))).toThrow(
        'engine data is truncated (2 segments announced)',
      );
      expect(() => applySegments(memory(), two.subarray(0, 4 + 8 + 4))).toThrow(
        'engine data is truncated (2 segments announced)',
      );
      expect(() => applySegments(memory(), Uint8Array.from(le32(0xffffffff)))).toThrow(
        `engine data is truncated (${0xffffffff} segments announced)`,
      );
    });

    it('with a segment that runs past the end of the data', () => {
      expect(() => applySegments(memory(), two.subarray(0, two.length - 1))).toThrow(
        'engine data segment 1 runs past the end of the data',
      );
      expect(() => applySegments(memory(), two.subarray(0, 4 + 16 + 1))).toThrow(
        'engine data segment 0 runs past the end of the data',
      );
      // a length near 2^32 is not taken for a small one
      expect(() => applySegments(memory(), Uint8Array.from([...le32(1, 0, 0xffffffff), 1]))).toThrow(
        'engine data segment 0 runs past the end of the data',
      );
    });

    it('with a segment that does not fit the memory, naming it', () => {
      const data = encodeSegments([
        { offset: 0, bytes: Uint8Array.of(1) },
        { offset: PAGE - 1, bytes: Uint8Array.of(2, 3) },
      ]);
      expect(() => applySegments(memory(), data)).toThrow(
        `engine data segment 1 (2 bytes at ${PAGE - 1}) does not fit a memory of ${PAGE} bytes`,
      );
      // an offset near 2^32 does not wrap around
      const far = encodeSegments([{ offset: 0xffffffff, bytes: Uint8Array.of(1) }]);
      expect(() => applySegments(memory(), far)).toThrow(
        `engine data segment 0 (1 bytes at ${0xffffffff}) does not fit a memory of ${PAGE} bytes`,
      );
      const empty = encodeSegments([{ offset: PAGE + 1, bytes: new Uint8Array(0) }]);
      expect(() => applySegments(memory(), empty)).toThrow('engine data segment 0 (0 bytes at 65537)');
    });

    it('with bytes after the last segment', () => {
      expect(() => applySegments(memory(), Uint8Array.from([...two, 0]))).toThrow(
        'engine data has bytes after its last segment',
      );
      expect(() => applySegments(memory(), Uint8Array.from([...le32(0), 7]))).toThrow(
        'engine data has bytes after its last segment',
      );
    });
  });
});
