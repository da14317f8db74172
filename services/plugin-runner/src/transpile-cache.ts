import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sha256Hex } from '@awasm/shared';
import { MIN_SPLIT_BYTES, splitDataSegments } from './engine-split.js';
import { WasmFormatError } from './wasm-binary.js';

/** Bumped when the layout or the transpile options change, so old entries are rebuilt. */
const LAYOUT_VERSION = 13;
const COMPONENT_JS = 'component.mjs';

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The most handles of one resource type (fields, requests, pollables, streams, ...) an instance may
 * hold at once. Without a cap a guest that creates resources in a loop and never drops them grows
 * the glue's handle tables until one reallocation is larger than the worker's heap allows, and V8
 * then aborts the whole process, not only the worker. Guests leak some handles in normal use
 * (componentize-js's engine keeps three input-stream pollables per GET), so the runner retires an
 * instance between calls once it holds HANDLES_TO_RECYCLE of one type, before the cap traps a call.
 */
export const MAX_HANDLES_PER_RESOURCE_TYPE = 50_000;
export const HANDLES_TO_RECYCLE = MAX_HANDLES_PER_RESOURCE_TYPE / 2;
/** Where the patched glue keeps the most handle slots any of its tables has had (read by the worker). */
export const HANDLE_SLOTS_GLOBAL = '__awasmHandleSlots';

/**
 * The longest string (UTF-8 bytes) and the longest list (elements; byte lists excepted, they are
 * copied outside the JS heap) the glue lifts out of a guest's memory, in an import's arguments or
 * an export's result. Node ends a worker that reaches its heap limit cleanly only while no single
 * allocation is larger than the 16 MB of leeway it then grants; a larger one (a list of millions of
 * handles, a string of hundreds of MB) makes V8 abort the whole process. These caps keep every
 * lifted string and list array well under that, so a guest that lifts too much in total ends its
 * own worker (ERR_WORKER_OUT_OF_MEMORY) and nothing else.
 */
export const MAX_LIFTED_STRING_BYTES = 4 * 1024 * 1024;
export const MAX_LIFTED_LIST_ELEMENTS = 500_000;
/**
 * The most the glue lifts out of a guest's memory in one crossing: the arguments of one import
 * call, or the result of one export call. Values may alias (128 byte lists all pointing at one
 * 32 MiB buffer), so each lift is counted before it is copied, with what the copy costs the host
 * besides its bytes (LIFTED_*_OVERHEAD). The largest legitimate crossings are a result page (a few
 * hundred kB) and a 1 MiB stream write; past the budget the lift traps.
 */
export const MAX_LIFTED_BYTES_PER_CALL = 16 * 1024 * 1024;
/** Counted for every lifted string on top of its bytes (V8's string header and the slot holding it). */
export const LIFTED_STRING_OVERHEAD = 16;
/** Counted for every lifted byte or number list on top of its bytes (an ArrayBuffer and a typed array view). */
export const LIFTED_BUFFER_OVERHEAD = 192;
/** Counted for every element of a lifted list on top of its size in guest memory (its slot and object). */
export const LIFTED_ELEMENT_OVERHEAD = 16;

export interface LiftCaps {
  maxStringBytes: number;
  maxListElements: number;
  maxBytesPerCall: number;
}

/** jco's helper that gives a guest a new own handle: the one place handle tables grow. */
const CREATE_OWN = `  function rscTableCreateOwn (table, rep) {
    const free = table[0] & ~T_FLAG;
    if (free === 0) {
      table.push(0);`;

/** The text decoders jco's glue makes to lift strings: utf8Decoder, and utf16Decoder for a component whose canonical options say utf16. */
const DECODER = /^( *)const (utf8Decoder|utf16Decoder) = new TextDecoder\(([^)]*)\);$/gm;
/** A list lifted element by element: its array, the loop and the element's size in guest memory. */
const LIST_LIFT =
  /var (result\d+) = \[\];\n(\s*)for \(let i = 0; i < (len\d+); i\+\+\) \{\n(\s*)const base = (base\d+) \+ i \* (\d+);/g;
/** Every loop over a lifted length (lowering loops run over `vecN.length`). */
const LIFT_LOOP = /for \(let i = 0; i < len\d+; i\+\+\)/g;
/** A byte or number list lifted in one copy. */
const SLICE_LIFT = /\b(memory\d+)\.buffer\.slice\((ptr\d+), \2 \+ (len\d+) \* (\d+)\)/g;
/** An import's lowering: each starts a new crossing. */
const TRAMPOLINE_START = /^( *)function (trampoline\d+)\s*\([^)]*\)\s*\{\n/gm;
/** A core function the glue takes from a core instance's exports (canonical-ABI helpers excepted). */
const CORE_EXPORT = /\b([\w$]+) = exports\d+\['(?!cabi_)([^']+)'\];/g;
const FUNCTION_START = /\bfunction\*?\s*([\w$]*)\s*\(/g;

/** Names the patched glue uses; jco's own names never start with `__awasm`. */
const LIFTED = '__awasmLifted';
const LIFT = '__awasmLift';
const LIFT_SLICE = '__awasmLiftSlice';
const RESULT = '__awasmResult';
/** Marks where a crossing's count starts again (both resets below start with it). */
const RESET = `${LIFTED} = 0;`;
/** An import's lowering: what it lifts are values the plugin passes to the host. */
const RESET_ARGS = `${RESET} ${RESULT} = false;`;
/** After an export's core call: what it lifts is the export's result. */
const RESET_RESULT = `${RESET} ${RESULT} = true;`;

/**
 * The glue with every string and list it lifts from a guest capped (MAX_LIFTED_STRING_BYTES,
 * MAX_LIFTED_LIST_ELEMENTS) and counted against one budget per crossing (MAX_LIFTED_BYTES_PER_CALL):
 * the count starts again at the start of every import's lowering and after every export's core
 * call, before its result is lifted. Past a cap the lift throws a WebAssembly.RuntimeError (a trap)
 * before anything is copied. Throws when the glue makes a text decoder other than the ones this
 * caps, copies guest memory in another shape, or lifts anywhere the count does not start again, so
 * a jco upgrade cannot drop a cap silently.
 */
export function capLifts(glue: string, caps: Partial<LiftCaps> = {}): string {
  const maxStringBytes = caps.maxStringBytes ?? MAX_LIFTED_STRING_BYTES;
  const maxListElements = caps.maxListElements ?? MAX_LIFTED_LIST_ELEMENTS;
  const maxBytes = caps.maxBytesPerCall ?? MAX_LIFTED_BYTES_PER_CALL;
  let decoders = 0;
  let out = glue.replace(DECODER, (_all, indent: string, name: string, args: string) => {
    decoders++;
    return `${indent}const ${name} = ((decoder) => ({
${indent}  decode(bytes) {
${indent}    if (bytes.byteLength > ${maxStringBytes}) throw new WebAssembly.RuntimeError(\`the plugin passed a string of \${bytes.byteLength} bytes, over ${maxStringBytes}\`);
${indent}    ${LIFT}(bytes.byteLength + ${LIFTED_STRING_OVERHEAD});
${indent}    return decoder.decode(bytes);
${indent}  },
${indent}}))(new TextDecoder(${args}));`;
  });
  if ((glue.match(/new TextDecoder\(/g) ?? []).length !== decoders) {
    throw new Error('the glue makes a text decoder this cannot cap');
  }
  let lists = 0;
  out = out.replace(
    LIST_LIFT,
    (_all, result: string, indent: string, len: string, bodyIndent: string, base: string, size: string) => {
      lists++;
      return `var ${result} = [];
${indent}if (${len} > ${maxListElements}) throw new WebAssembly.RuntimeError(\`the plugin passed a list of \${${len}} elements, over ${maxListElements}\`);
${indent}if (${len} > 0) ${LIFT}(${len} * ${Number(size) + LIFTED_ELEMENT_OVERHEAD});
${indent}for (let i = 0; i < ${len}; i++) {
${bodyIndent}const base = ${base} + i * ${size};`;
    },
  );
  if ((glue.match(LIFT_LOOP) ?? []).length !== lists) {
    throw new Error('the glue lifts a list in a shape this cannot count');
  }
  let slices = 0;
  out = out.replace(SLICE_LIFT, (_all, memory: string, ptr: string, len: string, size: string) => {
    slices++;
    return `${LIFT_SLICE}(${memory}.buffer, ${ptr}, ${len}, ${size})`;
  });
  if ((glue.match(/\.buffer\.slice\(/g) ?? []).length !== slices) {
    throw new Error('the glue copies guest memory in a shape this cannot count');
  }
  if (decoders === 0 && lists === 0 && slices === 0) return glue;
  out = out.replace(TRAMPOLINE_START, (all, indent: string) => `${all}${indent}  ${RESET_ARGS}\n`);
  const cores = new Set([...out.matchAll(CORE_EXPORT)].map((m) => m[1] as string));
  out = out.replace(/\bconst ret = ([\w$]+)\(.*\);$/gm, (all, callee: string) =>
    cores.has(callee) ? `${all} ${RESET_RESULT}` : all,
  );
  checkCrossings(out);
  const budget = `let ${LIFTED} = 0;
let ${RESULT} = false;
function ${LIFT}(bytes) {
  ${LIFTED} += bytes;
  if (${LIFTED} <= ${maxBytes}) return;
  throw new WebAssembly.RuntimeError(${RESULT}
    ? 'the plugin returned a result of more than ${maxBytes} bytes'
    : \`the plugin passed \${${LIFTED}} bytes in one call, over ${maxBytes}\`);
}
function ${LIFT_SLICE}(buffer, ptr, len, size) {
  ${LIFT}(Math.max(0, len) * size + ${LIFTED_BUFFER_OVERHEAD});
  return buffer.slice(ptr, ptr + len * size);
}
`;
  return budget + out;
}

/**
 * Throws unless every lift in the patched glue is in a function whose count starts again before
 * it: an import's lowering (from its first line) or an export's (after its core call).
 */
function checkCrossings(patched: string): void {
  const starts = [...patched.matchAll(FUNCTION_START)].map((m) => m.index as number);
  // string lifts, byte list copies and the count of a list's elements (not the helpers' definitions)
  const sites = /\b(?:utf8Decoder|utf16Decoder)\.decode\(|\b__awasmLiftSlice\(|\) __awasmLift\(/g;
  for (const site of patched.matchAll(sites)) {
    const at = site.index as number;
    let fn = -1;
    for (const s of starts) {
      if (s > at) break;
      fn = s;
    }
    if (fn < 0 || !patched.slice(fn, at).includes(RESET)) {
      const line = patched.slice(0, at).split('\n').length;
      throw new Error(`the glue lifts from guest memory where the per-call count does not start (line ${line})`);
    }
  }
}

/** jco's fallback when a handle the guest passes names no resource the host made. */
const UNKNOWN_HANDLE = /if \(!(rsc\d+)\) \{\n(\s*)\1 = Object\.create\(([\w$]+)\.prototype\);/g;

/**
 * The glue trapping, with the resource named, when a guest passes a handle that names nothing the
 * host handed it (dropped, or made up). Every resource in the source world is the host's, so jco's
 * fallback of a bare object of the class (meant for resources a component exports) only made the
 * host's method fail on it with V8's "Cannot read private member" text. Throws when the glue makes
 * such an object anywhere else, so a jco upgrade cannot skip the check silently.
 */
export function refuseUnknownHandles(glue: string): string {
  let patched = 0;
  const out = glue.replace(UNKNOWN_HANDLE, (all, _rsc: string, indent: string, name: string) => {
    patched++;
    return all.replace(
      /\{\n/,
      // jco renames a class that clashes with a global (Error$1 for wasi:io's error)
      `{\n${indent}throw new WebAssembly.RuntimeError('the plugin used an invalid ${name.replace(/\$\d+$/, '')} handle (dropped, or never handed to it)');\n`,
    );
  });
  if ((glue.match(/Object\.create\(/g) ?? []).length !== patched) {
    throw new Error('the glue makes resource objects in a way this cannot check');
  }
  return out;
}

/**
 * The glue with its handle tables capped at `max` live handles per resource type: past that, the
 * import call that would hand out one more throws a WebAssembly.RuntimeError (a trap). Throws when
 * the glue uses the helper but not in the shape this patches, so a jco upgrade cannot drop the cap
 * silently.
 */
export function capHandleTables(glue: string, max = MAX_HANDLES_PER_RESOURCE_TYPE): string {
  // a component whose world has no resources has no handle tables
  if (!glue.includes('rscTableCreateOwn')) return glue;
  const at = glue.indexOf(CREATE_OWN);
  if (at < 0 || glue.indexOf(CREATE_OWN, at + 1) >= 0) {
    throw new Error('the glue has no single rscTableCreateOwn helper of the expected shape to cap');
  }
  const capped = `  function rscTableCreateOwn (table, rep) {
    const free = table[0] & ~T_FLAG;
    if (free === 0) {
      if (table.length >> 1 > ${max}) throw new WebAssembly.RuntimeError('the plugin holds more than ${max} handles of one resource type');
      if (table.length >> 1 > (globalThis.${HANDLE_SLOTS_GLOBAL} ?? 0)) globalThis.${HANDLE_SLOTS_GLOBAL} = table.length >> 1;
      table.push(0);`;
  return glue.slice(0, at) + capped + glue.slice(at + CREATE_OWN.length);
}

// The one sha256 helper of the workspace, re-exported for the runner's callers.
export { sha256Hex };

/**
 * Work started on each core module as soon as it is read, before its hash is checked (the runner
 * compiles it: V8 compiles on background threads while the hashes are computed here). Its result
 * is handed out only when every hash matched.
 */
export type PrepareFn<T> = (name: string, bytes: Uint8Array) => Promise<T>;

/**
 * Files up to this size are read at once, synchronously: an asynchronous read is four thread-pool
 * round trips (open, stat, read, close), each waiting for a turn of the event loop, which a booting
 * worker keeps busy.
 */
const SYNC_READ_MAX = 256 * 1024;

/**
 * A file in as few reads as it takes (readFile reads 512 KiB at a time, a thread-pool round trip
 * each, and a large core module is read while the event loop is busy hashing).
 */
async function readWhole(path: string): Promise<Uint8Array> {
  if (statSync(path).size <= SYNC_READ_MAX) {
    const bytes = readFileSync(path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const out = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await file.read(out, at, size - at, at);
      if (bytesRead === 0) throw new Error(`${path} ended after ${at} of ${size} bytes`);
      at += bytesRead;
    }
    return out;
  } finally {
    await file.close();
  }
}

export class DigestMismatchError extends Error {
  constructor(expected: string, actual: string) {
    super(`component bytes have sha256 ${actual}, expected ${expected}`);
    this.name = 'DigestMismatchError';
  }
}

/** The cached engine file of a split core module was missing or did not match its hash (it is removed). */
export class EngineDamagedError extends Error {
  constructor(
    readonly engineDigest: string,
    reason: string,
  ) {
    super(`the cached engine ${engineDigest} ${reason}`);
    this.name = 'EngineDamagedError';
  }
}

/**
 * A core module kept as a shared engine plus its own data (engine-split.ts): the engine's bytes are
 * read with `TranspileCache.engineBytes` only by a runner that has not compiled that engine yet.
 */
export interface SplitCoreModule {
  /** sha256 of the engine's bytes */
  engineDigest: string;
  initialPages: number;
  maximumPages?: number;
  /** the data segments, encoded (worker/engine-data.mjs) */
  data: Uint8Array;
}

/** A component transpiled by jco: the JS glue on disk and the (unpatched) core modules. */
export interface TranspiledComponent {
  digest: string;
  dir: string;
  /** file URL of the ES module that exports instantiate() */
  componentUrl: string;
  /** core module bytes by the file name the glue asks for (whole modules) */
  coreModules: Map<string, Uint8Array>;
  /** the core modules kept split, by the file name the glue asks for */
  splitModules: Map<string, SplitCoreModule>;
  /** interface names (no version) the glue reads from the import object */
  imports: string[];
  /** export names as jco lists them */
  exports: string[];
}

interface Meta {
  layout: number;
  digest: string;
  files: Record<string, string>;
  /** split core modules by the name the glue asks for; their data is `<name>.data` among `files` */
  split: Record<string, { engine: string; initialPages: number; maximumPages?: number }>;
  imports: string[];
  exports: string[];
}

export type TranspileFn = (
  bytes: Uint8Array,
) => Promise<{ files: Record<string, Uint8Array>; imports: string[]; exports: [string, string][] }>;

/**
 * The glue comes from jco 1.11 (installed under the alias `jco-transpiler`), not from the jco the
 * rest of the workspace uses: later versions wrap every import and export call in the component
 * model's async task bookkeeping (tasks, subtasks, per-call metadata), which costs every host call
 * and makes the glue slower to load and instantiate. Nothing the runner loads uses the async ABI,
 * which the import policy does not admit anyway.
 */
async function jcoTranspile(bytes: Uint8Array) {
  const { transpile } = (await import('jco-transpiler')) as unknown as typeof import('@bytecodealliance/jco');
  return transpile(bytes, {
    name: 'component',
    instantiation: 'async',
    noTypescript: true,
    nodejsCompat: false,
    tlaCompat: false,
    // every core module as a file: they are compiled once by the runner, never inlined
    base64Cutoff: 0,
    quiet: true,
  });
}

/**
 * Transpiles each component once and keeps the result under `<dir>/<sha256>/`. An entry is written
 * to a temporary folder and renamed into place, and every file is checked against its recorded
 * sha256 when read back; a damaged entry is rebuilt.
 */
export class TranspileCache {
  private readonly inflight = new Map<string, Promise<TranspiledComponent>>();
  private readonly transpileFn: TranspileFn;
  private readonly minSplitBytes: number;
  /** transpiles performed by this instance (cache misses) */
  transpiles = 0;

  /**
   * `splitAt`: core modules of at least this many bytes are kept as a shared engine plus their
   * data when they can be (engine-split.ts); Infinity keeps every module whole. Entries written
   * with another value are still read as they are.
   */
  constructor(
    readonly dir: string,
    options: { transpile?: TranspileFn; splitAt?: number } = {},
  ) {
    this.transpileFn = options.transpile ?? jcoTranspile;
    this.minSplitBytes = options.splitAt ?? MIN_SPLIT_BYTES;
  }

  enginePath(engineDigest: string): string {
    return join(this.dir, 'engines', `${engineDigest}.wasm`);
  }

  /**
   * The bytes of a shared engine, checked against its digest. A missing or damaged file throws
   * EngineDamagedError and is removed, with every entry that uses it left to be rebuilt by `forget`.
   */
  async engineBytes(engineDigest: string): Promise<Uint8Array> {
    if (!SHA256_HEX.test(engineDigest)) throw new EngineDamagedError(engineDigest, 'is not named by a sha256');
    const path = this.enginePath(engineDigest);
    let bytes: Uint8Array;
    try {
      bytes = await readWhole(path);
    } catch {
      throw new EngineDamagedError(engineDigest, 'is missing');
    }
    if (sha256Hex(bytes) !== engineDigest) {
      await rm(path, { force: true });
      throw new EngineDamagedError(engineDigest, 'did not match its hash and was removed');
    }
    // its time says which engines are in use (for whoever prunes the cache)
    const now = new Date();
    await utimes(path, now, now).catch(() => {});
    return bytes;
  }

  /** Removes the entry for `digest`, so the next `get` transpiles it again. */
  async forget(digest: string): Promise<void> {
    if (!SHA256_HEX.test(digest)) throw new Error(`digest '${digest}' is not a lowercase sha256 hex string`);
    await rm(this.entryDir(digest), { recursive: true, force: true });
  }

  /**
   * The transpiled form of `bytes`, which must hash to `digest` (checked before anything else).
   * `hit` tells whether it came from disk.
   */
  async get<T = never>(
    digest: string,
    bytes: Uint8Array,
    prepare?: PrepareFn<T>,
  ): Promise<{ entry: TranspiledComponent; hit: boolean; prepared?: Map<string, T> }> {
    if (!SHA256_HEX.test(digest)) throw new Error(`digest '${digest}' is not a lowercase sha256 hex string`);
    // the cached files are read (on the thread pool) while the component is hashed here
    const reading = this.read(digest, prepare);
    const actual = sha256Hex(bytes);
    if (actual !== digest) {
      void reading.catch(() => {});
      throw new DigestMismatchError(digest, actual);
    }
    const cached = await reading;
    if (cached) return { entry: cached.entry, hit: true, ...(cached.prepared ? { prepared: cached.prepared } : {}) };
    let pending = this.inflight.get(digest);
    if (!pending) {
      pending = this.build(digest, bytes).finally(() => this.inflight.delete(digest));
      this.inflight.set(digest, pending);
    }
    const entry = await pending;
    if (!prepare) return { entry, hit: false };
    const prepared = new Map<string, T>();
    for (const [name, content] of entry.coreModules) prepared.set(name, await prepare(name, content));
    return { entry, hit: false, prepared };
  }

  entryDir(digest: string): string {
    return join(this.dir, digest);
  }

  private async read<T>(
    digest: string,
    prepare?: PrepareFn<T>,
  ): Promise<{ entry: TranspiledComponent; prepared?: Map<string, T> } | undefined> {
    const dir = this.entryDir(digest);
    let meta: Meta;
    try {
      meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
    } catch {
      return undefined;
    }
    if (meta.layout !== LAYOUT_VERSION || meta.digest !== digest || !meta.files[COMPONENT_JS]) return undefined;
    const names = Object.entries(meta.files);
    if (names.some(([name]) => name.includes('/') || name.includes('\\'))) return undefined;
    const split = Object.entries(meta.split ?? {});
    // an entry whose engine is gone is rebuilt (the engine's hash is checked when it is read)
    for (const [name, s] of split) {
      if (!meta.files[`${name}.data`] || !SHA256_HEX.test(s.engine)) return undefined;
      try {
        statSync(this.enginePath(s.engine));
      } catch {
        return undefined;
      }
    }
    const contents = await Promise.all(names.map(([name]) => readWhole(join(dir, name)).catch(() => undefined)));
    const files = new Map<string, Uint8Array>();
    for (const [i, [name]] of names.entries()) {
      const content = contents[i];
      if (!content) return undefined;
      files.set(name, content);
    }
    const wasm = [...files].filter(([name]) => name.endsWith('.wasm'));
    const preparing = prepare
      ? wasm.map(([name, content]) => {
          let p: Promise<T>;
          try {
            p = prepare(name, content);
          } catch (err) {
            // a damaged file may make it throw at once; that counts only if the hashes match
            p = Promise.reject(err);
          }
          p.catch(() => {}); // awaited below, or dropped with the entry
          return [name, p] as const;
        })
      : undefined;
    // a damaged entry is rebuilt; what was prepared from it is dropped
    for (const [name, hash] of names) if (sha256Hex(files.get(name) as Uint8Array) !== hash) return undefined;
    const entry: TranspiledComponent = {
      digest,
      dir,
      componentUrl: pathToFileURL(join(dir, COMPONENT_JS)).href,
      coreModules: new Map(wasm),
      splitModules: new Map(
        split.map(([name, s]) => [
          name,
          {
            engineDigest: s.engine,
            initialPages: s.initialPages,
            ...(s.maximumPages !== undefined ? { maximumPages: s.maximumPages } : {}),
            data: files.get(`${name}.data`) as Uint8Array,
          },
        ]),
      ),
      imports: meta.imports,
      exports: meta.exports,
    };
    if (!preparing) return { entry };
    const prepared = new Map<string, T>();
    for (const [name, p] of preparing) prepared.set(name, await p);
    return { entry, prepared };
  }

  private async build(digest: string, bytes: Uint8Array): Promise<TranspiledComponent> {
    const out = await this.transpileFn(bytes);
    this.transpiles++;
    const files: Record<string, Uint8Array> = {};
    for (const [name, content] of Object.entries(out.files)) {
      if (name === 'component.js') {
        const glue = new TextDecoder().decode(content);
        files[COMPONENT_JS] = new TextEncoder().encode(refuseUnknownHandles(capLifts(capHandleTables(glue))));
      } else if (name.endsWith('.wasm') && !name.includes('/')) files[name] = content;
    }
    if (!files[COMPONENT_JS]) throw new Error('jco produced no component.js');

    await mkdir(this.dir, { recursive: true });
    const split: Meta['split'] = {};
    for (const [name, content] of Object.entries(files)) {
      if (!name.endsWith('.wasm') || content.length < this.minSplitBytes) continue;
      const parts = splitModule(content);
      if (!parts) continue;
      const engineDigest = sha256Hex(parts.engine);
      // the worker tells split modules apart by their compiled engine: one engine per component
      if (Object.values(split).some((s) => s.engine === engineDigest)) continue;
      await this.writeEngine(engineDigest, parts.engine);
      delete files[name];
      files[`${name}.data`] = parts.data;
      split[name] = {
        engine: engineDigest,
        initialPages: parts.initialPages,
        ...(parts.maximumPages !== undefined ? { maximumPages: parts.maximumPages } : {}),
      };
    }
    const tmp = join(this.dir, `.tmp-${digest}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp);
    try {
      const hashes: Record<string, string> = {};
      for (const [name, content] of Object.entries(files)) {
        await writeFile(join(tmp, name), content);
        hashes[name] = sha256Hex(content);
      }
      const meta: Meta = {
        layout: LAYOUT_VERSION,
        digest,
        files: hashes,
        split,
        imports: out.imports,
        exports: out.exports.map(([name]) => name),
      };
      await writeFile(join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
      const dir = this.entryDir(digest);
      await rm(dir, { recursive: true, force: true });
      try {
        await rename(tmp, dir);
      } catch (err) {
        // another process finished the same entry first; use theirs if it reads back
        const theirs = await this.read(digest);
        if (theirs) return theirs.entry;
        throw err;
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    const entry = await this.read(digest);
    if (!entry) throw new Error(`transpiled entry ${digest} could not be read back`);
    return entry.entry;
  }

  /** Writes an engine under its digest (a temporary file renamed into place: readers never see half). */
  private async writeEngine(engineDigest: string, bytes: Uint8Array): Promise<void> {
    const dir = join(this.dir, 'engines');
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.tmp-${engineDigest}-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, this.enginePath(engineDigest));
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/**
 * A core module's engine and data when it can be split and the engine still validates (it does not
 * when the code uses memory.init or data.drop, which need the data count); undefined keeps it whole.
 */
function splitModule(bytes: Uint8Array) {
  try {
    const parts = splitDataSegments(bytes);
    if ('refused' in parts) return undefined;
    return WebAssembly.validate(parts.engine) ? parts : undefined;
  } catch (err) {
    // a module this cannot read is kept whole, for the compile to report
    if (err instanceof WasmFormatError) return undefined;
    throw err;
  }
}
