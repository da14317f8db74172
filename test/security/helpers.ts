import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Logger, type RunnerOptions, RunnerPool, type SourceSpec, sha256Hex } from '@awasm/plugin-runner';
import { buildJsComponent } from '@awasm/plugin-sdk';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const cacheRoot = join(repoRoot, '.cache');
/** One transpile cache for all sandbox test files: each component is transpiled once. */
export const runnerCacheDir = join(cacheRoot, 'runner-test');

export type PluginName = 'fetcher' | 'misbehave' | 'snoop';

export interface Built {
  bytes: Uint8Array;
  digest: string;
}

const WORLDS: Record<PluginName, string | undefined> = { fetcher: undefined, misbehave: undefined, snoop: 'snoop' };

/**
 * A WIT folder for the attack worlds in test/security/wit: those files plus the repository's
 * wit/deps and the source world as a dependency. Written under .cache, named by its content.
 */
export async function attackWitDir(): Promise<string> {
  const files: Array<[string, string]> = [];
  const add = async (from: string, to: string) => files.push([to, await readFile(from, 'utf8')]);
  await add(join(repoRoot, 'test/security/wit/attack.wit'), 'attack.wit');
  await add(join(repoRoot, 'wit/source.wit'), 'deps/awasm-source/source.wit');
  for (const dep of ['cli', 'clocks', 'filesystem', 'http', 'io', 'random', 'sockets']) {
    await add(join(repoRoot, 'wit/deps', dep, 'package.wit'), `deps/${dep}/package.wit`);
  }
  const hash = createHash('sha256');
  for (const [name, text] of files) hash.update(`${name}\0${text}\0`);
  const dir = join(cacheRoot, 'security-wit', hash.digest('hex').slice(0, 16));
  try {
    await stat(join(dir, 'attack.wit'));
    return dir;
  } catch {
    // not written yet
  }
  const tmp = `${dir}.${process.pid}.tmp`;
  for (const [name, text] of files) {
    await mkdir(join(tmp, name, '..'), { recursive: true });
    await writeFile(join(tmp, name), text);
  }
  try {
    await rename(tmp, dir);
  } catch {
    await rm(tmp, { recursive: true, force: true }); // another test process wrote it first
  }
  return dir;
}

/** Holds a cross-process lock so parallel test files do not build the same component twice at once. */
async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = join(cacheRoot, 'security-build-locks');
  await mkdir(dir, { recursive: true });
  const lock = join(dir, name);
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > 5 * 60_000) await rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Builds an attack plugin from test/security/plugins/<name>/index.js (cached by source hash). */
export async function buildPlugin(name: PluginName): Promise<Built> {
  const world = WORLDS[name];
  const witDir = world ? await attackWitDir() : undefined;
  const built = await withLock(name, () =>
    buildJsComponent({
      sourcePath: join(repoRoot, 'test/security/plugins', name, 'index.js'),
      ...(witDir && world ? { witDir, worldName: world } : {}),
    }),
  );
  return { bytes: built.bytes, digest: sha256Hex(built.bytes) };
}

export const defaultLimits = { memoryMb: 64, callTimeoutMs: 5000, maxResponseBytes: 1024 * 1024, maxConcurrency: 4 };

export type SpecOverrides = Partial<Omit<SourceSpec, 'component' | 'digest' | 'limits'>> & {
  limits?: Partial<SourceSpec['limits']>;
};

export function spec(id: string, built: Built, overrides: SpecOverrides = {}): SourceSpec {
  return {
    id,
    digest: built.digest,
    component: built.bytes,
    allowedHosts: [],
    settings: {},
    ...overrides,
    limits: { ...defaultLimits, ...overrides.limits },
  };
}

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

export function captureLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (obj: Record<string, unknown>, msg: string) => {
    records.push({ level, obj, msg });
  };
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * A runner over the shared test cache. The attack tests fail calls on purpose many times in a row,
 * which would open a source's circuit; circuit breaking has its own tests (health.test.ts), so it is
 * out of the way here unless a test asks for it.
 */
export function newPool(options: Partial<RunnerOptions> = {}): RunnerPool {
  return new RunnerPool({ cacheDir: runnerCacheDir, circuitBreaker: { failureThreshold: 1_000_000 }, ...options });
}

export interface Fixture {
  url: string;
  port: number;
  /** every request the server received, in order */
  requests: Array<{ method: string; url: string; host: string | undefined }>;
  /** the most requests that were open at once */
  maxConcurrent: number;
  /** requests whose connection closed before a response was sent */
  abandoned: number;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** An HTTP server on 127.0.0.1 that records what reaches it. */
export async function fixtureServer(handler: Handler = (_req, res) => res.end('fixture')): Promise<Fixture> {
  let open = 0;
  const fixture: Fixture = {
    url: '',
    port: 0,
    requests: [],
    maxConcurrent: 0,
    abandoned: 0,
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    fixture.requests.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host });
    open++;
    fixture.maxConcurrent = Math.max(fixture.maxConcurrent, open);
    res.on('close', () => {
      open--;
      if (!res.writableEnded) fixture.abandoned++;
    });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  fixture.port = port;
  fixture.url = `http://127.0.0.1:${port}`;
  fixture.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fixture;
}
