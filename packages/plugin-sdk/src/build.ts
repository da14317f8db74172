import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's wit/ folder: the source world every plugin targets. */
export const defaultWitDir = fileURLToPath(new URL('../../../wit', import.meta.url));
/** Where built components are cached, keyed by the hash of everything that goes into them. */
export const defaultComponentCacheDir = fileURLToPath(new URL('../../../.cache/components', import.meta.url));

export interface BuildJsComponentOptions {
  /** entry module of the plugin; sibling modules it imports are bundled too */
  sourcePath: string;
  witDir?: string;
  worldName?: string;
  cacheDir?: string;
}

export interface BuiltComponent {
  bytes: Uint8Array;
  /** true when the component came from the cache rather than a fresh build */
  cached: boolean;
  path: string;
}

export async function hashTree(hash: ReturnType<typeof createHash>, dir: string): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      await hashTree(hash, full);
    } else if (entry.isFile()) {
      hash.update(`${entry.name}\0`);
      hash.update(await readFile(full));
    }
  }
}

function commonAncestor(a: string, b: string): string {
  const pa = resolve(a).split(sep);
  const pb = resolve(b).split(sep);
  const out: string[] = [];
  for (let i = 0; i < Math.min(pa.length, pb.length) && pa[i] === pb[i]; i++) out.push(pa[i] as string);
  return out.join(sep) || sep;
}

/**
 * Builds a JavaScript plugin into a WebAssembly component with componentize-js.
 * A build takes seconds and the result is about 13 MB, so builds are cached by the hash of the
 * source folder, the WIT folder and the componentize-js version.
 */
export async function buildJsComponent(options: BuildJsComponentOptions): Promise<BuiltComponent> {
  const sourcePath = resolve(options.sourcePath);
  const witDir = resolve(options.witDir ?? defaultWitDir);
  const worldName = options.worldName ?? 'source';
  const cacheDir = options.cacheDir ?? defaultComponentCacheDir;
  const componentize = await import('@bytecodealliance/componentize-js');

  const hash = createHash('sha256');
  hash.update(
    `componentize-js ${componentize.version}\0world ${worldName}\0entry ${relative(dirname(sourcePath), sourcePath)}\0`,
  );
  await hashTree(hash, dirname(sourcePath));
  await hashTree(hash, witDir);
  const { path, built } = await lookUpBuild(cacheDir, hash);
  if (built) return built;

  // componentize-js reads the source and WIT through preview2-shim's filesystem, which (since 0.26.1)
  // has no preopens by default: open exactly the folder that holds both.
  // (The package's type conditions resolve to the browser typings, whose signature differs.)
  const filesystem = (await import('@bytecodealliance/preview2-shim/filesystem')) as unknown as {
    _setPreopens(preopens: Record<string, string>): void;
  };
  const root = commonAncestor(dirname(sourcePath), witDir);
  filesystem._setPreopens({ [root]: root });
  const { component } = await componentize.componentize({ sourcePath, witPath: witDir, worldName });

  return storeBuild(path, component);
}

/** The cache path of the build `hash` describes, and the component there if it was built before. */
export async function lookUpBuild(
  cacheDir: string,
  hash: ReturnType<typeof createHash>,
): Promise<{ path: string; built?: BuiltComponent }> {
  const path = join(cacheDir, `${hash.digest('hex')}.wasm`);
  try {
    return { path, built: { bytes: new Uint8Array(await readFile(path)), cached: true, path } };
  } catch {
    return { path }; // not built yet
  }
}

/** Writes a fresh build to its cache path (whole or not at all: written aside, then renamed). */
export async function storeBuild(path: string, component: Uint8Array): Promise<BuiltComponent> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, component);
  await rename(tmp, path);
  return { bytes: component, cached: false, path };
}
