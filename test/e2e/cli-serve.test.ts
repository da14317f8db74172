/**
 * The CLI's documented behaviour around `serve` and updates, against real processes on port 0:
 * bad `serve` flags exit 2; `serve --demo` says what it is doing and never downgrades a demo plugin
 * the user updated; `plugin update --check` with its repositories unreachable says so and exits 1
 * (the server answered; the repositories it asked did not) instead of "all plugins are up to date".
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildDemoComponent, readDemoManifest } from '@awasm/plugin-demo-library';
import { encodePackage, encodeStaticIndex } from '@awasm/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { savedAdminKey } from '../support/auth.js';
import { awasm, awasmBin, startProcess, tempDir } from '../support/index.js';

let data: Awaited<ReturnType<typeof tempDir>>;
const running: Awaited<ReturnType<typeof startProcess>>[] = [];

beforeAll(async () => {
  data = await tempDir('cli-serve');
});

afterAll(async () => {
  for (const server of running) await server.stop();
  await data?.remove();
});

function serveDemo(dataDir: string) {
  return startProcess(
    process.execPath,
    [awasmBin, 'serve', '--demo', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'],
    /awasm listening on (http:\/\/\S+)[\s\S]*try: /,
    { timeoutMs: 180_000 },
  );
}

describe('awasm serve', () => {
  it('bad flags are bad usage: exit 2, naming the flag or key', async () => {
    const cases: [string[], RegExp][] = [
      [['--port', 'seventy'], /--port 'seventy' must be 0-65535/],
      [['--port', '70000'], /--port '70000' must be 0-65535/],
      [['--log-level', 'loud'], /--log-level 'loud' must be/],
      [['--connect-to', 'nonsense'], /connect_to|connect-to/],
      [['--no-such-flag'], /unknown option/],
    ];
    for (const [flags, message] of cases) {
      const result = await awasm(['serve', '--data-dir', join(data.path, 'unused'), ...flags]);
      expect(result.code, `${flags.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });

  it('--demo prints its steps, installs the demo plugin when missing, and never downgrades a newer one', async () => {
    const dataDir = join(data.path, 'demo-data');
    const first = await serveDemo(dataDir);
    running.push(first);
    const url = first.match[1] as string;
    expect(first.output()).toContain('installing the demo plugin...');

    // the user updates the demo plugin to a newer version of their own
    const manifest = (await readDemoManifest()).replace(/^version = "[^"]+"/m, 'version = "9.0.0"');
    const newer = join(data.path, 'demo-9.awpkg');
    await writeFile(newer, encodePackage({ manifestToml: manifest, component: (await buildDemoComponent()).bytes }));
    const install = await awasm(['--server', url, 'plugin', 'install', newer]);
    expect(install.code, install.stderr).toBe(0);
    await first.stop();

    const second = await serveDemo(dataDir);
    running.push(second);
    expect(second.output()).not.toContain('installing the demo plugin');
    expect(second.output()).toContain('demo plugin 9.0.0 is installed, newer than the bundled');
    // the same data, so the same admin, whose key the first start printed and saved (for its own port)
    expect(first.output()).toContain('first run: created the user admin with API key awk_');
    expect(second.output()).not.toContain('first run');
    const key = savedAdminKey(url);
    const list = await awasm(['--server', second.match[1] as string, '--api-key', key, '--json', 'plugin', 'list']);
    expect(JSON.parse(list.stdout).map((p: { id: string; version: string }) => [p.id, p.version])).toEqual([
      ['demo-library', '9.0.0'],
    ]);
    await second.stop();
  });
});

describe('awasm plugin update --check', () => {
  it('with every repository unreachable names them and exits 1', async () => {
    // a static repository over HTTP with an empty index, taken down after it was added
    const index = encodeStaticIndex([]);
    const site = http.createServer((req, res) => {
      if (req.url === '/index.json') res.writeHead(200, { 'content-type': 'application/json' }).end(index);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    const sitePort = (site.address() as AddressInfo).port;
    const server = await startProcess(
      process.execPath,
      [awasmBin, 'serve', '--port', '0', '--data-dir', join(data.path, 'update-data'), '--log-level', 'warn'],
      /awasm listening on (http:\/\/\S+)/,
    );
    running.push(server);
    const cli = (args: string[]) => awasm(['--server', server.match[1] as string, ...args]);
    const added = await cli(['repo', 'add', `http://127.0.0.1:${sitePort}/`, '--name', 'mirror']);
    expect(added.code, added.stderr).toBe(0);
    expect((await cli(['plugin', 'update', '--check'])).code).toBe(0);

    await new Promise<void>((resolve) => site.close(() => resolve()));
    const check = await cli(['plugin', 'update', '--check']);
    expect(check.stdout).not.toContain('up to date');
    expect(check.stderr).toContain("could not check for updates in repository 'mirror'");
    expect(check.code).toBe(1);
    const update = await cli(['plugin', 'update']);
    expect(update.stdout).not.toContain('up to date');
    expect(update.code).toBe(1);
    await server.stop();
  });
});
