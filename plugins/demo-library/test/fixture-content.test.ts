import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseManifest } from '@awasm/shared';
import { describe, expect, test } from 'vitest';
import { demoManifestPath, demoPluginSourcePath } from '../src/build.js';
import { fixtureArt } from '../src/fixture-art.js';
import { fixtureDir, loadCatalog, parseCatalog } from '../src/fixture-catalog.js';

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else out.push(relative(fixtureDir, full));
  }
  return out;
}

describe('fixture content', () => {
  test('the generated covers and pages in fixture/ are current (pnpm --filter ./plugins/demo-library generate:fixture)', async () => {
    const art = fixtureArt(loadCatalog());
    const onDisk = [...(await listFiles(join(fixtureDir, 'covers'))), ...(await listFiles(join(fixtureDir, 'pages')))];
    expect(onDisk.sort()).toEqual([...art.keys()].sort());
    for (const [path, svg] of art) {
      expect(await readFile(join(fixtureDir, path), 'utf8'), path).toBe(svg);
    }
  });

  test('generated SVG is well-formed: escaped text, balanced root', () => {
    for (const [path, svg] of fixtureArt(loadCatalog())) {
      expect(svg, path).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" [^>]*>\n[\s\S]*\n<\/svg>\n$/);
      expect(svg, path).not.toMatch(/&(?!#\d+;)/);
      expect(svg, path).not.toMatch(/NaN|undefined/);
    }
  });

  test('every book chapter has a text of real length and every text belongs to a chapter', async () => {
    const catalog = loadCatalog();
    const bookUnits = catalog.media.filter((m) => m.kind === 'book').flatMap((m) => m.units.map((u) => u.id));
    const texts = (await readdir(join(fixtureDir, 'text'))).map((f) => f.replace(/\.txt$/, ''));
    expect(texts.sort()).toEqual(bookUnits.sort());
    for (const id of bookUnits) {
      const text = await readFile(join(fixtureDir, 'text', `${id}.txt`), 'utf8');
      expect(text.length, id).toBeGreaterThan(1000);
      expect(text.length, id).toBeLessThan(8000);
    }
  });

  test('the catalog validator names the offending entry', () => {
    const good = JSON.parse(JSON.stringify(loadCatalog()));
    const dup = JSON.parse(JSON.stringify(good));
    dup.media[1].units[0].id = dup.media[0].units[0].id;
    expect(() => parseCatalog(dup)).toThrow(/media\[1\]\.units\[0\]\.id '.+' is used twice/);
    const genre = JSON.parse(JSON.stringify(good));
    genre.media[2].genres.push('western');
    expect(() => parseCatalog(genre)).toThrow("fixture catalog: media[2].genres 'western' is not in the genre list");
    const pages = JSON.parse(JSON.stringify(good));
    pages.media[0].units[0].pages = 3;
    expect(() => parseCatalog(pages)).toThrow('media[0].units[0].pages is only for manga');
    expect(parseCatalog(good)).toEqual(good);
  });
});

describe('manifest', () => {
  test('passes the strict manifest parser and declares exactly the settings the plugin reads', async () => {
    const manifest = parseManifest(await readFile(demoManifestPath, 'utf8'));
    expect(manifest.id).toBe('demo-library');
    expect(manifest.mediaKinds.sort()).toEqual(['book', 'manga']);
    const source = await readFile(demoPluginSourcePath, 'utf8');
    const read = [...source.matchAll(/getSetting\('([a-z_]+)'\)/g)].map((m) => m[1]);
    expect(manifest.settings.map((s) => s.key).sort()).toEqual([...new Set(read)].sort());
    const defaults = Object.fromEntries(manifest.settings.map((s) => [s.key, s.default]));
    // the plugin's fallbacks agree with the manifest's defaults
    expect(source).toContain(`const DEFAULT_BASE_URL = '${defaults.base_url}';`);
    expect(source).toContain(`const DEFAULT_PAGE_SIZE = ${defaults.page_size};`);
    // the default site is the one host the plugin may reach
    expect(manifest.allowedHosts).toEqual([defaults.base_url]);
  });
});
