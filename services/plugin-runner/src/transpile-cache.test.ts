import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentEmbed, componentNew, transpile } from '@bytecodealliance/jco';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  capHandleTables,
  capLifts,
  DigestMismatchError,
  MAX_HANDLES_PER_RESOURCE_TYPE,
  refuseUnknownHandles,
  sha256Hex,
  TranspileCache,
  type TranspileFn,
} from './transpile-cache.js';

/** A small real component: a generated core module behind a one-function world. */
async function tinyComponent(name: string): Promise<Uint8Array> {
  const witSource = `package test:${name};
interface api { add: func(a: u32, b: u32) -> u32; }
world w { export api; }`;
  return componentNew(await componentEmbed({ witSource, dummy: true, world: 'w' }), undefined);
}

let dir: string;
let calls: number;
const counting: TranspileFn = async (bytes) => {
  calls++;
  return transpile(bytes, { name: 'component', instantiation: 'async', noTypescript: true, base64Cutoff: 0 });
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'awasm-transpile-'));
  calls = 0;
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('TranspileCache', () => {
  it('transpiles once and serves later loads, also from a new cache instance, from disk', async () => {
    const bytes = await tinyComponent('once');
    const digest = sha256Hex(bytes);
    const first = await new TranspileCache(dir, { transpile: counting }).get(digest, bytes);
    expect(first.hit).toBe(false);
    expect(calls).toBe(1);
    expect(first.entry.dir).toBe(join(dir, digest));
    expect((await readdir(first.entry.dir)).sort()).toEqual([
      'component.core.wasm',
      'component.core2.wasm',
      'component.mjs',
      'meta.json',
    ]);
    expect([...first.entry.coreModules.keys()].sort()).toEqual(['component.core.wasm', 'component.core2.wasm']);
    expect(first.entry.exports).toContain('test:once/api');

    const again = await new TranspileCache(dir, { transpile: counting }).get(digest, bytes);
    expect(again.hit).toBe(true);
    expect(calls).toBe(1);
    expect(again.entry.coreModules).toEqual(first.entry.coreModules);

    // the glue loads and the component runs
    const glue = await import(again.entry.componentUrl);
    const instance = await glue.instantiate(
      (name: string) => WebAssembly.compile(again.entry.coreModules.get(name) as Uint8Array),
      {},
    );
    expect(typeof instance.api.add).toBe('function');
  });

  it('checks the sha256 before doing anything', async () => {
    const bytes = await tinyComponent('digest');
    const cache = new TranspileCache(dir, { transpile: counting });
    const wrong = sha256Hex(new Uint8Array([1, 2, 3]));
    await expect(cache.get(wrong, bytes)).rejects.toBeInstanceOf(DigestMismatchError);
    await expect(cache.get(wrong, bytes)).rejects.toThrow(
      `component bytes have sha256 ${sha256Hex(bytes)}, expected ${wrong}`,
    );
    await expect(cache.get('ABC', bytes)).rejects.toThrow(/not a lowercase sha256/);
    expect(calls).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });

  it('does not serve another component from an entry planted under its digest', async () => {
    const a = await tinyComponent('planted-a');
    const b = await tinyComponent('planted-b');
    const cache = new TranspileCache(dir, { transpile: counting });
    const built = await cache.get(sha256Hex(a), a);
    // b's bytes under a's digest never get as far as the cache
    await expect(cache.get(sha256Hex(a), b)).rejects.toBeInstanceOf(DigestMismatchError);
    expect((await cache.get(sha256Hex(a), a)).entry.componentUrl).toBe(built.entry.componentUrl);
    expect(calls).toBe(1);
  });

  it('rebuilds an entry whose files were changed or removed', async () => {
    const bytes = await tinyComponent('damaged');
    const digest = sha256Hex(bytes);
    const cache = new TranspileCache(dir, { transpile: counting });
    const { entry } = await cache.get(digest, bytes);
    const glue = fileURLToPath(entry.componentUrl);
    await writeFile(glue, `${await readFile(glue, 'utf8')}\nglobalThis.pwned = true;\n`);
    const rebuilt = await cache.get(digest, bytes);
    expect(rebuilt.hit).toBe(false);
    expect(calls).toBe(2);
    expect(await readFile(glue, 'utf8')).not.toContain('pwned');

    await rm(join(entry.dir, 'component.core.wasm'));
    expect((await cache.get(digest, bytes)).hit).toBe(false);
    await writeFile(join(entry.dir, 'meta.json'), '{ not json');
    expect((await cache.get(digest, bytes)).hit).toBe(false);
    expect(calls).toBe(4);
  });

  it('hands out prepared core modules only from an entry whose hashes match', async () => {
    const bytes = await tinyComponent('prepared');
    const digest = sha256Hex(bytes);
    const cache = new TranspileCache(dir, { transpile: counting });
    const { entry } = await cache.get(digest, bytes);
    const meta = JSON.parse(await readFile(join(entry.dir, 'meta.json'), 'utf8')) as { files: Record<string, string> };
    const seen: string[] = [];
    const prepare = async (name: string, content: Uint8Array) => {
      seen.push(`${name}:${sha256Hex(content)}`);
      return sha256Hex(content);
    };

    const hit = await cache.get(digest, bytes, prepare);
    expect(hit.hit).toBe(true);
    const wasmHashes = Object.entries(meta.files).filter(([name]) => name.endsWith('.wasm'));
    expect(wasmHashes.length).toBeGreaterThan(0);
    expect([...(hit.prepared ?? new Map())].sort()).toEqual(wasmHashes.sort());

    // a damaged core module is prepared while its hash is checked, but what comes back is the rebuilt one's
    const core = join(entry.dir, 'component.core.wasm');
    const damaged = new Uint8Array(await readFile(core));
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0xff;
    await writeFile(core, damaged);
    const rebuilt = await cache.get(digest, bytes, prepare);
    expect(rebuilt.hit).toBe(false);
    expect(seen).toContain(`component.core.wasm:${sha256Hex(damaged)}`);
    expect(rebuilt.prepared?.get('component.core.wasm')).toBe(meta.files['component.core.wasm']);

    // and nothing is prepared for bytes that are not the component asked for
    seen.length = 0;
    await expect(cache.get(digest, new Uint8Array([1, 2, 3]), prepare)).rejects.toBeInstanceOf(DigestMismatchError);
  });

  it('transpiles concurrent loads of one component once', async () => {
    const bytes = await tinyComponent('concurrent');
    const digest = sha256Hex(bytes);
    const cache = new TranspileCache(dir, { transpile: counting });
    const results = await Promise.all([cache.get(digest, bytes), cache.get(digest, bytes), cache.get(digest, bytes)]);
    expect(calls).toBe(1);
    expect(new Set(results.map((r) => r.entry.componentUrl)).size).toBe(1);
    expect((await readdir(dir)).filter((n) => n.startsWith('.tmp'))).toEqual([]);
  });

  it('keeps glue without per-call async task bookkeeping (the lean transpiler), unlike the newer jco', async () => {
    const bytes = await tinyComponent('glue');
    const { entry } = await new TranspileCache(dir).get(sha256Hex(bytes), bytes);
    const lean = await readFile(join(entry.dir, 'component.mjs'), 'utf8');
    expect(lean).toMatch(/export async function instantiate|export function instantiate/);
    const newer = (await counting(bytes)).files['component.js'];
    const heavy = new TextDecoder().decode(newer);
    // the marker must be in the newer glue for this test to mean anything
    for (const marker of ['createNewCurrentTask', '_debugLog']) {
      expect(heavy).toContain(marker);
      expect(lean).not.toContain(marker);
    }
  });

  it('caps the glue handle tables, and refuses glue whose handle helper changed shape', async () => {
    const bytes = await tinyComponent('glue');
    const glue = new TextDecoder().decode((await counting(bytes)).files['component.js']);
    // jco 1.35's glue for the same component: the runner's jco 1.11 glue is covered by the sandbox
    // tests (test/security/resources.test.ts floods a real instance's handle table)
    if (glue.includes('rscTableCreateOwn')) {
      expect(capHandleTables(glue)).toContain(`if (table.length >> 1 > ${MAX_HANDLES_PER_RESOURCE_TYPE}) throw`);
    }
    const helper = `  function rscTableCreateOwn (table, rep) {
    const free = table[0] & ~T_FLAG;
    if (free === 0) {
      table.push(0);
      table.push(rep | T_FLAG);
      return (table.length >> 1) - 1;
    }
  }`;
    const capped = capHandleTables(`const T_FLAG = 1 << 30;\n${helper}\nexport { rscTableCreateOwn };`, 2);
    const make = new Function(`${capped.replace('export { rscTableCreateOwn };', '')}; return rscTableCreateOwn;`)();
    const table = [1 << 30, 0]; // as jco makes them: slot 0 is the free list
    expect([make(table, 1), make(table, 2)]).toEqual([1, 2]);
    expect(() => make(table, 3)).toThrow('the plugin holds more than 2 handles of one resource type');
    expect(capHandleTables('no resources here')).toBe('no resources here');
    expect(() => capHandleTables(helper.replace('table.push(0);', 'table.push(0, 0);'))).toThrow(
      'the glue has no single rscTableCreateOwn helper of the expected shape to cap',
    );
  });

  it('caps the strings and lists the glue lifts, and refuses glue with a decoder it cannot cap', () => {
    const glue = `  const utf8Decoder = new TextDecoder();
function lift(strings, len3) {
  var result3 = [];
  for (let i = 0; i < len3; i++) {
    result3.push(utf8Decoder.decode(strings[i]));
  }
  return result3;
}
return lift;`;
    const lift = new Function(capLifts(glue, 4, 2))();
    const bytes = (text: string) => new TextEncoder().encode(text);
    expect(lift([bytes('abcd'), bytes('ef')], 2)).toEqual(['abcd', 'ef']);
    expect(() => lift([bytes('abcde')], 1)).toThrow('the plugin passed a string of 5 bytes, over 4');
    expect(() => lift([bytes('a'), bytes('b'), bytes('c')], 3)).toThrow(
      'the plugin passed a list of 3 elements, over 2',
    );
    // a component whose canonical options say utf16 gets a utf16 decoder, capped the same way (in bytes)
    const utf16 = capLifts(
      "  const utf16Decoder = new TextDecoder('utf-16');\nreturn (units) => utf16Decoder.decode(new Uint16Array(units));",
      4,
    );
    const lift16 = new Function(utf16)();
    expect(lift16([104, 105])).toBe('hi');
    expect(() => lift16([104, 105, 33])).toThrow('the plugin passed a string of 6 bytes, over 4');
    expect(() => capLifts(glue.replace('const utf8Decoder', 'const otherDecoder'))).toThrow(
      'the glue makes a text decoder this cannot cap',
    );
  });

  it('traps on a handle that names no resource the host made, naming the resource', () => {
    const glue = `class Fields { get() { return 'answered'; } }
const captureTable4 = new Map([[7, new Fields()]]);
return (rep) => {
  var rsc0 = captureTable4.get(rep);
  if (!rsc0) {
    rsc0 = Object.create(Fields.prototype);
  }
  return rsc0.get();
};`;
    const borrow = new Function(refuseUnknownHandles(glue))();
    expect(borrow(7)).toBe('answered');
    expect(() => borrow(8)).toThrow('the plugin used an invalid Fields handle (dropped, or never handed to it)');
    // jco renames a class that clashes with a global; the message names the resource
    const renamed = new Function(refuseUnknownHandles(glue.replaceAll('Fields', 'Error$1')))();
    expect(() => renamed(8)).toThrow('the plugin used an invalid Error handle (dropped, or never handed to it)');
    expect(() => refuseUnknownHandles(`${glue}\nconst other = Object.create(null);`)).toThrow(
      'the glue makes resource objects in a way this cannot check',
    );
  });
});
