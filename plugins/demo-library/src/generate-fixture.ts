import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtureArt } from './fixture-art.js';
import { fixtureDir, loadCatalog } from './fixture-catalog.js';

async function listFiles(dir: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else out.push(full);
  }
  return out;
}

/**
 * Writes the generated covers and manga pages into the fixture folder and removes generated
 * files that the catalog no longer names. Returns the written paths relative to the folder.
 */
export async function writeFixtureArt(dir: string = fixtureDir): Promise<string[]> {
  const files = fixtureArt(loadCatalog(dir));
  for (const [path, svg] of files) {
    const full = join(dir, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, svg);
  }
  for (const generatedDir of ['covers', 'pages']) {
    for (const full of await listFiles(join(dir, generatedDir))) {
      if (!files.has(relative(dir, full).split('\\').join('/'))) await rm(full);
    }
  }
  return [...files.keys()];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const written = await writeFixtureArt();
  console.log(`wrote ${written.length} files under ${fixtureDir}`);
}
