// Plain JavaScript so the catalog benchmark (test/bench, run by node) shares it with the tests;
// the types are in feed-sources.d.mts.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { LocalSourceRunner, RunnerPool } from '@awasm/plugin-runner';
import { buildJsComponent } from '@awasm/plugin-sdk';
import { encodePackage, sha256Hex } from '@awasm/shared';

const UNITS_PER_PAGE = 50;
const pluginDir = fileURLToPath(new URL('./plugins/feed/', import.meta.url));
/** @type {Promise<Uint8Array> | undefined} */
let component;

const hostOf = (index) => `feed-${index}.awasm.test`;

async function listen(handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startFeedSite({ count, requestsPerSecond }) {
  component ??= buildJsComponent({ sourcePath: join(pluginDir, 'index.js') }).then((b) => b.bytes);
  const [bytes, manifest] = await Promise.all([component, readFile(join(pluginDir, 'manifest.toml'), 'utf8')]);
  const sourceIds = Array.from({ length: count }, (_, i) => `feed-${i}`);
  const sourceOfHost = new Map(sourceIds.map((id, i) => [hostOf(i), id]));
  const units = new Map();
  const hits = new Map(sourceIds.map((id) => [id, []]));

  const site = await listen((req, res) => {
    const sourceId = sourceOfHost.get((req.headers.host ?? '').replace(/:\d+$/, ''));
    const url = new URL(req.url ?? '/', 'http://site');
    const match = /^\/works\/([^/]+)(\/units)?$/.exec(url.pathname);
    const list = sourceId && match ? units.get(`${sourceId}/${match[1]}`) : undefined;
    if (sourceId) hits.get(sourceId).push(performance.now());
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
  });

  const packages = new Map();
  for (const [i, sourceId] of sourceIds.entries()) {
    const manifestToml = manifest
      .replace(/^id = .*$/m, `id = "${sourceId}"`)
      .replace(/^name = .*$/m, `name = "Feed ${i}"`)
      .replace(/^allowed_hosts = .*$/m, `allowed_hosts = ["http://${hostOf(i)}"]`)
      .replace(/^requests_per_second = .*$/m, `requests_per_second = ${requestsPerSecond}`)
      .replace(/^default = "http:\/\/feed\.awasm\.test"$/m, `default = "http://${hostOf(i)}"`);
    packages.set(sourceId, encodePackage({ manifestToml, component: bytes }));
  }
  return {
    sourceIds,
    site: { url: site.url, port: site.port },
    packages,
    connectTo: Object.fromEntries(sourceIds.map((_, i) => [`${hostOf(i)}:80`, `127.0.0.1:${site.port}`])),
    hits,
    setUnits: (sourceId, mediaId, list) => units.set(`${sourceId}/${mediaId}`, list),
    close: () => site.close(),
  };
}

export async function startFeedSources({ count, requestsPerSecond, cacheDir }) {
  const feed = await startFeedSite({ count, requestsPerSecond });
  const byDigest = new Map([...feed.packages.values()].map((file) => [sha256Hex(file), file]));
  const pool = new RunnerPool({ cacheDir, connectTo: feed.connectTo });
  const runner = new LocalSourceRunner(pool, { get: async (digest) => byDigest.get(digest) });
  try {
    for (const [sourceId, file] of feed.packages) {
      await runner.load({ sourceId, packageDigest: sha256Hex(file), settings: {} });
    }
  } catch (error) {
    await pool.close();
    await feed.close();
    throw error;
  }
  return {
    ...feed,
    runner,
    pool,
    async close() {
      await pool.close();
      await feed.close();
    },
  };
}

export function rateLimitExcess(times, requestsPerSecond, jitterMs = 0) {
  const interval = 1000 / requestsPerSecond;
  const burst = Math.max(1, Math.floor(requestsPerSecond));
  const sorted = [...times].sort((a, b) => a - b);
  let worst = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i; j < sorted.length; j++) {
      const allowed = burst + Math.floor((sorted[j] - sorted[i] + jitterMs) / interval);
      worst = Math.max(worst, j - i + 1 - allowed);
    }
  }
  return worst;
}
