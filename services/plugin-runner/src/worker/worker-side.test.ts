import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

/** Every file under this folder, with its path relative to it. */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

const modules = files(here).filter((path) => !path.endsWith('.test.ts'));

describe('the worker side (src/worker)', () => {
  it('is plain, type-checked ES modules: the worker thread loads them with no build step', () => {
    expect(modules.length).toBeGreaterThan(0);
    for (const path of modules) {
      expect(path.endsWith('.mjs'), relative(here, path)).toBe(true);
      expect(readFileSync(path, 'utf8').startsWith('// @ts-check\n'), relative(here, path)).toBe(true);
    }
  });

  it("imports only Node's built-ins and its own modules, never the runner's TypeScript", () => {
    for (const path of modules) {
      const text = readFileSync(path, 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from|import\()\s*'([^']+)'/g)) {
        const name = `${relative(here, path)} imports ${specifier}`;
        if (specifier?.startsWith('node:')) continue;
        expect(specifier?.startsWith('.'), name).toBe(true);
        expect(specifier?.endsWith('.mjs'), name).toBe(true);
        const target = resolve(dirname(path), specifier as string);
        expect(target.startsWith(here + sep), name).toBe(true);
      }
    }
  });
});
