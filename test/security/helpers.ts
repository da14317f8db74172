/**
 * The sandbox tests' own attack plugins (test/security/plugins, test/security/wit). What any test
 * needs (a runner pool, a recording HTTP server, a captured logger, RSS sampling) is in test/support.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '@awasm/plugin-runner';
import { buildJsComponent } from '@awasm/plugin-sdk';
import { repoRoot } from '../support/index.js';
import type { Built } from '../support/runner.js';

const cacheRoot = join(repoRoot, '.cache');

type PluginName = 'fetcher' | 'misbehave' | 'snoop';

const WORLDS: Record<PluginName, string | undefined> = { fetcher: undefined, misbehave: undefined, snoop: 'snoop' };

/**
 * A WIT folder for the attack worlds in test/security/wit: those files plus the repository's
 * wit/deps and the source world as a dependency. Written under .cache, named by its content.
 */
export async function attackWitDir(): Promise<string> {
  const files: Array<[string, string]> = [];
  const add = async (from: string, to: string) => files.push([to, await readFile(from, 'utf8')]);
  await add(join(repoRoot, 'test/security/wit/attack.wit'), 'attack.wit');
  await add(join(repoRoot, 'wit/source.wit'), 'deps/awasm-source/source.wit');
  for (const dep of ['cli', 'clocks', 'filesystem', 'http', 'io', 'random', 'sockets']) {
    await add(join(repoRoot, 'wit/deps', dep, 'package.wit'), `deps/${dep}/package.wit`);
  }
  const hash = createHash('sha256');
  for (const [name, text] of files) hash.update(`${name}\0${text}\0`);
  const dir = join(cacheRoot, 'security-wit', hash.digest('hex').slice(0, 16));
  try {
    await stat(join(dir, 'attack.wit'));
    return dir;
  } catch {
    // not written yet
  }
  const tmp = `${dir}.${process.pid}.tmp`;
  for (const [name, text] of files) {
    await mkdir(join(tmp, name, '..'), { recursive: true });
    await writeFile(join(tmp, name), text);
  }
  try {
    await rename(tmp, dir);
  } catch {
    await rm(tmp, { recursive: true, force: true }); // another test process wrote it first
  }
  return dir;
}

/** Holds a cross-process lock so parallel test files do not build the same component twice at once. */
async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = join(cacheRoot, 'security-build-locks');
  await mkdir(dir, { recursive: true });
  const lock = join(dir, name);
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > 5 * 60_000) await rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Builds an attack plugin from test/security/plugins/<name>/index.js (cached by source hash). */
export async function buildPlugin(name: PluginName): Promise<Built> {
  const world = WORLDS[name];
  const witDir = world ? await attackWitDir() : undefined;
  const built = await withLock(name, () =>
    buildJsComponent({
      sourcePath: join(repoRoot, 'test/security/plugins', name, 'index.js'),
      ...(witDir && world ? { witDir, worldName: world } : {}),
    }),
  );
  return { bytes: built.bytes, digest: sha256Hex(built.bytes) };
}

/**
 * The core module of a table bomb, in WAT, for the `bare` world (the source API's canonical-ABI
 * exports, as wit-component names them, a memory and a bump allocator). Its table 0 starts with
 * `initialEntries` entries and has no maximum; `extraTables` more tables of one entry follow.
 * - `list(popular)` grows table 0 by 1,000,000 entries at a time, then by a tenth of that each time
 *   table.grow returns -1, down to 1, and then executes `unreachable` (a trap);
 * - `list(latest)` grows it the same way and returns the typed error `internal("<entries>")`, the
 *   size table 0 reached;
 * - every other call returns `unsupported`.
 * Without a maximum V8 lets the table reach 10,000,000 entries, about 270 MB of host memory.
 */
function tableBombWat(initialEntries: number, extraTables: number): string {
  const api = (name: string) => `"cm32p2|awasm:source/source-api@0.1|${name}"`;
  const unsupported = (name: string, params: number) =>
    `(func (export ${api(name)}) ${params ? `(param ${'i32 '.repeat(params).trim()}) ` : ''}(result i32)
      (i32.store8 (i32.const 0) (i32.const 1)) (i32.store8 (i32.const 4) (i32.const 6)) (i32.const 0))`;
  const posts = ['search', 'list', 'get-media', 'list-units', 'get-assets', 'filters']
    .map((name) => `(func (export ${api(`${name}_post`)}) (param i32))`)
    .join('\n  ');
  return `(module
  (memory (export "cm32p2_memory") 1)
  (table $t ${initialEntries} funcref)
  ${'(table 1 funcref) '.repeat(extraTables)}
  (global $heap (mut i32) (i32.const 1024))
  (func $grow (result i32)
    (local $step i32)
    (local.set $step (i32.const 1000000))
    (block $done
      (loop $more
        (if (i32.eq (table.grow $t (ref.null func) (local.get $step)) (i32.const -1))
          (then
            (br_if $done (i32.eq (local.get $step) (i32.const 1)))
            (local.set $step (i32.div_u (local.get $step) (i32.const 10)))))
        (br $more)))
    (table.size $t))
  ;; writes the decimal digits of n to end at offset 64 and returns where they start
  (func $digits (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (i32.const 64))
    (loop $d
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $d (local.get $n)))
    (local.get $p))
  (func (export ${api('list')}) (param $listing i32) (param i32 i32 i32) (result i32)
    (local $size i32)
    (local $at i32)
    (local.set $size (call $grow))
    (if (i32.eqz (local.get $listing)) (then unreachable))
    (local.set $at (call $digits (local.get $size)))
    ;; result<media-page, source-error> at 0: err (1), then source-error internal (8) with its string
    (i32.store8 (i32.const 0) (i32.const 1))
    (i32.store8 (i32.const 4) (i32.const 8))
    (i32.store (i32.const 8) (local.get $at))
    (i32.store (i32.const 12) (i32.sub (i32.const 64) (local.get $at)))
    (i32.const 0))
  ${unsupported('search', 7)}
  ${unsupported('get-media', 2)}
  ${unsupported('list-units', 5)}
  ${unsupported('get-assets', 2)}
  ${unsupported('filters', 0)}
  ${posts}
  (func (export "cm32p2_realloc") (param i32 i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and
      (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
      (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (block $enough
      (loop $more
        (br_if $enough (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
        (br $more)))
    (local.get $p))
  (func (export "cm32p2_initialize")))`;
}

/**
 * A component of the `bare` world whose core module is the table bomb above (written in WAT, turned
 * into a component by wasm-tools through jco, no componentize-js).
 */
export async function tableBombComponent(
  options: { initialEntries?: number; extraTables?: number } = {},
): Promise<Built> {
  const witDir = await attackWitDir();
  const filesystem = (await import('@bytecodealliance/preview2-shim/filesystem')) as unknown as {
    _setPreopens(preopens: Record<string, string>): void;
  };
  filesystem._setPreopens({ [witDir]: witDir });
  const { componentEmbed, componentNew, parse } = await import('@bytecodealliance/jco');
  const core = await parse(tableBombWat(options.initialEntries ?? 1, options.extraTables ?? 0));
  const embedded = await componentEmbed({ binary: core, witPath: witDir, world: 'bare' });
  const bytes = await componentNew(embedded, undefined);
  return { bytes, digest: sha256Hex(bytes) };
}
