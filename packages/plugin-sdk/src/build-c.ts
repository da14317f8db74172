import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  type BuiltComponent,
  defaultComponentCacheDir,
  defaultWitDir,
  hashTree,
  lookUpBuild,
  storeBuild,
} from './build.js';

const run = promisify(execFile);

/** Where scripts/install-tools.sh puts the tools it builds (wit-bindgen among them). */
const repoToolsDir = fileURLToPath(new URL('../../../.cache/bin', import.meta.url));

export interface BuildCComponentOptions {
  /** the plugin's C file; every .c file in its folder is compiled with it */
  sourcePath: string;
  witDir?: string;
  worldName?: string;
  cacheDir?: string;
}

/** The tools a C build runs, found on this machine. */
export interface CToolchain {
  witBindgen: string;
  clang: string;
  /** a wasi-libc sysroot: include/wasm32-wasi and lib/wasm32-wasi under it */
  sysroot: string;
}

/** Node's WebAssembly API (the package's TypeScript libs do not declare it). */
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: { new (bytes: Uint8Array): object; imports(module: object): Array<{ module: string; name: string }> };
    };
  }
).WebAssembly;

/** A tool the C build needs is missing; the message says what to install. */
export class MissingToolError extends Error {}

function onPath(names: string[], path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    for (const name of names) {
      const candidate = join(dir, name);
      if (dir && existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * Finds wit-bindgen (AWASM_WIT_BINDGEN, the repo's .cache/bin, PATH), clang with a wasm32 target
 * (AWASM_CLANG, clang-14 or clang on PATH) and a wasi-libc sysroot (AWASM_WASI_SYSROOT, or Debian's
 * wasi-libc package under /usr).
 */
export function findCToolchain(env: NodeJS.ProcessEnv = process.env): CToolchain {
  const install = 'run `bash scripts/install-tools.sh` (it installs clang-14, lld-14, wasi-libc and wit-bindgen)';
  const repoWitBindgen = join(repoToolsDir, 'wit-bindgen');
  const witBindgen =
    env.AWASM_WIT_BINDGEN || (existsSync(repoWitBindgen) ? repoWitBindgen : onPath(['wit-bindgen'], env.PATH));
  if (!witBindgen)
    throw new MissingToolError(`wit-bindgen was not found (AWASM_WIT_BINDGEN, .cache/bin, PATH): ${install}`);
  const clang = env.AWASM_CLANG || onPath(['clang-14', 'clang'], env.PATH);
  if (!clang) throw new MissingToolError(`clang was not found (AWASM_CLANG, clang-14, clang): ${install}`);
  const sysroot = env.AWASM_WASI_SYSROOT || '/usr';
  if (!existsSync(join(sysroot, 'lib/wasm32-wasi/libc.a'))) {
    throw new MissingToolError(
      `no wasi-libc under ${sysroot} (lib/wasm32-wasi/libc.a; AWASM_WASI_SYSROOT): ${install}`,
    );
  }
  return { witBindgen, clang, sysroot };
}

async function toolVersion(path: string): Promise<string> {
  const { stdout } = await run(path, ['--version']);
  return stdout.trim().split('\n')[0] ?? '';
}

/**
 * Builds a C plugin into a WebAssembly component: wit-bindgen generates the bindings of the world,
 * clang compiles them with the plugin against wasi-libc (as a reactor: no main, no start files), and
 * jco wraps the core module into a component. The plugin implements the `exports_..._source_api_*`
 * functions that the generated header declares; nothing else is imported, so the core module must
 * not use wasi-libc functions that call WASI preview 1 (files, stdio, clocks, environment): such a
 * build is refused with the names of those imports. Cached by the hash of the plugin folder, the WIT
 * and the tools' versions.
 */
export async function buildCComponent(options: BuildCComponentOptions): Promise<BuiltComponent> {
  const sourcePath = resolve(options.sourcePath);
  const sourceDir = dirname(sourcePath);
  const witDir = resolve(options.witDir ?? defaultWitDir);
  const worldName = options.worldName ?? 'source';
  const cacheDir = options.cacheDir ?? defaultComponentCacheDir;
  const tools = findCToolchain();

  const hash = createHash('sha256');
  hash.update(
    `c plugin\0${await toolVersion(tools.witBindgen)}\0${await toolVersion(tools.clang)}\0${tools.sysroot}\0world ${worldName}\0entry ${basename(sourcePath)}\0`,
  );
  await hashTree(hash, sourceDir);
  await hashTree(hash, witDir);
  const { path, built } = await lookUpBuild(cacheDir, hash);
  if (built) return built;

  const work = await mkdtemp(join(tmpdir(), 'awasm-c-plugin-'));
  try {
    const bindings = join(work, 'bindings');
    await run(tools.witBindgen, ['c', witDir, '--world', worldName, '--out-dir', bindings]);
    const cFiles = (await readdir(sourceDir)).filter((f) => f.endsWith('.c')).map((f) => join(sourceDir, f));
    if (!cFiles.includes(sourcePath)) cFiles.push(sourcePath);
    const core = join(work, 'core.wasm');
    try {
      await run(tools.clang, [
        '--target=wasm32-wasi',
        `--sysroot=${tools.sysroot}`,
        '-O2',
        '-Wall',
        '-Werror',
        `-I${bindings}`,
        '-nostartfiles',
        '-Wl,--no-entry',
        '-Wl,--strip-debug',
        '-o',
        core,
        ...cFiles,
        join(bindings, `${worldName}.c`),
        join(bindings, `${worldName}_component_type.o`),
      ]);
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
      throw new Error(`compiling ${basename(sourcePath)} failed:\n${stderr || (err as Error).message}`);
    }
    const coreBytes = await readFile(core);
    const preview1 = wasm.Module.imports(new wasm.Module(coreBytes))
      .filter((i) => i.module === 'wasi_snapshot_preview1')
      .map((i) => i.name);
    if (preview1.length > 0) {
      throw new Error(
        `${basename(sourcePath)} uses wasi-libc functions that need WASI preview 1 (${preview1.join(', ')}); a source may import only the world's interfaces: drop the calls (stdio, files, clocks, environment) that pull them in`,
      );
    }
    const jco = await import('@bytecodealliance/jco');
    return storeBuild(path, await jco.componentNew(coreBytes, undefined));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
