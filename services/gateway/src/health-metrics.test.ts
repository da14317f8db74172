/**
 * Source health (circuit breaking) and Prometheus metrics through a real port-0 server: the demo
 * plugin behind a switchable loopback proxy, a gRPC client over HTTP/2 and a plain HTTP/1.1 GET of
 * /metrics. Waiting for the breaker's cool-down polls the health it reports; nothing is timed.
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInProcessCatalogClient, PluginManager, registerPluginService, SqlitePluginStore } from '@awasm/catalog';
import { buildDemoComponent, readDemoManifest, startFixtureSite } from '@awasm/plugin-demo-library';
import { HostScheduler, LocalSourceRunner, RunnerPool, ServerMetrics } from '@awasm/plugin-runner';
import { FolderPackageStore } from '@awasm/registry';
import { createServer, metricsPage, type RunningServer, requireAdmin, requireUser } from '@awasm/server';
import { createLogger, encodePackage } from '@awasm/shared';
import { Listing } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { PluginService } from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import { SourceErrorSchema } from '@awasm/shared/gen/awasm/v1/source_error_pb.js';
import { HealthState } from '@awasm/shared/gen/awasm/v1/source_health_pb.js';
import { SourceService } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { Code, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TEST_ADMIN } from '../../../test/support/auth.js';
import { failureOf } from '../../../test/support/connect.js';
import { registerSourceService } from './source-service.js';

const OPEN_MS = 400;
let dir: string;
let site: Awaited<ReturnType<typeof startFixtureSite>>;
let proxy: http.Server;
/** what the proxy does with the next request: pass it to the site, reset the connection, or answer 429 */
let mode: 'up' | 'down' | 'throttle' = 'up';
let proxied = 0;
let runner: RunnerPool;
let store: SqlitePluginStore;
let server: RunningServer;
let sources: ReturnType<typeof createClient<typeof SourceService>>;
let plugins: ReturnType<typeof createClient<typeof PluginService>>;

const status = failureOf;

function get(path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample of the exposition text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(name.length + 1, line.lastIndexOf('}'));
    const have = inside.split(',');
    if (want.every((w) => have.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'awasm-health-'));
  site = await startFixtureSite({ host: '127.0.0.1', port: 0 });
  proxy = http.createServer((req, res) => {
    proxied++;
    if (mode === 'down') {
      req.socket.destroy();
      return;
    }
    if (mode === 'throttle') {
      res.writeHead(429, { 'retry-after': '120' }).end('slow down');
      return;
    }
    const upstream = http.request(
      { host: '127.0.0.1', port: site.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyPort = (proxy.address() as AddressInfo).port;

  const logger = createLogger({ level: 'silent' });
  const metrics = new ServerMetrics();
  runner = new RunnerPool({
    cacheDir: join(dir, 'cache'),
    connectTo: { 'demo-library.awasm.test:80': `127.0.0.1:${proxyPort}` },
    logger,
    scheduler: new HostScheduler(),
    circuitBreaker: { failureThreshold: 3, openMs: OPEN_MS },
    observer: metrics,
  });
  metrics.watch(runner);
  store = new SqlitePluginStore(join(dir, 'catalog.db'));
  const packages = new FolderPackageStore(join(dir, 'packages'));
  const sourceRunner = new LocalSourceRunner(runner, packages);
  const manager = new PluginManager(store, packages, sourceRunner, logger);
  const health = (id: string) => sourceRunner.health(id);
  server = await createServer({
    services: [SourceService, PluginService],
    routes: (router) => {
      registerSourceService(router, {
        catalog: createInProcessCatalogClient(manager),
        runner: sourceRunner,
        cursorSecret: randomBytes(32),
      });
      registerPluginService(router, manager, { health, access: { requireUser, requireAdmin } });
    },
    pages: [metricsPage(() => metrics.render())],
    authenticate: () => TEST_ADMIN,
  });
  const transport = createGrpcTransport({ baseUrl: server.url });
  sources = createClient(SourceService, transport);
  plugins = createClient(PluginService, transport);
  const component = (await buildDemoComponent()).bytes;
  await manager.install(encodePackage({ manifestToml: await readDemoManifest(), component }));
});

afterAll(async () => {
  await server?.close();
  await runner?.close();
  await store?.close();
  await new Promise((resolve) => proxy?.close(resolve));
  await site?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('source health', () => {
  it('reports a working source as healthy in ListSources and ListInstalled', async () => {
    expect(
      (await sources.listMedia({ sourceId: 'demo-library', listing: Listing.POPULAR })).items.length,
    ).toBeGreaterThan(0);
    const [source] = (await sources.listSources({})).sources;
    expect(source?.health).toMatchObject({ state: HealthState.HEALTHY, reason: '', consecutiveFailures: 0 });
    const [plugin] = (await plugins.listInstalled({})).plugins;
    expect(plugin?.health?.state).toBe(HealthState.HEALTHY);
  });

  it('marks a failing source unhealthy with the reason, fails calls fast, then probes and recovers', async () => {
    mode = 'down';
    for (let i = 0; i < 3; i++) {
      const err = await status(sources.listMedia({ sourceId: 'demo-library', listing: Listing.LATEST }));
      expect(err.code).toBe(Code.Unavailable);
      expect(err.findDetails(SourceErrorSchema)[0]?.kind.case).toBe('network');
    }
    const [source] = (await sources.listSources({})).sources;
    expect(source?.health?.state).toBe(HealthState.UNHEALTHY);
    expect(source?.health?.reason).toMatch(/^3 failures in a row, the last: network error/);
    expect(source?.health?.since).toBeDefined();
    expect(source?.health?.retryAt).toBeDefined();

    // while open, calls fail at once without reaching the site
    const before = proxied;
    const fast = await status(sources.listMedia({ sourceId: 'demo-library', listing: Listing.LATEST }));
    expect(fast.code).toBe(Code.Unavailable);
    expect(fast.rawMessage).toMatch(
      /source 'demo-library' is unhealthy since .*3 failures in a row.*; retrying in \d+ s/,
    );
    expect(proxied).toBe(before);
    expect(runner.stats('demo-library')?.unavailable).toBe(1);

    // after the cool-down the next call is the probe; the site is back, so the source is healthy again
    mode = 'up';
    await vi.waitFor(
      async () => {
        const [s] = (await sources.listSources({})).sources;
        expect(s?.health?.state).toBe(HealthState.PROBING);
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(
      (await sources.listMedia({ sourceId: 'demo-library', listing: Listing.LATEST })).items.length,
    ).toBeGreaterThan(0);
    const [after] = (await plugins.listInstalled({})).plugins;
    expect(after?.health).toMatchObject({ state: HealthState.HEALTHY, reason: '', consecutiveFailures: 0 });
  });

  it('answers RESOURCE_EXHAUSTED with retry_after_seconds when an upstream 429 holds the host past the deadline', async () => {
    mode = 'throttle';
    const first = await status(sources.search({ sourceId: 'demo-library', query: 'dune' }));
    expect(first.code).toBe(Code.ResourceExhausted);
    const before = proxied;
    const held = await status(sources.search({ sourceId: 'demo-library', query: 'dune' }));
    expect(held.code).toBe(Code.ResourceExhausted);
    const detail = held.findDetails(SourceErrorSchema)[0];
    expect(detail?.kind.case).toBe('rateLimited');
    const retry = detail?.kind.case === 'rateLimited' ? detail.kind.value.retryAfterSeconds : undefined;
    expect(retry).toBeGreaterThan(60);
    expect(retry).toBeLessThanOrEqual(120);
    // the held request never left the host, and rate limiting does not count against health
    expect(proxied).toBe(before);
    expect(runner.health('demo-library')?.state).toBe('healthy');
    mode = 'up';
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus text with per-plugin calls, errors, latency, bytes, memory, health and process metrics', async () => {
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body;
    const labels = { source: 'demo-library' };
    expect(sample(text, 'awasm_plugin_calls_total', { ...labels, op: 'list', outcome: 'ok' })).toBe(2);
    expect(sample(text, 'awasm_plugin_calls_total', { ...labels, op: 'list', outcome: 'source-error' })).toBe(3);
    expect(sample(text, 'awasm_plugin_call_errors_total', { ...labels, op: 'list', type: 'network' })).toBe(3);
    expect(sample(text, 'awasm_plugin_call_errors_total', { ...labels, op: 'list', type: 'unavailable' })).toBe(1);
    // the plugin's own rate-limited (it saw the 429) and the host's (the held request)
    expect(sample(text, 'awasm_plugin_call_errors_total', { ...labels, op: 'search', type: 'rate-limited' })).toBe(2);
    expect(sample(text, 'awasm_plugin_call_duration_seconds_count', { ...labels, op: 'list' })).toBe(5);
    expect(sample(text, 'awasm_plugin_http_received_bytes_total', labels)).toBeGreaterThan(0);
    expect(sample(text, 'awasm_plugin_http_sent_bytes_total', labels)).toBe(0);
    expect(sample(text, 'awasm_plugin_http_rate_limited_total', labels)).toBe(1);
    expect(sample(text, 'awasm_plugin_instance_memory_bytes', labels)).toBeGreaterThan(1024 * 1024);
    expect(sample(text, 'awasm_plugin_health', { ...labels, state: 'healthy' })).toBe(1);
    expect(sample(text, 'awasm_plugin_health', { ...labels, state: 'unhealthy' })).toBe(0);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it('refuses other methods on /metrics and leaves other paths to the API', async () => {
    expect((await get('/metrics', 'POST')).status).toBe(405);
    expect((await get('/metrics', 'HEAD')).status).toBe(200);
    expect((await get('/nothing-here')).status).toBe(404);
  });
});
