import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginLoadError } from '@awasm/runner-api';
import { componentEmbed, componentNew } from '@bytecodealliance/jco';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComponentCompiler } from './component-compiler.js';
import type { SourceSpec } from './source-spec.js';
import { sha256Hex, TranspileCache } from './transpile-cache.js';

// A component generated from the source world by wasm-tools (its functions trap): it transpiles
// and compiles in milliseconds, and nothing here instantiates it.

const witDir = fileURLToPath(new URL('../../../wit', import.meta.url));
let cacheDir: string;
let source: Uint8Array;

function spec(memoryMb: number): SourceSpec {
  return {
    id: 'dummy',
    digest: sha256Hex(source),
    component: source,
    allowedHosts: [],
    limits: { memoryMb, callTimeoutMs: 5000, maxResponseBytes: 1024, maxConcurrency: 1 },
    settings: {},
  };
}

beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'awasm-compiler-'));
  const filesystem = (await import('@bytecodealliance/preview2-shim/filesystem')) as unknown as {
    _setPreopens(preopens: Record<string, string>): void;
  };
  filesystem._setPreopens({ [witDir]: witDir });
  source = await componentNew(await componentEmbed({ witPath: witDir, dummy: true, world: 'source' }), undefined);
});

afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

describe('ComponentCompiler', () => {
  it('compiles a component once per digest and memory cap while a source uses it', async () => {
    const compiler = new ComponentCompiler(new TranspileCache(cacheDir), 100_000);
    const first = await (await compiler.transpile(spec(16))).compile();
    compiler.retain(first);
    const again = await compiler.transpile(spec(16));
    expect(again.hit).toBe(true);
    expect(await again.compile()).toBe(first);
    // another memory cap is written into other modules
    const bigger = await (await compiler.transpile(spec(32))).compile();
    expect(bigger).not.toBe(first);
    expect(Object.keys(bigger.modules).sort()).toEqual(Object.keys(first.modules).sort());
  });

  it('lets a component go with its last user, so the next load compiles it anew', async () => {
    const compiler = new ComponentCompiler(new TranspileCache(cacheDir), 100_000);
    const first = await (await compiler.transpile(spec(16))).compile();
    compiler.retain(first);
    compiler.retain(first);
    compiler.release(spec(16));
    // release settles on the compiled promise: let it run
    await new Promise((resolve) => setImmediate(resolve));
    expect(await (await compiler.transpile(spec(16))).compile()).toBe(first);
    compiler.release(spec(16));
    await new Promise((resolve) => setImmediate(resolve));
    expect(await (await compiler.transpile(spec(16))).compile()).not.toBe(first);
  });

  it('keeps a component compiled after a source that retained it failed to start', async () => {
    const compiler = new ComponentCompiler(new TranspileCache(cacheDir), 100_000);
    const first = await (await compiler.transpile(spec(16))).compile();
    compiler.retain(first);
    compiler.unretain(first);
    expect(first.users).toBe(0);
    expect(await (await compiler.transpile(spec(16))).compile()).toBe(first);
  });

  it('refuses bytes that are not a component, naming the source', () => {
    const compiler = new ComponentCompiler(new TranspileCache(cacheDir), 100_000);
    expect(() => compiler.checkImports('dummy', new Uint8Array([1, 2, 3]))).toThrow(PluginLoadError);
    expect(() => compiler.checkImports('dummy', new Uint8Array([1, 2, 3]))).toThrow(
      /source 'dummy': not a WebAssembly component/,
    );
    expect(() => compiler.checkImports('dummy', source)).not.toThrow();
  });
});
