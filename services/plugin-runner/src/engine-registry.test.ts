import { describe, expect, it } from 'vitest';
import { type CompiledEngine, EngineRegistry } from './engine-registry.js';

/** A registry whose compiles are counted and settled by the test. */
function registry() {
  const compiles: { name: string; digest: string; resolve: (e: CompiledEngine) => void; reject: (e: Error) => void }[] =
    [];
  const engines = new EngineRegistry(
    (name, digest) =>
      new Promise<CompiledEngine>((resolve, reject) => {
        compiles.push({ name, digest, resolve, reject });
      }),
  );
  return { engines, compiles };
}

const engine = (tables: number): CompiledEngine => ({ module: {} as WebAssembly.Module, tables });

describe('EngineRegistry', () => {
  it('compiles an engine once for all its users and lets it go with the last', async () => {
    const { engines, compiles } = registry();
    const a = engines.take('core0', 'd1');
    const b = engines.take('core3', 'd1');
    expect(b).toBe(a);
    expect(a.users).toBe(2);
    expect(compiles.map((c) => [c.name, c.digest])).toEqual([['core0', 'd1']]);
    compiles[0]?.resolve(engine(3));
    await expect(b.compiled).resolves.toEqual(engine(3));
    expect(engines.size).toBe(1);
    engines.drop(a);
    expect(engines.size).toBe(1);
    engines.drop(b);
    expect(engines.size).toBe(0);
    // a later use compiles it anew
    const c = engines.take('core0', 'd1');
    expect(c).not.toBe(a);
    expect(c.users).toBe(1);
    expect(compiles).toHaveLength(2);
  });

  it('keeps engines of different digests apart', () => {
    const { engines, compiles } = registry();
    const a = engines.take('core0', 'd1');
    const b = engines.take('core0', 'd2');
    expect(b).not.toBe(a);
    expect(engines.size).toBe(2);
    expect(compiles.map((c) => c.digest)).toEqual(['d1', 'd2']);
    engines.drop(a);
    expect(engines.size).toBe(1);
    expect(engines.take('core0', 'd2')).toBe(b);
    expect(b.users).toBe(2);
  });

  it('forgets an engine that failed to compile, so the next use compiles it again', async () => {
    const { engines, compiles } = registry();
    const failed = engines.take('core0', 'd1');
    compiles[0]?.reject(new Error('bad engine'));
    await expect(failed.compiled).rejects.toThrow('bad engine');
    expect(engines.size).toBe(0);
    const again = engines.take('core0', 'd1');
    expect(again).not.toBe(failed);
    expect(compiles).toHaveLength(2);
    // giving back the failed one leaves the new one in place
    engines.drop(failed);
    expect(engines.size).toBe(1);
    expect(engines.take('core0', 'd1')).toBe(again);
  });
});
