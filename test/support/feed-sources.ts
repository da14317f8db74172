import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LocalSourceRunner, RunnerPool } from '@awasm/plugin-runner';
import { buildJsComponent } from '@awasm/plugin-sdk';
import { encodePackage, sha256Hex } from '@awasm/shared';
import { type Fixture, fixtureServer } from './fixture-server.js';
import { repoRoot } from './index.js';

/** One unit as the fixture site lists it. */
export interface SiteUnit {
  id: string;
  title: string;
  number?: number;
  publishedAt?: number;
}

/**
 * The update tests' fixture site and sources: `count` sources built from test/support/plugins/feed,
 * each on its own host (feed-0.awasm.test, ...) at `requestsPerSecond`, run by a real RunnerPool
 * behind a LocalSourceRunner. The site serves each work's units as the test sets them and records
 * when each host was asked (performance.now() ms), so a test counts what reached the source.
 */
export interface FeedSources {
  sourceIds: string[];
  runner: LocalSourceRunner;
  pool: RunnerPool;
  site: Fixture;
  setUnits(sourceId: string, mediaId: string, units: SiteUnit[]): void;
  /** request times per source id, in arrival order */
  hits: Map<string, number[]>;
  close(): Promise<void>;
}

const UNITS_PER_PAGE = 50;
const pluginDir = join(repoRoot, 'test/support/plugins/feed');
let component: Promise<Uint8Array> | undefined;

function hostOf(index: number): string {
  return `feed-${index}.awasm.test`;
}

export async function startFeedSources(options: {
  count: number;
  requestsPerSecond: number;
  cacheDir: string;
}): Promise<FeedSources> {
  component ??= buildJsComponent({ sourcePath: join(pluginDir, 'index.js') }).then((b) => b.bytes);
  const [bytes, manifest] = await Promise.all([component, readFile(join(pluginDir, 'manifest.toml'), 'utf8')]);
  const sourceIds = Array.from({ length: options.count }, (_, i) => `feed-${i}`);
  const sourceOfHost = new Map(sourceIds.map((id, i) => [hostOf(i), id]));
  const units = new Map<string, SiteUnit[]>();
  const hits = new Map<string, number[]>(sourceIds.map((id) => [id, []]));

  const answer = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const sourceId = sourceOfHost.get((req.headers.host ?? '').replace(/:\d+$/, ''));
    const url = new URL(req.url ?? '/', 'http://site');
    const match = /^\/works\/([^/]+)(\/units)?$/.exec(url.pathname);
    const list = sourceId && match ? units.get(`${sourceId}/${match[1]}`) : undefined;
    if (sourceId) hits.get(sourceId)?.push(performance.now());
    if (!match || !list) {
      res.writeHead(404).end('no such work');
      return;
    }
    res.setHeader('content-type', 'application/json');
    if (!match[2]) {
      res.end(JSON.stringify({ id: match[1], title: `Work ${match[1]}` }));
      return;
    }
    const page = Number(url.searchParams.get('page') ?? '1');
    const items = list.slice((page - 1) * UNITS_PER_PAGE, page * UNITS_PER_PAGE);
    const nextPage = page * UNITS_PER_PAGE < list.length ? page + 1 : undefined;
    res.end(JSON.stringify({ items, nextPage }));
  };
  const site = await fixtureServer(answer);

  const packages = new Map<string, Uint8Array>();
  const pool = new RunnerPool({
    cacheDir: options.cacheDir,
    connectTo: Object.fromEntries(sourceIds.map((_, i) => [`${hostOf(i)}:80`, `127.0.0.1:${site.port}`])),
  });
  const runner = new LocalSourceRunner(pool, { get: async (digest) => packages.get(digest) });
  try {
    for (const [i, sourceId] of sourceIds.entries()) {
      const manifestToml = manifest
        .replace(/^id = .*$/m, `id = "${sourceId}"`)
        .replace(/^allowed_hosts = .*$/m, `allowed_hosts = ["http://${hostOf(i)}"]`)
        .replace(/^requests_per_second = .*$/m, `requests_per_second = ${options.requestsPerSecond}`);
      const file = encodePackage({ manifestToml, component: bytes });
      const digest = sha256Hex(file);
      packages.set(digest, file);
      await runner.load({ sourceId, packageDigest: digest, settings: { base_url: `http://${hostOf(i)}` } });
    }
  } catch (error) {
    await pool.close();
    await site.close();
    throw error;
  }
  return {
    sourceIds,
    runner,
    pool,
    site,
    hits,
    setUnits: (sourceId, mediaId, list) => units.set(`${sourceId}/${mediaId}`, list),
    async close() {
      await pool.close();
      await site.close();
    },
  };
}

/**
 * The most requests any window of the (sorted) arrival times held beyond what a GCRA limit of
 * `requestsPerSecond` with a burst of floor(requestsPerSecond) allows: 0 or less means the limit
 * held. Two requests released one interval apart may arrive up to `jitterMs` closer together.
 */
export function rateLimitExcess(times: number[], requestsPerSecond: number, jitterMs = 0): number {
  const interval = 1000 / requestsPerSecond;
  const burst = Math.max(1, Math.floor(requestsPerSecond));
  let worst = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      const allowed = burst + Math.floor(((times[j] as number) - (times[i] as number) + jitterMs) / interval);
      worst = Math.max(worst, j - i + 1 - allowed);
    }
  }
  return worst;
}
