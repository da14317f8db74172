import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sha256Hex } from '@awasm/shared';

/** Bumped when the layout or the transpile options change, so old entries are rebuilt. */
const LAYOUT_VERSION = 2;
const COMPONENT_JS = 'component.mjs';

export const SHA256_HEX = /^[0-9a-f]{64}$/;

// The one sha256 helper of the workspace, re-exported for the runner's callers.
export { sha256Hex };

export class DigestMismatchError extends Error {
  constructor(expected: string, actual: string) {
    super(`component bytes have sha256 ${actual}, expected ${expected}`);
    this.name = 'DigestMismatchError';
  }
}

/** A component transpiled by jco: the JS glue on disk and the (unpatched) core modules. */
export interface TranspiledComponent {
  digest: string;
  dir: string;
  /** file URL of the ES module that exports instantiate() */
  componentUrl: string;
  /** core module bytes by the file name the glue asks for */
  coreModules: Map<string, Uint8Array>;
  /** interface names (no version) the glue reads from the import object */
  imports: string[];
  /** export names as jco lists them */
  exports: string[];
}

interface Meta {
  layout: number;
  digest: string;
  files: Record<string, string>;
  imports: string[];
  exports: string[];
}

export type TranspileFn = (
  bytes: Uint8Array,
) => Promise<{ files: Record<string, Uint8Array>; imports: string[]; exports: [string, string][] }>;

async function jcoTranspile(bytes: Uint8Array) {
  const { transpile } = await import('@bytecodealliance/jco');
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
 * jco's glue calls `_debugLog(label, {...})` hundreds of times per call, and each call reads
 * `process.env.JCO_DEBUG` (a slow, intercepted property in Node). Debug logging of the glue is
 * never wanted in the runner, so the function becomes a no-op that V8 inlines away, together with
 * the argument objects built for it. A glue without that definition is left as it is.
 */
export function optimiseGlue(js: string): string {
  return js.replace(
    /const _debugLog = \(\.\.\.args\) => \{\s*if \(!globalThis\?\.process\?\.env\?\.JCO_DEBUG\) \{ return; \}\s*console\.debug\(\.\.\.args\);\s*\};/,
    'const _debugLog = () => {};',
  );
}

/**
 * Transpiles each component once and keeps the result under `<dir>/<sha256>/`. An entry is written
 * to a temporary folder and renamed into place, and every file is checked against its recorded
 * sha256 when read back; a damaged entry is rebuilt.
 */
export class TranspileCache {
  private readonly inflight = new Map<string, Promise<TranspiledComponent>>();
  private readonly transpileFn: TranspileFn;
  /** transpiles performed by this instance (cache misses) */
  transpiles = 0;

  constructor(
    readonly dir: string,
    options: { transpile?: TranspileFn } = {},
  ) {
    this.transpileFn = options.transpile ?? jcoTranspile;
  }

  /**
   * The transpiled form of `bytes`, which must hash to `digest` (checked before anything else).
   * `hit` tells whether it came from disk.
   */
  async get(digest: string, bytes: Uint8Array): Promise<{ entry: TranspiledComponent; hit: boolean }> {
    if (!SHA256_HEX.test(digest)) throw new Error(`digest '${digest}' is not a lowercase sha256 hex string`);
    const actual = sha256Hex(bytes);
    if (actual !== digest) throw new DigestMismatchError(digest, actual);

    const cached = await this.read(digest);
    if (cached) return { entry: cached, hit: true };
    let pending = this.inflight.get(digest);
    if (!pending) {
      pending = this.build(digest, bytes).finally(() => this.inflight.delete(digest));
      this.inflight.set(digest, pending);
    }
    return { entry: await pending, hit: false };
  }

  entryDir(digest: string): string {
    return join(this.dir, digest);
  }

  private async read(digest: string): Promise<TranspiledComponent | undefined> {
    const dir = this.entryDir(digest);
    let meta: Meta;
    try {
      meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Meta;
    } catch {
      return undefined;
    }
    if (meta.layout !== LAYOUT_VERSION || meta.digest !== digest || !meta.files[COMPONENT_JS]) return undefined;
    const coreModules = new Map<string, Uint8Array>();
    for (const [name, hash] of Object.entries(meta.files)) {
      if (name.includes('/') || name.includes('\\')) return undefined;
      let content: Uint8Array;
      try {
        content = new Uint8Array(await readFile(join(dir, name)));
      } catch {
        return undefined;
      }
      if (sha256Hex(content) !== hash) return undefined;
      if (name.endsWith('.wasm')) coreModules.set(name, content);
    }
    return {
      digest,
      dir,
      componentUrl: pathToFileURL(join(dir, COMPONENT_JS)).href,
      coreModules,
      imports: meta.imports,
      exports: meta.exports,
    };
  }

  private async build(digest: string, bytes: Uint8Array): Promise<TranspiledComponent> {
    const out = await this.transpileFn(bytes);
    this.transpiles++;
    const files: Record<string, Uint8Array> = {};
    for (const [name, content] of Object.entries(out.files)) {
      if (name === 'component.js')
        files[COMPONENT_JS] = new TextEncoder().encode(optimiseGlue(new TextDecoder().decode(content)));
      else if (name.endsWith('.wasm') && !name.includes('/')) files[name] = content;
    }
    if (!files[COMPONENT_JS]) throw new Error('jco produced no component.js');

    await mkdir(this.dir, { recursive: true });
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
        if (theirs) return theirs;
        throw err;
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    const entry = await this.read(digest);
    if (!entry) throw new Error(`transpiled entry ${digest} could not be read back`);
    return entry;
  }
}
