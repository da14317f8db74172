/**
 * Repositories end to end, all by the `awasm` CLI against two real servers on port 0: a plugin is
 * keygen'd, packed, signed and published to server A's registry; server B adds A as a repository,
 * finds the plugin, installs it, runs a search through it and updates it to a newer version. Then
 * A's registry is exported as a static repository served over plain HTTP, and B refuses a
 * downgrade, a tampered download, a tampered package whose index was rewritten to match, and a
 * package whose signer it does not trust, with what is installed unchanged each time. B's
 * repositories and the plugin installed from one survive a restart.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { buildDemoComponent, readDemoManifest, startFixtureSite } from '@awasm/plugin-demo-library';
import { sha256Hex } from '@awasm/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigDir, configDir } from '../support/auth.js';
import { awasm, awasmBin, startProcess, tempDir } from '../support/index.js';

const ADMIN_TOKEN = 'e2e-admin-token-repos-8c2d41f0';

let data: Awaited<ReturnType<typeof tempDir>>;
// each server saves its first admin's key in its own folder: they start at the same time
const configs: Record<string, ConfigDir> = {};
let site: Awaited<ReturnType<typeof startFixtureSite>>;
let serverA: Awaited<ReturnType<typeof startProcess>>;
let serverB: Awaited<ReturnType<typeof startProcess>>;
let files: http.Server;
let urlA: string;
let urlB: string;
let filesUrl: string;
let componentFile: string;
let keyId: string;

const path = (name: string) => join(data.path, name);
const onA = (args: string[]) => awasm(['--server', urlA, ...args], configs.a?.env);
const onB = (args: string[]) => awasm(['--server', urlB, ...args], configs.b?.env);

async function start(name: string, extraArgs: string[]) {
  configs[name] ??= await configDir(`repos-${name}`);
  return startProcess(
    process.execPath,
    [awasmBin, 'serve', '--port', '0', '--data-dir', path(name), '--log-level', 'warn', ...extraArgs],
    /awasm listening on (http:\/\/\S+)/,
    {
      env: {
        ...configs[name]?.env,
        AWASM_ADMIN_TOKEN: ADMIN_TOKEN,
        // the demo plugin is built by componentize-js, which always imports the (inert) filesystem
        AWASM_REGISTRY_ALLOW_FILESYSTEM_IMPORTS: 'true',
        AWASM_ALLOW_UNSIGNED_PACKAGES: 'false',
      },
    },
  );
}

async function startB() {
  const previous = urlB;
  serverB = await start('b', ['--connect-to', `demo-library.awasm.test:80=127.0.0.1:${site.port}`]);
  urlB = serverB.match[1] as string;
  if (previous) configs.b?.carryOver(previous, urlB);
}

/** A plain static file server on loopback: what any web server hosting an exported repository does. */
function serveFolder(root: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const file = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    stat(file).then(
      (s) => {
        if (!s.isFile()) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-length': s.size });
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Packs and signs the demo plugin at `version` with alice's key. */
async function packVersion(version: string): Promise<string> {
  const manifest = (await readDemoManifest())
    .replace('version = "0.1.0"', `version = "${version}"`)
    .replace('nsfw = false', `nsfw = false\npublisher_key_id = "${keyId}"`);
  const manifestFile = path(`manifest-${version}.toml`);
  await writeFile(manifestFile, manifest);
  const out = path(`demo-${version}.awpkg`);
  const pack = await awasm(['plugin', 'pack', manifestFile, componentFile, '-o', out, '--key', path('alice.key')]);
  expect(pack.code, pack.stderr).toBe(0);
  return out;
}

async function installedOnB(): Promise<{ id: string; version: string; packageSha256: string }[]> {
  const list = await onB(['--json', 'plugin', 'list']);
  expect(list.code, list.stderr).toBe(0);
  return JSON.parse(list.stdout);
}

beforeAll(async () => {
  data = await tempDir('repos-e2e');
  site = await startFixtureSite({ host: '127.0.0.1', port: 0 });
  componentFile = (await buildDemoComponent()).path;
  [serverA] = await Promise.all([start('a', []), startB()]);
  urlA = serverA.match[1] as string;
  files = await serveFolder(path('static'));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await serverA?.stop();
  await serverB?.stop();
  await new Promise((resolve) => (files ? files.close(resolve) : resolve(undefined)));
  await site?.close();
  await data?.remove();
  for (const config of Object.values(configs)) await config.remove();
});

describe('publish on A, install and update on B, all by CLI', () => {
  it('publishes a signed plugin to A with upload progress', async () => {
    const keygen = await awasm(['--json', 'plugin', 'keygen', '-o', path('alice')]);
    expect(keygen.code, keygen.stderr).toBe(0);
    keyId = JSON.parse(keygen.stdout).keyId;
    const trust = await onA([
      'registry',
      '--admin-token',
      ADMIN_TOKEN,
      'trust',
      path('alice.pub'),
      '--name',
      'alice',
      '--plugins',
      'demo-library',
    ]);
    expect(trust.code, trust.stderr).toBe(0);
    const publish = await onA(['plugin', 'publish', await packVersion('0.1.0'), '--key', path('alice.key')]);
    expect(publish.code, publish.stderr).toBe(0);
    expect(publish.stdout).toContain('published demo-library 0.1.0');
    // stderr is a pipe here, so progress comes as plain lines
    expect(publish.stderr).toMatch(/uploading \S+demo-0\.1\.0\.awpkg: 100% \(\d+ of \d+ bytes\)/);
  });

  it('B adds A as a repository, pinning the keys its index names', async () => {
    const add = await onB(['repo', 'add', urlA, '--name', 'a']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain(`added repository a (grpc, ${urlA}`);
    expect(add.stdout).toMatch(new RegExp(`${keyId}\\s+demo-library\\s+yes`));
    const again = await onB(['repo', 'add', urlA, '--name', 'a']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('AlreadyExists');
    const unreachable = await onB(['repo', 'add', 'http://127.0.0.1:9/', '--name', 'nowhere']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('Unavailable');
    const list = await onB(['repo', 'list']);
    expect(list.stdout).toMatch(/^a\s+grpc\s+\S+\s+1\s+\S+\s+ok$/m);
  });

  it('B finds the plugin, installs it with download progress, and runs it', async () => {
    const search = await onB(['plugin', 'search', 'library']);
    expect(search.code, search.stderr).toBe(0);
    expect(search.stdout).toMatch(/demo-library\s+Demo Library\s+0\.1\.0\s+-\s+a\s+book,manga\s+en\s+trusted/);
    expect((await onB(['plugin', 'search', '--kind', 'anime'])).stdout).toContain('no plugins found');
    expect((await onB(['plugin', 'search', '--kind', 'cartoon'])).code).toBe(2);

    const install = await onB(['plugin', 'install', 'demo-library']);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toMatch(/^installed demo-library 0\.1\.0 from a \(package [0-9a-f]{12}\)/);
    expect(install.stderr).toMatch(/downloading demo-library 0\.1\.0 from a: 100% \(\d+ of \d+ bytes\)/);

    const results = await onB(['--json', 'search', 'demo-library', 'alice']);
    expect(results.code, results.stderr).toBe(0);
    const { items } = JSON.parse(results.stdout);
    expect(items.length).toBeGreaterThan(0);
    expect(items[0].title.toLowerCase()).toContain('alice');

    const missing = await onB(['plugin', 'install', 'no-such-plugin']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('NotFound: no repository offers no-such-plugin');
  });

  it('B shows the update A now offers and installs it', async () => {
    const publish = await onA(['plugin', 'publish', await packVersion('0.2.0'), '--key', path('alice.key')]);
    expect(publish.code, publish.stderr).toBe(0);

    const check = await onB(['plugin', 'update', '--check']);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/demo-library\s+0\.1\.0\s+0\.2\.0\s+a/);
    expect((await onB(['plugin', 'search'])).stdout).toContain('0.1.0 (update)');

    const update = await onB(['plugin', 'update']);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toContain('updated demo-library 0.1.0 -> 0.2.0 from a');
    expect((await installedOnB())[0]).toMatchObject({ id: 'demo-library', version: '0.2.0' });
    expect((await onB(['plugin', 'update'])).stdout).toContain('all plugins are up to date');

    const results = await onB(['--json', 'search', 'demo-library', 'alice']);
    expect(results.code, results.stderr).toBe(0);
    expect(JSON.parse(results.stdout).items.length).toBeGreaterThan(0);
  });
});

describe('a static repository, and refusals that change nothing', () => {
  let before: { id: string; version: string; packageSha256: string }[];
  let tamperedFile: string;

  it('exports A as index.json plus package files, and B adds the folder served over HTTP', async () => {
    // 0.3.0 is published on A too; B installs it only from the static copy below, where it is tampered
    expect((await onA(['plugin', 'publish', await packVersion('0.3.0'), '--key', path('alice.key')])).code).toBe(0);
    const exported = await onA(['registry', 'export', path('static')]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain(`exported 3 versions of 1 plugin to ${path('static')} (3 packages downloaded)`);
    const index = JSON.parse(await readFile(path('static/index.json'), 'utf8'));
    expect(index).toMatchObject({ format: 'awasm-repository-index', formatVersion: 1 });
    for (const v of index.versions) {
      expect(sha256Hex(await readFile(path(`static/packages/${v.packageSha256}.awpkg`)))).toBe(v.packageSha256);
    }
    // exporting again downloads nothing new
    expect((await onA(['registry', 'export', path('static')])).stdout).toContain('(0 packages downloaded)');

    const add = await onB(['repo', 'add', filesUrl, '--name', 'files']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain(`added repository files (static, ${filesUrl}, 1 plugin)`);
    expect((await onB(['repo', 'list'])).stdout).toMatch(/^files\s+static\s+/m);
    before = await installedOnB();
    expect(before[0]).toMatchObject({ version: '0.2.0' });
  });

  it('refuses a downgrade (unless forced, below)', async () => {
    const downgrade = await onB(['plugin', 'install', 'demo-library', '--version', '0.1.0', '--repo', 'files']);
    expect(downgrade.code).toBe(1);
    expect(downgrade.stderr).toContain('FailedPrecondition');
    expect(downgrade.stderr).toContain('older than the installed 0.2.0; downgrade refused');
    expect(await installedOnB()).toEqual(before);
  });

  it('refuses a download whose bytes do not match the index', async () => {
    const entry = JSON.parse(await readFile(path('static/index.json'), 'utf8')).versions.find(
      (v: { version: string }) => v.version === '0.3.0',
    );
    tamperedFile = path(`static/packages/${entry.packageSha256}.awpkg`);
    const genuine = await readFile(tamperedFile);
    const tampered = Buffer.from(genuine.toString('latin1').replace('Demo Library', 'Demo Lib3ary'), 'latin1');
    expect(tampered.equals(genuine)).toBe(false);
    await writeFile(tamperedFile, tampered);

    const refused = await onB(['plugin', 'install', 'demo-library', '--repo', 'files']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('DataLoss');
    expect(refused.stderr).toContain('does not match its index');
    expect(await installedOnB()).toEqual(before);
  });

  it('refuses a tampered package even when its index entry was rewritten to match', async () => {
    const indexFile = path('static/index.json');
    const index = JSON.parse(await readFile(indexFile, 'utf8'));
    const entry = index.versions.find((v: { version: string }) => v.version === '0.3.0');
    const tampered = await readFile(tamperedFile);
    entry.packageSha256 = sha256Hex(tampered);
    entry.size = String(tampered.length);
    await writeFile(path(`static/packages/${entry.packageSha256}.awpkg`), tampered);
    await writeFile(indexFile, JSON.stringify(index));

    const refused = await onB(['plugin', 'install', 'demo-library', '--repo', 'files']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('InvalidArgument');
    expect(refused.stderr).toContain("does not match the package's manifest and component");
    expect(await installedOnB()).toEqual(before);
  });

  it('refuses a package signed by a key the repository is not pinned to', async () => {
    const bob = await awasm(['--json', 'plugin', 'keygen', '-o', path('bob')]);
    const bobId = JSON.parse(bob.stdout).keyId;
    const add = await onB(['repo', 'add', urlA, '--name', 'picky', '--trust-key', bobId]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(new RegExp(`${keyId}\\s+demo-library\\s+no`));
    expect((await onB(['plugin', 'search', '--repo', 'picky'])).stdout).toContain(`untrusted ${keyId.slice(0, 12)}`);
    const refused = await onB(['plugin', 'install', 'demo-library', '--repo', 'picky']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`PermissionDenied`);
    expect(refused.stderr).toContain(`signed by key ${keyId}, which this server does not trust`);
    expect(await installedOnB()).toEqual(before);

    // the operator pins alice's key for that repository after all, then unpins it again
    const trust = await onB(['repo', 'trust', 'picky', keyId]);
    expect(trust.code, trust.stderr).toBe(0);
    expect(trust.stdout).toMatch(new RegExp(`${keyId}\\s+demo-library\\s+yes`));
    expect((await onB(['plugin', 'search', '--repo', 'picky'])).stdout).toMatch(/demo-library .*trusted$/m);
    const untrust = await onB(['--json', 'repo', 'untrust', 'picky', keyId]);
    expect(JSON.parse(untrust.stdout).repository.trustedKeyIds).toEqual([bobId]);
    expect((await onB(['repo', 'trust', 'picky', 'not-a-key'])).stderr).toContain('InvalidArgument');

    expect((await onB(['repo', 'remove', 'picky'])).code).toBe(0);
    const gone = await onB(['repo', 'remove', 'picky']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('NotFound');
  });

  it('keeps repositories and the plugin installed from one across a restart', async () => {
    await serverB.stop();
    await startB();
    const list = await onB(['--json', 'repo', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).map((r: { name: string }) => r.name)).toEqual(['a', 'files']);
    const installed = await installedOnB();
    expect(installed).toHaveLength(1);
    expect(installed[0]).toMatchObject({ id: 'demo-library', version: '0.2.0' });
    expect(installed[0]).not.toHaveProperty('loadError');
    const results = await onB(['search', 'demo-library', 'alice']);
    expect(results.code, results.stderr).toBe(0);
    // the genuine 0.3.0 from A installs fine
    const update = await onB(['plugin', 'update', 'demo-library']);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toContain('updated demo-library 0.2.0 -> 0.3.0 from a');
    // a forced downgrade is the operator's call
    const forced = await onB(['plugin', 'install', 'demo-library', '--version', '0.2.0', '--repo', 'a', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect((await installedOnB())[0]).toMatchObject({ version: '0.2.0' });
  });
});
