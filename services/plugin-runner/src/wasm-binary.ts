/**
 * Just enough of the WebAssembly binary format to (1) cap the linear memories and tables of a core
 * module and (2) list the top-level imports of a component. Pure TypeScript, no dependencies.
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

/**
 * The limits of a memory or table type as written: the flags byte (0x01 has a maximum, 0x02
 * shared, 0x04 64-bit indices) and the sizes.
 */
function readRawLimits(r: Reader, kind: 'memory' | 'table'): { flags: number; min: bigint; max?: bigint } {
  const at = r.pos;
  const flags = r.byte();
  if (flags & ~0x07) {
    throw new WasmFormatError(`${kind} limits flags 0x${flags.toString(16)} at offset ${at} are not supported`);
  }
  const bits = flags & 0x04 ? 64 : 32;
  const min = r.uleb(bits);
  return flags & 0x01 ? { flags, min, max: r.uleb(bits) } : { flags, min };
}

function readLimits(r: Reader): MemoryLimits {
  const { flags, min, max } = readRawLimits(r, 'memory');
  const shape = { shared: (flags & 0x02) !== 0, memory64: (flags & 0x04) !== 0 };
  return max === undefined ? { min, ...shape } : { min, max, ...shape };
}

function encodeLimits(l: MemoryLimits): Uint8Array {
  const flags = (l.max !== undefined ? 0x01 : 0) | (l.shared ? 0x02 : 0) | (l.memory64 ? 0x04 : 0);
  const parts = [Uint8Array.of(flags), encodeUleb(l.min)];
  if (l.max !== undefined) parts.push(encodeUleb(l.max));
  return concat(parts);
}

export function skipValType(r: Reader): void {
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

/** Limits of one table, in entries. */
export interface TableLimits {
  min: bigint;
  max?: bigint;
  table64: boolean;
}

/** The limits of a table type, with the flags byte kept so bits other than "has a maximum" survive a rewrite. */
interface RawTableLimits {
  flags: number;
  limits: TableLimits;
}

function readTableLimits(r: Reader): RawTableLimits {
  const { flags, min, max } = readRawLimits(r, 'table');
  const table64 = (flags & 0x04) !== 0;
  return { flags, limits: max === undefined ? { min, table64 } : { min, max, table64 } };
}

function encodeTableLimits(flags: number, l: TableLimits): Uint8Array {
  const parts = [Uint8Array.of(l.max !== undefined ? flags | 0x01 : flags & ~0x01), encodeUleb(l.min)];
  if (l.max !== undefined) parts.push(encodeUleb(l.max));
  return concat(parts);
}

/** Skips a signed LEB128 of at most `bits` bits (the value is not needed). */
function skipSleb(r: Reader, bits: number): void {
  const at = r.pos;
  for (let n = 1; ; n++) {
    if ((r.byte() & 0x80) === 0) return;
    if (n >= Math.ceil(bits / 7)) throw new WasmFormatError(`LEB128 at offset ${at} is too long`);
  }
}

/**
 * Skips a constant expression up to and including its `end`: the instructions a table initialiser
 * may use (numeric and vector constants, extended-const arithmetic, global.get, ref.null, ref.func
 * and the GC allocations). Anything else is refused rather than guessed at.
 */
function skipConstExpr(r: Reader): void {
  for (;;) {
    const at = r.pos;
    const op = r.byte();
    switch (op) {
      case 0x0b: // end
        return;
      case 0x41: // i32.const
        skipSleb(r, 32);
        break;
      case 0x42: // i64.const
        skipSleb(r, 64);
        break;
      case 0x43: // f32.const
        r.take(4);
        break;
      case 0x44: // f64.const
        r.take(8);
        break;
      case 0x23: // global.get
      case 0xd2: // ref.func
        r.u32();
        break;
      case 0xd0: // ref.null heaptype
        r.s33();
        break;
      case 0x6a: // i32.add, sub, mul; i64.add, sub, mul (extended-const)
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        break;
      case 0xfd: {
        const sub = r.u32();
        if (sub !== 12) throw new WasmFormatError(`instruction 0xfd ${sub} at offset ${at} is not a constant`);
        r.take(16); // v128.const
        break;
      }
      case 0xfb: {
        const sub = r.u32();
        if (sub === 0 || sub === 1 || sub === 6 || sub === 7) {
          r.u32(); // struct.new(_default), array.new(_default) typeidx
        } else if (sub === 8) {
          r.u32(); // array.new_fixed typeidx count
          r.u32();
        } else if (sub !== 26 && sub !== 27 && sub !== 28) {
          // any.convert_extern, extern.convert_any and ref.i31 take no immediates
          throw new WasmFormatError(`instruction 0xfb ${sub} at offset ${at} is not supported in a constant`);
        }
        break;
      }
      default:
        throw new WasmFormatError(`instruction 0x${op.toString(16)} at offset ${at} is not supported in a constant`);
    }
  }
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

export interface TableInfo {
  /** index in the module's table index space */
  index: number;
  /** "module.field" of an imported table, undefined for a defined one */
  importedFrom?: string;
  before: TableLimits;
  after: TableLimits;
}

export interface CapResult {
  bytes: Uint8Array;
  /** empty unless maxMemoryPages was given */
  memories: MemoryInfo[];
  /** empty unless maxTableEntries was given */
  tables: TableInfo[];
  changed: boolean;
}

export interface LimitCaps {
  /** the most 64 KiB pages any memory may have; memories are left alone without it */
  maxMemoryPages?: number;
  /** the most entries any table may have; tables are left alone without it */
  maxTableEntries?: number;
}

export class MemoryLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemoryLimitError';
  }
}

export class TableLimitError extends Error {
  /** 'entries': a table starts over maxTableEntries; 'count': the module has more than MAX_TABLES_PER_MODULE tables */
  constructor(
    message: string,
    readonly reason: 'entries' | 'count',
  ) {
    super(message);
    this.name = 'TableLimitError';
  }
}

/**
 * Tables one core module may have (imported and defined). Each is capped at maxTableEntries, so this
 * bounds a module's tables together: V8 itself allows 100,000 tables per module, and 1,000 tables of
 * 100,000 entries took 2.7 GB when instantiated. Toolchains emit one or two (StarlingMonkey: one, and
 * one in jco's shim module).
 */
export const MAX_TABLES_PER_MODULE = 16;

function capped<L extends { max?: bigint }>(l: L, limit: bigint): L {
  const max = l.max === undefined || l.max > limit ? limit : l.max;
  return { ...l, max };
}

/**
 * Returns a copy of a core module whose memories (defined and imported) have a maximum of at most
 * `maxPages` pages, so a `memory.grow` past it fails instead of taking host memory. A module whose
 * initial memory is already larger than the limit is refused with a MemoryLimitError.
 */
export function capMemories(bytes: Uint8Array, maxPages: number): CapResult {
  return capLimits(bytes, { maxMemoryPages: maxPages });
}

/**
 * Returns a copy of a core module whose tables (defined and imported) have a maximum of at most
 * `maxEntries` entries, so a `table.grow` past it fails (returns -1) instead of taking host memory.
 * A table that starts with more entries, or a module with more than MAX_TABLES_PER_MODULE tables,
 * is refused with a TableLimitError.
 */
export function capTables(bytes: Uint8Array, maxEntries: number): CapResult {
  return capLimits(bytes, { maxTableEntries: maxEntries });
}

/**
 * capMemories and capTables in one pass over the module (a plugin's main module is ~13 MB): each
 * cap that is given is applied, the other kind is copied through.
 */
export function capLimits(bytes: Uint8Array, caps: LimitCaps): CapResult {
  checkHeader(bytes, CORE_VERSION, 'core module');
  const limit = caps.maxMemoryPages === undefined ? undefined : BigInt(caps.maxMemoryPages);
  const tableLimit = caps.maxTableEntries === undefined ? undefined : BigInt(caps.maxTableEntries);
  const memories: MemoryInfo[] = [];
  const tables: TableInfo[] = [];
  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  let changed = false;
  let memoryIndex = 0;
  let tableIndex = 0;

  const refuse = (info: string, min: bigint): never => {
    throw new MemoryLimitError(memoryLimitMessage(info, min, limit ?? 0n));
  };
  const refuseTable = (info: string, min: bigint): never => {
    throw new TableLimitError(`${info} starts with ${min} entries, over the ${tableLimit} allowed`, 'entries');
  };

  for (const s of sections(bytes)) {
    if (s.id === 2) {
      // import section: memories and tables imported from another module (jco wires core modules together)
      const r = new Reader(bytes, s.payloadStart, s.end);
      const count = r.u32();
      const pieces: Uint8Array[] = [encodeUleb(count)];
      let mark = r.pos;
      for (let i = 0; i < count; i++) {
        const module = r.name();
        const field = r.name();
        const kind = r.byte();
        if (kind === 0x00) r.u32();
        else if (kind === 0x01) {
          skipValType(r); // the reference type
          const limitsAt = r.pos;
          const { flags, limits: before } = readTableLimits(r);
          if (tableLimit === undefined) continue;
          const index = tableIndex++;
          const where = `imported table ${module}.${field} (table ${index})`;
          if (before.min > tableLimit) refuseTable(where, before.min);
          // as with memories: an import without a maximum accepts any table, and the table it is
          // given is capped where it is defined; one with a larger maximum is lowered with it
          const after = before.max === undefined ? before : capped(before, tableLimit);
          tables.push({ index, importedFrom: `${module}.${field}`, before, after });
          if (after.max !== before.max) {
            pieces.push(bytes.subarray(mark, limitsAt), encodeTableLimits(flags, after));
            mark = r.pos;
            changed = true;
          }
        } else if (kind === 0x03) {
          skipValType(r);
          r.byte();
        } else if (kind === 0x04) {
          r.byte();
          r.u32();
        } else if (kind === 0x02) {
          const limitsAt = r.pos;
          const before = readLimits(r);
          if (limit === undefined) continue;
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
    } else if (s.id === 4 && tableLimit !== undefined) {
      // table section: each entry is `reftype limits`, or `0x40 0x00 reftype limits expr` for a
      // table with an initialiser, whose expression is copied through
      const r = new Reader(bytes, s.payloadStart, s.end);
      const count = r.u32();
      const pieces: Uint8Array[] = [encodeUleb(count)];
      for (let i = 0; i < count; i++) {
        const index = tableIndex++;
        const entryAt = r.pos;
        if (bytes[r.pos] === 0x40) {
          r.byte();
          const reserved = r.byte();
          if (reserved !== 0x00) {
            throw new WasmFormatError(`table ${index} has reserved byte 0x${reserved.toString(16)}`);
          }
        }
        skipValType(r);
        const limitsAt = r.pos;
        const { flags, limits: before } = readTableLimits(r);
        const afterLimits = r.pos;
        if (bytes[entryAt] === 0x40) skipConstExpr(r);
        if (before.min > tableLimit) refuseTable(`table ${index}`, before.min);
        const after = capped(before, tableLimit);
        if (after.max !== before.max) changed = true;
        tables.push({ index, before, after });
        pieces.push(
          bytes.subarray(entryAt, limitsAt),
          encodeTableLimits(flags, after),
          bytes.subarray(afterLimits, r.pos),
        );
      }
      if (r.pos !== s.end) throw new WasmFormatError('table section has trailing bytes');
      const payload = concat(pieces);
      out.push(Uint8Array.of(4), encodeUleb(payload.length), payload);
    } else if (s.id === 5 && limit !== undefined) {
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
  if (tableLimit !== undefined && tableIndex > MAX_TABLES_PER_MODULE) {
    throw new TableLimitError(
      `the module has ${tableIndex} tables, over the ${MAX_TABLES_PER_MODULE} a module may have`,
      'count',
    );
  }
  return { bytes: changed ? concat(out) : bytes, memories, tables, changed };
}

/** What a memory that starts over the limit is refused with. */
export function memoryLimitMessage(info: string, min: number | bigint, limit: number | bigint): string {
  return `${info} needs ${min} pages (${formatMiB(BigInt(min))}) initially, more than the limit of ${limit} pages (${formatMiB(BigInt(limit))})`;
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
