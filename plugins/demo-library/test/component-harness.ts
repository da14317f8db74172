import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transpile } from '@bytecodealliance/jco';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';

/**
 * Runs the demo component in this process WITHOUT the project's runner: jco transpiles it (async
 * instantiation), preview2-shim supplies WASI (its wasi:http does real requests) and the test
 * supplies the awasm:source/host import. The transpiled output is cached by the component's hash.
 */

/** Node's WebAssembly global (the project's lib settings do not declare it). */
type CoreModule = object;
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<CoreModule> } })
  .WebAssembly;

const cacheRoot = fileURLToPath(new URL('../.cache/jco/', import.meta.url));

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface SourceError {
  tag: string;
  val?: unknown;
}

/** The component's `source-api` export, as jco binds it (synchronous calls). */
export interface SourceApi {
  search(query: string, filters: { id: string; values: string[] }[], cursor?: string): MediaPage;
  list(listing: 'popular' | 'latest', cursor?: string): MediaPage;
  getMedia(id: string): Media;
  listUnits(mediaId: string, cursor?: string): UnitPage;
  getAssets(unitId: string): Asset[];
  filters(): Filter[];
}

export interface Media {
  id: string;
  title: string;
  kind: string;
  altTitles: string[];
  description?: string;
  coverUrl?: string;
  authors: string[];
  genres: string[];
  status: string;
  languages: string[];
  nsfw: boolean;
  url?: string;
}

export interface MediaPage {
  items: Media[];
  nextCursor?: string;
}

export interface Unit {
  id: string;
  mediaId: string;
  kind: string;
  title: string;
  number?: number;
  group?: number;
  language?: string;
  publishedAt?: bigint;
  url?: string;
}

export interface UnitPage {
  items: Unit[];
  nextCursor?: string;
}

export interface Asset {
  kind: string;
  index: number;
  url?: string;
  text?: string;
  mimeType?: string;
  language?: string;
  quality?: string;
  headers: { name: string; value: string }[];
}

export interface Filter {
  id: string;
  label: string;
  kind: string;
  options: { value: string; label: string }[];
}

export interface LoadedPlugin {
  api: SourceApi;
  /** every host.log call, in order */
  logs: { level: LogLevel; message: string }[];
  /** setting values handed to the plugin; change them between calls */
  settings: Record<string, string | undefined>;
}

async function transpiled(bytes: Uint8Array): Promise<string> {
  const digest = createHash('sha256').update(bytes).digest('hex');
  const dir = join(cacheRoot, digest);
  const entry = join(dir, 'component.js');
  try {
    await readFile(join(dir, 'complete'));
    return entry;
  } catch {
    // not transpiled yet
  }
  const { files } = await transpile(bytes, {
    name: 'component',
    instantiation: 'async',
    noTypescript: true,
    quiet: true,
  });
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  for (const [name, data] of Object.entries(files)) {
    await mkdir(dirname(join(tmp, name)), { recursive: true });
    await writeFile(join(tmp, name), data);
  }
  await writeFile(join(tmp, 'complete'), digest);
  await mkdir(cacheRoot, { recursive: true });
  try {
    await rename(tmp, dir);
  } catch {
    // another test process finished first; its output is identical
    await rm(tmp, { recursive: true, force: true });
  }
  return entry;
}

/** Instantiates the component with the given settings. */
export async function loadPlugin(
  bytes: Uint8Array,
  settings: Record<string, string | undefined> = {},
): Promise<LoadedPlugin> {
  const entry = await transpiled(bytes);
  const dir = dirname(entry);
  const { instantiate } = (await import(pathToFileURL(entry).href)) as {
    instantiate(
      getCoreModule: (path: string) => Promise<CoreModule>,
      imports: Record<string, unknown>,
    ): Promise<{ sourceApi: SourceApi }>;
  };
  const logs: LoadedPlugin['logs'] = [];
  const wasi = new WASIShim({ sandbox: { preopens: {}, env: {}, args: ['demo-library'] } }).getImportObject();
  const host = {
    getSetting: (key: string) => settings[key],
    log: (level: LogLevel, message: string) => {
      logs.push({ level, message });
    },
  };
  const root = await instantiate(async (path) => wasm.compile(await readFile(join(dir, path))), {
    ...wasi,
    'awasm:source/host': host,
    'awasm:source/types': {},
  });
  return { api: root.sourceApi, logs, settings };
}

/**
 * The typed source-error a call failed with. jco's bindings are synchronous and throw the `err`
 * side of a result wrapped in a ComponentError whose `payload` is the variant.
 */
export function sourceError(call: () => unknown): SourceError {
  try {
    call();
  } catch (error) {
    const payload = (error as { payload?: unknown }).payload;
    if (payload && typeof payload === 'object' && 'tag' in payload) return payload as SourceError;
    throw error;
  }
  throw new Error('the call succeeded; a source error was expected');
}
