import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCComponent, findCToolchain, MissingToolError } from './build-c.js';

// Builds C plugins for real (wit-bindgen, clang-14, wasi-libc: scripts/install-tools.sh installs them).

const benchC = fileURLToPath(new URL('../../../test/bench/plugins/bench-c/bench.c', import.meta.url));
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'awasm-build-c-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A plugin folder holding the bench plugin plus `extra` as a second C file. */
async function pluginDir(name: string, extra?: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await copyFile(benchC, join(dir, 'plugin.c'));
  if (extra !== undefined) await writeFile(join(dir, 'extra.c'), extra);
  return dir;
}

describe('buildCComponent', () => {
  it('builds a component once and then serves it from the cache', async () => {
    const dir = await pluginDir('ok');
    const cacheDir = join(work, 'cache-ok');
    const first = await buildCComponent({ sourcePath: join(dir, 'plugin.c'), cacheDir });
    expect(first.cached).toBe(false);
    // a component (layer 1), not a core module: the preamble is \0asm, version 0x0d, layer 1
    expect([...first.bytes.subarray(0, 8)]).toEqual([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
    const again = await buildCComponent({ sourcePath: join(dir, 'plugin.c'), cacheDir });
    expect(again).toMatchObject({ cached: true, path: first.path });
    expect(again.bytes).toEqual(first.bytes);

    // any change in the folder is a new build
    await writeFile(join(dir, 'extra.c'), 'int awasm_unused_helper(int x) { return x + 1; }\n');
    const changed = await buildCComponent({ sourcePath: join(dir, 'plugin.c'), cacheDir });
    expect(changed.cached).toBe(false);
    expect(changed.path).not.toBe(first.path);
  });

  it('refuses a plugin whose libc calls need WASI preview 1, naming the imports', async () => {
    const dir = await pluginDir(
      'stdio',
      '#include <stdio.h>\n__attribute__((export_name("shout"))) void shout(void) { printf("hello\\n"); }\n',
    );
    const err = await buildCComponent({ sourcePath: join(dir, 'plugin.c'), cacheDir: join(work, 'cache-stdio') }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^plugin\.c uses wasi-libc functions that need WASI preview 1 \(.*fd_write/);
  });

  it('reports a compile error with the file and clang message', async () => {
    const dir = await pluginDir('broken', 'int broken(void) { return undeclared_name; }\n');
    const err = await buildCComponent({
      sourcePath: join(dir, 'plugin.c'),
      cacheDir: join(work, 'cache-broken'),
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^compiling plugin\.c failed:\n/);
    expect((err as Error).message).toMatch(/extra\.c:1:\d+: error: use of undeclared identifier 'undeclared_name'/);
    expect(await readFile(join(dir, 'extra.c'), 'utf8')).toContain('undeclared_name');
  });

  it('says which tool is missing and how to install it', () => {
    const none = { PATH: join(work, 'empty-path') };
    expect(() => findCToolchain({ ...none, AWASM_WIT_BINDGEN: '/bin/true' })).toThrow(MissingToolError);
    expect(() => findCToolchain({ ...none, AWASM_WIT_BINDGEN: '/bin/true' })).toThrow(
      /clang was not found \(AWASM_CLANG, clang-14, clang\): run `bash scripts\/install-tools\.sh`/,
    );
    expect(() =>
      findCToolchain({ ...none, AWASM_WIT_BINDGEN: '/bin/true', AWASM_CLANG: '/bin/true', AWASM_WASI_SYSROOT: work }),
    ).toThrow(`no wasi-libc under ${work} (lib/wasm32-wasi/libc.a; AWASM_WASI_SYSROOT)`);
    expect(findCToolchain()).toMatchObject({ sysroot: '/usr' });
  });
});
