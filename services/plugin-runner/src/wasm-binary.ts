/**
 * Just enough of the WebAssembly binary format to (1) cap the linear memories of a core module and
 * (2) list the top-level imports of a component. Pure TypeScript, no dependencies.
 */

export const WASM_PAGE_BYTES = 65_536;

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const CORE_VERSION = [0x01, 0x00, 0x00, 0x00];
/** Component binaries share the magic; version 0x0d, layer 0x01. */
const COMPONENT_VERSION = [0x0d, 0x00, 0x01, 0x00];

export class WasmFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WasmFormatError';
  }
}

/** A cursor over a byte buffer that decodes LEB128 and names. */
export class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public pos = 0,
    readonly end = bytes.length,
  ) {}

  eof(): boolean {
    return this.pos >= this.end;
  }

  byte(): number {
    if (this.pos >= this.end) throw new WasmFormatError(`unexpected end of data at offset ${this.pos}`);
    return this.bytes[this.pos++] as number;
  }

  /** Unsigned LEB128 of at most `bits` bits, as a bigint. */
  uleb(bits = 32): bigint {
    let result = 0n;
    let shift = 0n;
    const start = this.pos;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) break;
      if (shift >= BigInt(bits) + 7n) throw new WasmFormatError(`LEB128 at offset ${start} is too long`);
    }
    if (result >= 1n << BigInt(bits)) throw new WasmFormatError(`LEB128 at offset ${start} exceeds ${bits} bits`);
    return result;
  }

  u32(): number {
    return Number(this.uleb(32));
  }

  /** Signed LEB128 of at most 33 bits (heap and block types). */
  s33(): bigint {
    let result = 0n;
    let shift = 0n;
    let b: number;
    const start = this.pos;
    do {
      b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (shift > 35n + 7n) throw new WasmFormatError(`LEB128 at offset ${start} is too long`);
    } while (b & 0x80);
    if (b & 0x40) result -= 1n << shift;
    return result;
  }

  take(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.end)
      throw new WasmFormatError(`length ${n} at offset ${this.pos} runs past the end`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  name(): string {
    return new TextDecoder('utf-8', { fatal: true }).decode(this.take(this.u32()));
  }
}

/** Encodes an unsigned integer as LEB128. */
export function encodeUleb(value: number | bigint): Uint8Array {
  let v = BigInt(value);
  if (v < 0n) throw new RangeError('encodeUleb takes a non-negative value');
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return Uint8Array.from(out);
}

export interface Section {
  id: number;
  /** offset of the section id byte */
  start: number;
  /** offset of the first payload byte */
  payloadStart: number;
  /** offset just past the payload */
  end: number;
}

function checkHeader(bytes: Uint8Array, version: number[], what: string): void {
  const head = [...bytes.subarray(0, 8)];
  if (head.length < 8 || MAGIC.some((b, i) => head[i] !== b)) throw new WasmFormatError(`not a WebAssembly ${what}`);
  if (version.some((b, i) => head[4 + i] !== b)) {
    throw new WasmFormatError(`not a WebAssembly ${what} (version bytes ${head.slice(4).join(',')})`);
  }
}

export function isComponent(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && [...MAGIC, ...COMPONENT_VERSION].every((b, i) => bytes[i] === b);
}

export function sections(bytes: Uint8Array): Section[] {
  const r = new Reader(bytes, 8);
  const out: Section[] = [];
  while (!r.eof()) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const payloadStart = r.pos;
    r.take(size);
    out.push({ id, start, payloadStart, end: r.pos });
  }
  return out;
}

/** Limits of one memory, in 64 KiB pages. */
export interface MemoryLimits {
  min: bigint;
  max?: bigint;
  shared: boolean;
  memory64: boolean;
}

function readLimits(r: Reader): MemoryLimits {
  const at = r.pos;
  const flags = r.byte();
  if (flags & ~0x07) {
    throw new WasmFormatError(`memory limits flags 0x${flags.toString(16)} at offset ${at} are not supported`);
  }
  const memory64 = (flags & 0x04) !== 0;
  const bits = memory64 ? 64 : 32;
  const min = r.uleb(bits);
  const max = flags & 0x01 ? r.uleb(bits) : undefined;
  return max === undefined
    ? { min, shared: (flags & 0x02) !== 0, memory64 }
    : { min, max, shared: (flags & 0x02) !== 0, memory64 };
}

function encodeLimits(l: MemoryLimits): Uint8Array {
  const flags = (l.max !== undefined ? 0x01 : 0) | (l.shared ? 0x02 : 0) | (l.memory64 ? 0x04 : 0);
  const parts = [Uint8Array.of(flags), encodeUleb(l.min)];
  if (l.max !== undefined) parts.push(encodeUleb(l.max));
  return concat(parts);
}

function skipValType(r: Reader): void {
  const at = r.pos;
  const t = r.byte();
  // numeric, vector and abbreviated reference types are one byte
  if ((t >= 0x7b && t <= 0x7f) || (t >= 0x69 && t <= 0x74) || t === 0x6e || t === 0x6f || t === 0x70) return;
  if (t === 0x63 || t === 0x64) {
    r.s33(); // (ref null? heaptype)
    return;
  }
  throw new WasmFormatError(`value type 0x${t.toString(16)} at offset ${at} is not supported`);
}

function skipTableType(r: Reader): void {
  skipValType(r);
  const flags = r.byte();
  const bits = flags & 0x04 ? 64 : 32;
  r.uleb(bits);
  if (flags & 0x01) r.uleb(bits);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export interface MemoryInfo {
  /** index in the module's memory index space */
  index: number;
  /** "module.field" of an imported memory, undefined for a defined one */
  importedFrom?: string;
  before: MemoryLimits;
  after: MemoryLimits;
}

export interface CapResult {
  bytes: Uint8Array;
  memories: MemoryInfo[];
  changed: boolean;
}

export class MemoryLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemoryLimitError';
  }
}

function capped(l: MemoryLimits, maxPages: bigint): MemoryLimits {
  const max = l.max === undefined || l.max > maxPages ? maxPages : l.max;
  return { ...l, max };
}

/**
 * Returns a copy of a core module whose memories (defined and imported) have a maximum of at most
 * `maxPages` pages, so a `memory.grow` past it fails instead of taking host memory. A module whose
 * initial memory is already larger than the limit is refused with a MemoryLimitError.
 */
export function capMemories(bytes: Uint8Array, maxPages: number): CapResult {
  checkHeader(bytes, CORE_VERSION, 'core module');
  const limit = BigInt(maxPages);
  const memories: MemoryInfo[] = [];
  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  let changed = false;
  let memoryIndex = 0;

  const refuse = (info: string, min: bigint): never => {
    throw new MemoryLimitError(
      `${info} needs ${min} pages (${formatMiB(min)}) initially, more than the limit of ${limit} pages (${formatMiB(limit)})`,
    );
  };

  for (const s of sections(bytes)) {
    if (s.id === 2) {
      // import section: memories imported from another module (jco wires core modules together)
      const r = new Reader(bytes, s.payloadStart, s.end);
      const count = r.u32();
      const pieces: Uint8Array[] = [encodeUleb(count)];
      let mark = r.pos;
      for (let i = 0; i < count; i++) {
        const module = r.name();
        const field = r.name();
        const kind = r.byte();
        if (kind === 0x00) r.u32();
        else if (kind === 0x01) skipTableType(r);
        else if (kind === 0x03) {
          skipValType(r);
          r.byte();
        } else if (kind === 0x04) {
          r.byte();
          r.u32();
        } else if (kind === 0x02) {
          const limitsAt = r.pos;
          const before = readLimits(r);
          const where = `imported memory ${module}.${field}`;
          if (before.min > limit) refuse(where, before.min);
          // An import without a maximum accepts any memory; one with a maximum is lowered with the
          // memory it will be given, so the pair stays valid.
          const after = before.max === undefined ? before : capped(before, limit);
          memories.push({ index: memoryIndex++, importedFrom: `${module}.${field}`, before, after });
          if (after.max !== before.max) {
            pieces.push(bytes.subarray(mark, limitsAt), encodeLimits(after));
            mark = r.pos;
            changed = true;
          }
        } else {
          throw new WasmFormatError(`import kind 0x${kind.toString(16)} of ${module}.${field} is not supported`);
        }
      }
      if (r.pos !== s.end) throw new WasmFormatError('import section has trailing bytes');
      pieces.push(bytes.subarray(mark, s.end));
      const payload = concat(pieces);
      out.push(Uint8Array.of(2), encodeUleb(payload.length), payload);
    } else if (s.id === 5) {
      const r = new Reader(bytes, s.payloadStart, s.end);
      const count = r.u32();
      const pieces: Uint8Array[] = [encodeUleb(count)];
      for (let i = 0; i < count; i++) {
        const before = readLimits(r);
        const index = memoryIndex++;
        if (before.min > limit) refuse(`memory ${index}`, before.min);
        const after = capped(before, limit);
        if (after.max !== before.max) changed = true;
        memories.push({ index, before, after });
        pieces.push(encodeLimits(after));
      }
      if (r.pos !== s.end) throw new WasmFormatError('memory section has trailing bytes');
      const payload = concat(pieces);
      out.push(Uint8Array.of(5), encodeUleb(payload.length), payload);
    } else {
      out.push(bytes.subarray(s.start, s.end));
    }
  }
  return { bytes: changed ? concat(out) : bytes, memories, changed };
}

function formatMiB(pages: bigint): string {
  const mib = Number(pages * BigInt(WASM_PAGE_BYTES)) / (1024 * 1024);
  return `${Number.isInteger(mib) ? mib : mib.toFixed(2)} MiB`;
}

/** Pages for a limit in MiB (16 pages per MiB). */
export function pagesForMiB(mib: number): number {
  if (!Number.isInteger(mib) || mib <= 0)
    throw new RangeError(`memory limit must be a positive whole number of MiB, got ${mib}`);
  return mib * 16;
}

/**
 * The names of a component's top-level imports, with versions ("wasi:http/outgoing-handler@0.2.10").
 * Nested components and core modules are skipped: only what the host must provide is listed.
 */
export function componentImportNames(bytes: Uint8Array): string[] {
  checkHeader(bytes, COMPONENT_VERSION, 'component');
  const names: string[] = [];
  for (const s of sections(bytes)) {
    if (s.id !== 10) continue; // import section
    const r = new Reader(bytes, s.payloadStart, s.end);
    const count = r.u32();
    for (let i = 0; i < count; i++) {
      const prefix = r.byte();
      if (prefix !== 0x00 && prefix !== 0x01) {
        throw new WasmFormatError(`component import name prefix 0x${prefix.toString(16)} is not supported`);
      }
      const name = r.name();
      if (prefix === 0x01) r.name(); // legacy "url" / version suffix form
      names.push(name);
      skipExternDesc(r);
    }
  }
  return names;
}

function skipExternDesc(r: Reader): void {
  const at = r.pos;
  const sort = r.byte();
  switch (sort) {
    case 0x00: // core module: 0x11 typeidx
      r.byte();
      r.u32();
      return;
    case 0x01: // func
    case 0x04: // component
    case 0x05: // instance
      r.u32();
      return;
    case 0x02: {
      // value bound: eq valueidx | valtype
      const b = r.byte();
      if (b === 0x00) r.u32();
      else if (b === 0x01) r.s33();
      else throw new WasmFormatError(`component value bound 0x${b.toString(16)} at offset ${at} is not supported`);
      return;
    }
    case 0x03: {
      // type bound: eq typeidx | sub resource
      const b = r.byte();
      if (b === 0x00) r.u32();
      return;
    }
    default:
      throw new WasmFormatError(`component extern kind 0x${sort.toString(16)} at offset ${at} is not supported`);
  }
}
