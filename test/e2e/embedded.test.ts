/**
 * The walking skeleton end to end: a real `awasm` server on port 0 (SQLite, package folder,
 * sandboxed runner), the demo plugin installed from its package file, and clients nobody here
 * wrote (Python grpcio, grpcurl through reflection) plus the project's own CLI, all over HTTP/2.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDemoPackage } from '@awasm/cli';
import { startFixtureSite } from '@awasm/plugin-demo-library';
import { encodePackage, saveCredentials } from '@awasm/shared';
import { SearchRequestSchema, SearchResponseSchema } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { savedAdminKey } from '../support/auth.js';
import {
  awasm,
  awasmBin,
  grpcurlBin,
  pythonBin,
  repoRoot,
  requireTool,
  run,
  startProcess,
  tempDir,
} from '../support/index.js';

const QUERY = 'alice';

let data: Awaited<ReturnType<typeof tempDir>>;
let site: Awaited<ReturnType<typeof startFixtureSite>>;
let server: Awaited<ReturnType<typeof startProcess>>;
let url: string;
let adminKey: string | undefined;
let packageFile: string;
let badManifestFile: string;
let malformedFile: string;

async function startServer() {
  server = await startProcess(
    process.execPath,
    [
      awasmBin,
      'serve',
      '--port',
      '0',
      '--data-dir',
      join(data.path, 'data'),
      '--log-level',
      'warn',
      '--connect-to',
      `demo-library.awasm.test:80=127.0.0.1:${site.port}`,
    ],
    /awasm listening on (http:\/\/\S+)/,
  );
  url = server.match[1] as string;
  // a restart listens on another port: the CLI's key from the first start is saved for it too
  if (adminKey) saveCredentials([url], { key: adminKey, user: 'admin' });
  else adminKey = savedAdminKey(url);
}

beforeAll(async () => {
  data = await tempDir('e2e');
  site = await startFixtureSite({ host: '127.0.0.1', port: 0 });
  const bytes = await buildDemoPackage();
  packageFile = join(data.path, 'demo-library.awpkg');
  await writeFile(packageFile, bytes);
  malformedFile = join(data.path, 'malformed.awpkg');
  await writeFile(malformedFile, 'this is not a package');
  const manifest = await readFile(join(repoRoot, 'plugins/demo-library/manifest.toml'), 'utf8');
  badManifestFile = join(data.path, 'bad-manifest.awpkg');
  await writeFile(
    badManifestFile,
    encodePackage({
      manifestToml: manifest.replace(/memory_mb = \d+/, 'memory_mb = 99999'),
      component: Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]),
    }),
  );
  await startServer();
});

afterAll(async () => {
  await server?.stop();
  await site?.close();
  await data?.remove();
});

describe('embedded server end to end', () => {
  it('Python grpcio installs the package, searches, lists units and gets assets; bad input gets clear statuses', async () => {
    const target = url.replace('http://', '');
    const result = await run(requireTool(pythonBin), [
      join(repoRoot, 'test/e2e/python/demo_client.py'),
      '--target',
      target,
      '--proto-root',
      join(repoRoot, 'proto'),
      '--package',
      packageFile,
      '--bad-package',
      malformedFile,
      '--bad-package',
      badManifestFile,
      '--query',
      QUERY,
      '--api-key',
      savedAdminKey(url),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.installed).toEqual({ id: 'demo-library', version: '0.1.0', enabled: true });
    expect(report.search.length).toBeGreaterThan(0);
    expect(report.search[0].title.toLowerCase()).toContain(QUERY);
    expect(report.units.length).toBeGreaterThan(0);
    expect(report.assets.length).toBeGreaterThan(0);
    expect(report.refused_packages).toEqual([
      { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/malformed package: not an aWASM package/) },
      { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/manifest key 'limits.memory_mb'/) },
    ]);
    expect(report.installed_unchanged).toBe(true);
    expect(report.errors.unknown_source).toEqual({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/unknown source 'no-such-source'/),
    });
    expect(report.errors.empty_query).toEqual({ code: 'INVALID_ARGUMENT', message: 'query must not be empty' });
    expect(report.errors.unknown_media.code).toBe('NOT_FOUND');
    expect(report.errors.unspecified_listing.code).toBe('INVALID_ARGUMENT');
    expect(report.no_key).toEqual({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/needs an API key/) });
  });

  it('grpcurl finds the services through reflection and calls Search and health', async () => {
    const grpcurl = requireTool(grpcurlBin);
    const target = url.replace('http://', '');
    const list = await run(grpcurl, ['-plaintext', target, 'list']);
    expect(list.stdout).toContain('awasm.v1.SourceService');
    expect(list.stdout).toContain('awasm.v1.PluginService');
    expect(list.stdout).toContain('awasm.v1.RegistryService');
    const search = await run(grpcurl, [
      '-plaintext',
      '-H',
      `authorization: Bearer ${savedAdminKey(url)}`,
      '-d',
      JSON.stringify({ sourceId: 'demo-library', query: QUERY }),
      target,
      'awasm.v1.SourceService/Search',
    ]);
    expect(search.code).toBe(0);
    expect(JSON.parse(search.stdout).items.length).toBeGreaterThan(0);
    const noKey = await run(grpcurl, [
      '-plaintext',
      '-d',
      JSON.stringify({ sourceId: 'demo-library', query: QUERY }),
      target,
      'awasm.v1.SourceService/Search',
    ]);
    expect(noKey.stderr).toContain('Code: Unauthenticated');
    // health and reflection need no key
    const health = await run(grpcurl, ['-plaintext', target, 'grpc.health.v1.Health/Check']);
    expect(JSON.parse(health.stdout)).toEqual({ status: 'SERVING' });
  });

  it('@grpc/grpc-js, a second HTTP/2 gRPC implementation, gets the same answers and status codes', async () => {
    const client = new grpc.Client(url.replace('http://', ''), grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${savedAdminKey(url)}`);
    const search = (query: string) =>
      new Promise<{ error: grpc.ServiceError | null; titles: string[] }>((resolve) => {
        client.makeUnaryRequest(
          '/awasm.v1.SourceService/Search',
          (request: ReturnType<typeof create<typeof SearchRequestSchema>>) =>
            Buffer.from(toBinary(SearchRequestSchema, request)),
          (bytes: Buffer) => fromBinary(SearchResponseSchema, bytes),
          create(SearchRequestSchema, { sourceId: 'demo-library', query }),
          metadata,
          (error, response) => resolve({ error, titles: response?.items.map((m) => m.title) ?? [] }),
        );
      });
    try {
      const ok = await search(QUERY);
      expect(ok.error).toBeNull();
      expect(ok.titles.some((t) => t.toLowerCase().includes(QUERY))).toBe(true);
      const empty = await search('');
      expect(empty.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(empty.error?.details).toBe('query must not be empty');
    } finally {
      client.close();
    }
  });

  it('the CLI prints tables, JSON for scripts, and clear errors with exit codes', async () => {
    const list = await awasm(['--server', url, 'plugin', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+VERSION/);
    expect(list.stdout).toMatch(/demo-library\s+Demo Library\s+0\.1\.0\s+yes/);
    expect(list.stdout).toMatch(/\bHEALTH\n.*\bready\s+healthy\n/);

    const sources = await awasm(['--server', url, 'sources']);
    expect(sources.code).toBe(0);
    expect(sources.stdout).toMatch(/^ID\s+NAME\s+VERSION\s+KINDS\s+LANGUAGES\s+ENABLED\s+HEALTH\n/);
    expect(sources.stdout).toMatch(/demo-library\s.*\byes\s+healthy\n/);

    // the same port serves Prometheus metrics over HTTP/1.1
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^awasm_plugin_health\{source="demo-library",state="healthy"\} 1$/m);

    const search = await awasm(['--server', url, '--json', 'search', 'demo-library', QUERY]);
    expect(search.code).toBe(0);
    const found = JSON.parse(search.stdout);
    expect(found.items[0].sourceId).toBe('demo-library');

    const mediaId = found.items[0].id as string;
    const media = await awasm(['--server', url, 'media', 'demo-library', mediaId]);
    expect(media.code).toBe(0);
    expect(media.stdout).toContain(`id:        ${mediaId}`);
    const units = await awasm(['--server', url, '--json', 'units', 'demo-library', mediaId]);
    const unitId = JSON.parse(units.stdout).items[0].id as string;
    const assets = await awasm(['--server', url, 'assets', 'demo-library', unitId]);
    expect(assets.code).toBe(0);
    expect(assets.stdout).toMatch(/^#\s+KIND\s+CONTENT/);

    const unknown = await awasm(['--server', url, 'search', 'nope', 'x']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("error: NotFound: unknown source 'nope'");

    const usage = await awasm(['--server', url, 'browse', 'demo-library', 'sideways']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("listing 'sideways' must be popular or latest");

    const missingFile = await awasm(['--server', url, 'plugin', 'install', join(data.path, 'nope.awpkg')]);
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toContain('cannot read package file');

    const down = await awasm(['--server', 'http://127.0.0.1:1', 'plugin', 'list']);
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('cannot reach the awasm server at http://127.0.0.1:1');
  });

  it('settings are validated, and plugins and settings survive a restart', async () => {
    const bad = await awasm(['--server', url, 'plugin', 'settings', 'demo-library', 'page_size=lots']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("setting 'page_size'");
    const unknownKey = await awasm(['--server', url, 'plugin', 'settings', 'demo-library', 'colour=red']);
    expect(unknownKey.code).toBe(1);
    expect(unknownKey.stderr).toContain("has no setting 'colour'");

    const set = await awasm(['--server', url, 'plugin', 'settings', 'demo-library', 'page_size=2']);
    expect(set.code).toBe(0);
    const small = JSON.parse((await awasm(['--server', url, '--json', 'browse', 'demo-library', 'popular'])).stdout);
    expect(small.items).toHaveLength(2);
    expect(small.nextCursor).not.toBe('');

    await server.stop();
    await startServer();
    const settings = JSON.parse(
      (await awasm(['--server', url, '--json', 'plugin', 'settings', 'demo-library'])).stdout,
    );
    expect(settings.values.page_size).toBe('2');
    const again = JSON.parse((await awasm(['--server', url, '--json', 'browse', 'demo-library', 'popular'])).stdout);
    expect(again.items).toHaveLength(2);
  });

  it('a disabled source refuses calls until enabled again; uninstall removes it', async () => {
    expect((await awasm(['--server', url, 'plugin', 'disable', 'demo-library'])).code).toBe(0);
    const refused = await awasm(['--server', url, 'search', 'demo-library', QUERY]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('FailedPrecondition');
    expect((await awasm(['--server', url, 'plugin', 'enable', 'demo-library'])).code).toBe(0);
    expect((await awasm(['--server', url, 'search', 'demo-library', QUERY])).code).toBe(0);
    expect((await awasm(['--server', url, 'plugin', 'uninstall', 'demo-library'])).code).toBe(0);
    const gone = await awasm(['--server', url, 'plugin', 'list']);
    expect(gone.stdout.trim()).toBe('no plugins installed');
  });
});
