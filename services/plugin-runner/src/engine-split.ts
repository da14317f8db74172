/**
 * Splits a large core module into its code (the "engine") and its data segments.
 *
 * Every componentize-js plugin carries the same SpiderMonkey build: across plugins of one
 * componentize-js version the 13 MB core module differs only in its data section (the engine's
 * heap, snapshotted with the plugin's code in it). With the data taken out and the memory imported,
 * the rest is byte for byte the same for all of them, so the runner compiles it once and every JS
 * source shares it, along with the functions V8 compiled lazily for the first. The worker then makes
 * the memory and writes the segments into it before the glue calls anything
 * (worker/engine-data.mjs), which is what instantiating the original module would have done.
 */

import { concat, encodeUleb, Reader, sections, skipValType, WASM_PAGE_BYTES, WasmFormatError } from './wasm-binary.js';
import { ENGINE_MEMORY_FIELD, ENGINE_MEMORY_MODULE, encodeSegments } from './worker/engine-data.mjs';

export interface EngineSplit {
  /** the module without its data section, its one memory imported from ENGINE_MEMORY_MODULE */
  engine: Uint8Array;
  /** pages the memory starts with */
  initialPages: number;
  /** the memory's own maximum in pages, if it declares one */
  maximumPages?: number;
  /** the data segments, encoded by encodeSegments */
  data: Uint8Array;
}

/** Modules smaller than this are left whole: they compile in a few milliseconds anyway. */
export const MIN_SPLIT_BYTES = 1024 * 1024;

/**
 * Segments closer than this are written as one, the gap as zeros (what a fresh memory holds there):
 * SpiderMonkey's snapshot is thousands of segments of a few hundred bytes, slow to write one by
 * one, and only a few runs at this gap for a few more bytes.
 */
export const MERGE_GAP_BYTES = 4096;

const SECTION = { import: 2, memory: 5, start: 8, data: 11, dataCount: 12 } as const;

/**
 * The engine and data of `bytes`, or why it cannot be split. Only a module whose data can be written
 * after instantiation without anything noticing is split: one memory, defined by the module, not
 * shared or 64-bit; no start function (it would run before the data is written); every segment
 * active, into that memory, at a constant offset inside its initial size. The engine must also
 * validate without the data count, which fails for code that uses memory.init or data.drop (checked
 * by the caller, which has a WebAssembly to validate with).
 */
export function splitDataSegments(bytes: Uint8Array): EngineSplit | { refused: string } {
  const all = sections(bytes);
  const one = (id: number) => all.filter((s) => s.id === id);
  if (one(SECTION.start).length > 0) return { refused: 'it has a start function' };
  const memorySections = one(SECTION.memory);
  const dataSections = one(SECTION.data);
  if (dataSections.length !== 1) return { refused: 'it has no data section' };
  if (memorySections.length !== 1) return { refused: 'it defines no memory' };

  const memory = memorySections[0] as (typeof all)[number];
  const mr = new Reader(bytes, memory.payloadStart, memory.end);
  if (mr.u32() !== 1) return { refused: 'it defines more than one memory' };
  const memAt = mr.pos;
  const flags = mr.byte();
  if (flags !== 0x00 && flags !== 0x01) return { refused: 'its memory is shared or 64-bit' };
  const initialPages = mr.u32();
  const maximumPages = flags === 0x01 ? mr.u32() : undefined;
  if (mr.pos !== memory.end) throw new WasmFormatError('memory section has trailing bytes');
  const limits = bytes.subarray(memAt, mr.pos);

  const importSection = one(SECTION.import)[0];
  const imports = importSection ? readImports(bytes, importSection.payloadStart, importSection.end) : emptyImports();
  if (imports.memories > 0) return { refused: 'it imports a memory' };
  if (imports.modules.has(ENGINE_MEMORY_MODULE)) return { refused: `it imports from ${ENGINE_MEMORY_MODULE}` };

  const data = dataSections[0] as (typeof all)[number];
  const dr = new Reader(bytes, data.payloadStart, data.end);
  const count = dr.u32();
  const segments: Segment[] = [];
  const memoryBytes = initialPages * WASM_PAGE_BYTES;
  for (let i = 0; i < count; i++) {
    if (dr.u32() !== 0) return { refused: `data segment ${i} is passive or names a memory` };
    if (dr.byte() !== 0x41) return { refused: `data segment ${i} has an offset that is not an i32.const` };
    const offset = Number(dr.s33()) >>> 0;
    if (dr.byte() !== 0x0b) return { refused: `data segment ${i} has an offset that is not an i32.const` };
    const segment = dr.take(dr.u32());
    if (offset + segment.length > memoryBytes) {
      return { refused: `data segment ${i} does not fit the initial memory` };
    }
    segments.push({ offset, bytes: segment });
  }
  if (dr.pos !== data.end) throw new WasmFormatError('data section has trailing bytes');

  // the memory becomes the last import: memory imports do not move function, table or global indices
  const memoryImport = concat([
    nameBytes(ENGINE_MEMORY_MODULE),
    nameBytes(ENGINE_MEMORY_FIELD),
    Uint8Array.of(0x02),
    limits,
  ]);
  const importPayload = importSection
    ? concat([encodeUleb(imports.count + 1), bytes.subarray(imports.entriesStart, importSection.end), memoryImport])
    : concat([encodeUleb(1), memoryImport]);
  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  let importsWritten = false;
  const writeImports = () => {
    out.push(Uint8Array.of(SECTION.import), encodeUleb(importPayload.length), importPayload);
    importsWritten = true;
  };
  for (const s of all) {
    // the import section comes after custom sections and the type section (id 1), before the rest
    if (!importsWritten && s.id !== 0 && s.id > SECTION.import) writeImports();
    if (s.id === SECTION.import) writeImports();
    else if (s.id !== SECTION.memory && s.id !== SECTION.data && s.id !== SECTION.dataCount) {
      out.push(bytes.subarray(s.start, s.end));
    }
  }
  if (!importsWritten) writeImports();
  return {
    engine: concat(out),
    initialPages,
    ...(maximumPages !== undefined ? { maximumPages } : {}),
    data: encodeSegments(mergeSegments(segments, MERGE_GAP_BYTES)),
  };
}

export interface Segment {
  offset: number;
  bytes: Uint8Array;
}

/**
 * Runs covering the same bytes as `segments` written in order into a zeroed memory: segments at most
 * `maxGap` bytes apart share a run, the gap zero. Where segments overlap the later one wins, as
 * active segments applied in order do. When the runs would take more than twice the segments' own
 * bytes (a module of many tiny segments spread out, each adding up to maxGap zeros), the segments
 * are returned as they are, so what a module makes the host allocate stays bounded by its size.
 */
export function mergeSegments(segments: Segment[], maxGap: number): Segment[] {
  const byOffset = segments
    .map((s, order) => ({ start: s.offset, end: s.offset + s.bytes.length, order }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  const runs: { start: number; end: number }[] = [];
  for (const s of byOffset) {
    const last = runs[runs.length - 1];
    if (last && s.start - last.end <= maxGap) last.end = Math.max(last.end, s.end);
    else runs.push({ start: s.start, end: s.end });
  }
  const own = segments.reduce((n, s) => n + s.bytes.length, 0);
  const merged = runs.reduce((n, r) => n + (r.end - r.start), 0);
  if (merged > 2 * own) return segments;
  const out = runs.map((r) => ({ offset: r.start, bytes: new Uint8Array(r.end - r.start) }));
  // segments in their own order, each into the run that holds it
  const runOf = (offset: number) => {
    let lo = 0;
    let hi = runs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((runs[mid] as { start: number }).start <= offset) lo = mid;
      else hi = mid - 1;
    }
    return out[lo] as Segment;
  };
  for (const s of segments) {
    if (s.bytes.length === 0) continue;
    const run = runOf(s.offset);
    run.bytes.set(s.bytes, s.offset - run.offset);
  }
  return out;
}

function nameBytes(name: string): Uint8Array {
  const utf8 = new TextEncoder().encode(name);
  return concat([encodeUleb(utf8.length), utf8]);
}

interface ImportCensus {
  count: number;
  /** offset of the first entry (just past the count) */
  entriesStart: number;
  memories: number;
  modules: Set<string>;
}

function emptyImports(): ImportCensus {
  return { count: 0, entriesStart: 0, memories: 0, modules: new Set() };
}

function readImports(bytes: Uint8Array, start: number, end: number): ImportCensus {
  const r = new Reader(bytes, start, end);
  const count = r.u32();
  const census: ImportCensus = { count, entriesStart: r.pos, memories: 0, modules: new Set() };
  for (let i = 0; i < count; i++) {
    census.modules.add(r.name());
    r.name();
    const kind = r.byte();
    if (kind === 0x00) r.u32();
    else if (kind === 0x01) {
      skipValType(r);
      skipLimits(r);
    } else if (kind === 0x02) {
      census.memories++;
      skipLimits(r);
    } else if (kind === 0x03) {
      skipValType(r);
      r.byte(); // mutability
    } else if (kind === 0x04) {
      r.byte();
      r.u32();
    } else throw new WasmFormatError(`import kind 0x${kind.toString(16)} is not supported`);
  }
  if (r.pos !== end) throw new WasmFormatError('import section has trailing bytes');
  return census;
}

function skipLimits(r: Reader): void {
  const flags = r.byte();
  if (flags & ~0x07) throw new WasmFormatError(`limits flags 0x${flags.toString(16)} are not supported`);
  const bits = flags & 0x04 ? 64 : 32;
  r.uleb(bits);
  if (flags & 0x01) r.uleb(bits);
}
