/**
 * Publishing end to end with the `awasm` CLI against a real server on port 0: keygen, pack, sign,
 * trust (operator), publish, index, refusals, and installing the signed package on a server that
 * accepts only signed packages from trusted keys.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { buildDemoComponent, readDemoManifest } from '@awasm/plugin-demo-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awasm, awasmBin, startProcess, tempDir } from '../support/index.js';

const ADMIN_TOKEN = 'e2e-admin-token-5f3a9c1d7b';

let data: Awaited<ReturnType<typeof tempDir>>;
let server: Awaited<ReturnType<typeof startProcess>>;
let url: string;
let componentFile: string;
let manifestFile: string;

const cli = (args: string[]) => awasm(['--server', url, ...args]);
const admin = (args: string[]) => awasm(['--server', url, 'registry', '--admin-token', ADMIN_TOKEN, ...args]);
const path = (name: string) => join(data.path, name);

beforeAll(async () => {
  data = await tempDir('registry-e2e');
  componentFile = (await buildDemoComponent()).path;
  server = await startProcess(
    process.execPath,
    [awasmBin, 'serve', '--port', '0', '--data-dir', path('data'), '--log-level', 'warn'],
    /awasm listening on (http:\/\/\S+)/,
    {
      env: {
        AWASM_ADMIN_TOKEN: ADMIN_TOKEN,
        // the demo plugin is built by componentize-js, which always imports the (inert) filesystem
        AWASM_REGISTRY_ALLOW_FILESYSTEM_IMPORTS: 'true',
        AWASM_ALLOW_UNSIGNED_PACKAGES: 'false',
      },
    },
  );
  url = server.match[1] as string;
});

afterAll(async () => {
  await server?.stop();
  await data?.remove();
});

/** A TCP proxy on loopback to `target` that counts the bytes clients send through it. */
async function countingProxy(target: URL): Promise<{ url: string; sent(): number; close(): Promise<void> }> {
  let sent = 0;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length;
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    sent: () => sent,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('awasm plugin keygen / pack / sign / publish', () => {
  let keyId: string;

  it('makes a key, packs unsigned, signs, and refuses to publish before the key is trusted', async () => {
    const keygen = await awasm(['--json', 'plugin', 'keygen', '-o', path('alice')]);
    expect(keygen.code, keygen.stderr).toBe(0);
    keyId = JSON.parse(keygen.stdout).keyId;
    expect(keyId).toMatch(/^[0-9a-f]{32}$/);
    expect((await readFile(path('alice.pub'), 'utf8')).trim()).toMatch(/^ed25519:/);
    expect((await awasm(['plugin', 'keygen', '-o', path('alice')])).stderr).toContain('already exists');

    const manifest = `${await readDemoManifest()}`.replace(
      'nsfw = false',
      `nsfw = false\npublisher_key_id = "${keyId}"`,
    );
    manifestFile = path('manifest.toml');
    await writeFile(manifestFile, manifest);
    const pack = await awasm(['plugin', 'pack', manifestFile, componentFile, '-o', path('demo.awpkg')]);
    expect(pack.code, pack.stderr).toBe(0);
    expect(pack.stdout).toContain('unsigned');

    // through a loopback proxy that counts what the CLI sends: the refusal comes before the package
    const proxy = await countingProxy(new URL(url));
    try {
      const unsigned = await awasm([
        '--server',
        proxy.url,
        'plugin',
        'publish',
        path('demo.awpkg'),
        '--key',
        path('alice.key'),
      ]);
      expect(unsigned.code).toBe(1);
      expect(unsigned.stderr).toContain(`Unauthenticated: key ${keyId} is not a publisher key this registry trusts`);
      const size = (await stat(path('demo.awpkg'))).size;
      console.log(`refused publish: the CLI sent ${proxy.sent()} bytes of a ${size}-byte package`);
      expect(size).toBeGreaterThan(1024 * 1024);
      expect(proxy.sent()).toBeLessThan(64 * 1024);
    } finally {
      await proxy.close();
    }

    const sign = await awasm(['plugin', 'sign', path('demo.awpkg'), '--key', path('alice.key')]);
    expect(sign.code, sign.stderr).toBe(0);
    expect(sign.stdout).toContain(`with key ${keyId}`);

    await awasm(['plugin', 'keygen', '-o', path('bob')]);
    const wrong = await awasm([
      'plugin',
      'sign',
      path('demo.awpkg'),
      '--key',
      path('bob.key'),
      '-o',
      path('bob.awpkg'),
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`the manifest's publisher_key_id is ${keyId}`);
  });

  it('the operator trusts the key; publishing lands once, refuses a tampered package, and shows in the index', async () => {
    // without the token the call carries the CLI's key: the first admin's, which `awasm serve` saved
    const noToken = await awasm(['--server', url, 'registry', 'keys'], { AWASM_ADMIN_TOKEN: '' });
    expect(noToken.code, noToken.stderr).toBe(0);
    const noKey = await awasm(['--server', url, '--api-key', 'awk_unknown', 'registry', 'keys'], {
      AWASM_ADMIN_TOKEN: '',
    });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('Unauthenticated');
    expect(noKey.stderr).toContain('hint: run `awasm login`');
    const wrongToken = await awasm(['--server', url, 'registry', '--admin-token', 'x'.repeat(30), 'keys']);
    expect(wrongToken.stderr).toContain('Unauthenticated');

    const trust = await admin(['trust', path('alice.pub'), '--name', 'alice', '--plugins', 'demo-library']);
    expect(trust.code, trust.stderr).toBe(0);
    expect(trust.stdout).toContain(`trusted key ${keyId} (alice) for demo-library`);

    const publish = await cli(['plugin', 'publish', path('demo.awpkg'), '--key', path('alice.key')]);
    expect(publish.code, publish.stderr).toBe(0);
    expect(publish.stdout).toMatch(/^published demo-library 0\.1\.0 \(package [0-9a-f]{12}/);
    expect((await cli(['plugin', 'publish', path('demo.awpkg'), '--key', path('alice.key')])).code).toBe(0);

    const signed = await readFile(path('demo.awpkg'));
    const tampered = Buffer.from(signed.toString('latin1').replace('Demo Library', 'Demo Lib3ary'), 'latin1');
    await writeFile(path('tampered.awpkg'), tampered);
    const refused = await cli(['plugin', 'publish', path('tampered.awpkg'), '--key', path('alice.key')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("does not match the package's manifest and component");

    const index = await cli(['--json', 'registry', 'index', '--kind', 'book']);
    expect(index.code, index.stderr).toBe(0);
    const plugins = JSON.parse(index.stdout);
    expect(plugins).toHaveLength(1);
    expect(plugins[0]).toMatchObject({ pluginId: 'demo-library', latest: { version: '0.1.0', publisherKeyId: keyId } });
    expect(Number(plugins[0].latest.size)).toBe(signed.length);
    expect((await cli(['registry', 'index', '--kind', 'anime'])).stdout).toContain('no plugins published');
    expect((await cli(['registry', 'index'])).stdout).toMatch(/demo-library\s+Demo Library\s+0\.1\.0/);
  });

  it('a server that takes only signed packages installs the trusted one and refuses the unsigned one', async () => {
    const unsigned = path('unsigned.awpkg');
    expect((await awasm(['plugin', 'pack', manifestFile, componentFile, '-o', unsigned])).code).toBe(0);
    const refused = await cli(['plugin', 'install', unsigned]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('PermissionDenied');
    expect(refused.stderr).toContain('not signed');

    const install = await cli(['plugin', 'install', path('demo.awpkg')]);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toContain('installed demo-library 0.1.0');
  });

  it('yanks and restores a version', async () => {
    const yank = await admin(['yank', 'demo-library', '0.1.0', '--reason', 'testing']);
    expect(yank.code, yank.stderr).toBe(0);
    expect((await cli(['registry', 'index'])).stdout).toContain('no plugins published');
    expect((await cli(['registry', 'index', '--yanked'])).stdout).toContain('0.1.0 (yanked)');
    expect((await admin(['yank', 'demo-library', '0.1.0', '--undo'])).code).toBe(0);
  });
});
