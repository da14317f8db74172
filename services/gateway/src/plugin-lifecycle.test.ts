/**
 * PluginService and SourceService over Connect's in-memory transport, with the real runner,
 * SQLite store and package folder: upgrade, downgrade, failed loads and settings.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInProcessCatalogClient, PluginManager, registerPluginService, SqlitePluginStore } from '@awasm/catalog';
import { buildDemoComponent, readDemoManifest, startFixtureSite } from '@awasm/plugin-demo-library';
import { LocalSourceRunner, RunnerPool } from '@awasm/plugin-runner';
import { FolderPackageStore } from '@awasm/registry';
import { authenticate, requireAdmin, requireUser } from '@awasm/server';
import { createLogger, encodePackage, sha256Hex } from '@awasm/shared';
import { PluginService } from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import { SourceService } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { Code, createClient, createRouterTransport } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ADMIN } from '../../../test/support/auth.js';
import { failureOf } from '../../../test/support/connect.js';
import { registerSourceService } from './source-service.js';

let dir: string;
let site: Awaited<ReturnType<typeof startFixtureSite>>;
let runner: RunnerPool;
let store: SqlitePluginStore;
let packages: FolderPackageStore;
let manifest: string;
let component: Uint8Array;
let plugins: ReturnType<typeof createClient<typeof PluginService>>;
let sources: ReturnType<typeof createClient<typeof SourceService>>;

const withVersion = (version: string, extra: (m: string) => string = (m) => m) =>
  encodePackage({ manifestToml: extra(manifest.replace(/^version = ".*"$/m, `version = "${version}"`)), component });

async function upload(bytes: Uint8Array) {
  async function* one() {
    yield { chunk: bytes };
  }
  return plugins.install(one());
}

async function statusOf(call: Promise<unknown>): Promise<{ code: Code; message: string }> {
  const e = await failureOf(call);
  return { code: e.code, message: e.rawMessage };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'awasm-lifecycle-'));
  site = await startFixtureSite({ host: '127.0.0.1', port: 0 });
  manifest = await readDemoManifest();
  component = (await buildDemoComponent()).bytes;
  const logger = createLogger({ level: 'silent' });
  runner = new RunnerPool({
    cacheDir: join(dir, 'cache'),
    connectTo: { 'demo-library.awasm.test:80': `127.0.0.1:${site.port}` },
    logger,
  });
  store = new SqlitePluginStore(join(dir, 'catalog.db'));
  packages = new FolderPackageStore(join(dir, 'packages'));
  const manager = new PluginManager(store, packages, new LocalSourceRunner(runner, packages), logger);
  const sourceRunner = new LocalSourceRunner(runner, packages);
  const transport = createRouterTransport(
    (router) => {
      registerPluginService(router, manager, { access: { requireUser, requireAdmin } });
      registerSourceService(router, {
        catalog: createInProcessCatalogClient(manager),
        runner: sourceRunner,
        cursorSecret: randomBytes(32),
      });
    },
    { router: { interceptors: [authenticate(() => TEST_ADMIN)] } },
  );
  plugins = createClient(PluginService, transport);
  sources = createClient(SourceService, transport);
});

afterAll(async () => {
  await runner?.close();
  await store?.close();
  await site?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('plugin lifecycle', () => {
  it('installs, then upgrades keeping settings and dropping the old package', async () => {
    const first = await upload(withVersion('0.1.0'));
    expect(first.plugin?.version).toBe('0.1.0');
    await plugins.setSettings({ pluginId: 'demo-library', values: { page_size: '3' } });
    const second = await upload(withVersion('0.2.0'));
    expect(second.plugin?.version).toBe('0.2.0');
    expect((await plugins.getSettings({ pluginId: 'demo-library' })).values.page_size).toBe('3');
    expect(await packages.get(first.plugin?.packageSha256 as string)).toBeUndefined();
    const page = await sources.listMedia({ sourceId: 'demo-library', listing: 1 });
    expect(page.items).toHaveLength(3);
  });

  it('refuses a downgrade and changes nothing', async () => {
    const status = await statusOf(upload(withVersion('0.1.5')));
    expect(status).toEqual({
      code: Code.FailedPrecondition,
      message: expect.stringMatching(/0\.1\.5 is older than the installed 0\.2\.0; downgrade refused/),
    });
    expect((await plugins.listInstalled({})).plugins.map((p) => p.version)).toEqual(['0.2.0']);
  });

  it('refuses a package whose package_sha256 does not match its component, naming the key', async () => {
    const status = await statusOf(upload(withVersion('0.3.0', (m) => `package_sha256 = "${'0'.repeat(64)}"\n${m}`)));
    expect(status.code).toBe(Code.InvalidArgument);
    expect(status.message).toContain("manifest key 'package_sha256'");
    expect(status.message).toContain(sha256Hex(component));
  });

  it('an upgrade the runner cannot load is refused and the installed version keeps serving', async () => {
    // A core wasm module, not a component: the package format accepts it, the runner cannot load it.
    const coreModule = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    const unloadable = encodePackage({
      manifestToml: manifest.replace(/^version = ".*"$/m, 'version = "0.4.0"'),
      component: coreModule,
    });
    const status = await statusOf(upload(unloadable));
    expect(status.code).toBe(Code.InvalidArgument);
    expect(status.message).toMatch(/^plugin 'demo-library' cannot be loaded: /);
    expect((await plugins.listInstalled({})).plugins.map((p) => p.version)).toEqual(['0.2.0']);
    const page = await sources.search({ sourceId: 'demo-library', query: 'alice' });
    expect(page.items.length).toBeGreaterThan(0);
  });

  it('validates settings before storing any of them', async () => {
    const status = await statusOf(
      plugins.setSettings({ pluginId: 'demo-library', values: { page_size: '4', base_url: 'x'.repeat(5000) } }),
    );
    expect(status.code).toBe(Code.InvalidArgument);
    expect((await plugins.getSettings({ pluginId: 'demo-library' })).values.page_size).toBe('3');
    expect((await statusOf(plugins.getSettings({ pluginId: 'nope' }))).code).toBe(Code.NotFound);
    expect((await statusOf(plugins.enable({ pluginId: '' }))).code).toBe(Code.InvalidArgument);
  });

  it('an upstream 404 becomes NOT_FOUND with the typed SourceError detail', async () => {
    const status = await statusOf(sources.getMedia({ sourceId: 'demo-library', mediaId: 'no-such-media' }));
    expect(status).toEqual({ code: Code.NotFound, message: "source 'demo-library' has no such item" });
  });
});
