// @ts-check
/**
 * The data segments of a core module split off its code (engine-split.ts), in a form a worker
 * writes into the module's memory right after instantiating it, as the segments would have been:
 *
 *   u32 count | count x (u32 offset, u32 length) | the segments' bytes, in order   (little-endian)
 *
 * Plain JS so the worker (worker.mjs) and the runner share it.
 */

/** The import the split module takes its memory from; the worker makes that memory. */
export const ENGINE_MEMORY_MODULE = 'awasm:engine';
export const ENGINE_MEMORY_FIELD = 'memory';

/**
 * @param {{ offset: number, bytes: Uint8Array }[]} segments
 * @returns {Uint8Array}
 */
export function encodeSegments(segments) {
  const head = 4 + 8 * segments.length;
  const total = segments.reduce((n, s) => n + s.bytes.length, head);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, segments.length, true);
  let at = head;
  for (const [i, s] of segments.entries()) {
    view.setUint32(4 + 8 * i, s.offset, true);
    view.setUint32(8 + 8 * i, s.bytes.length, true);
    out.set(s.bytes, at);
    at += s.bytes.length;
  }
  return out;
}

/**
 * Writes encoded segments into `memory`. Throws, naming the segment, when the data is malformed or
 * a segment does not fit: a module's own active segment that does not fit fails its instantiation.
 * @param {ArrayBuffer | SharedArrayBuffer} memory
 * @param {Uint8Array} data
 */
export function applySegments(memory, data) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength < 4) throw new Error('engine data is truncated (no segment count)');
  const count = view.getUint32(0, true);
  const head = 4 + 8 * count;
  if (head > data.byteLength) throw new Error(`engine data is truncated (${count} segments announced)`);
  const target = new Uint8Array(memory);
  let at = head;
  for (let i = 0; i < count; i++) {
    const offset = view.getUint32(4 + 8 * i, true);
    const length = view.getUint32(8 + 8 * i, true);
    if (at + length > data.byteLength) throw new Error(`engine data segment ${i} runs past the end of the data`);
    if (offset + length > target.length) {
      throw new Error(
        `engine data segment ${i} (${length} bytes at ${offset}) does not fit a memory of ${target.length} bytes`,
      );
    }
    target.set(data.subarray(at, at + length), offset);
    at += length;
  }
  if (at !== data.byteLength) throw new Error('engine data has bytes after its last segment');
}
