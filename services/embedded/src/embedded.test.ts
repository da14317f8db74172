/**
 * The embedded server builds its runner pool from the config's `[runner]` table: a real port-0
 * server on an empty data directory, its pool's instance budget and booted spare workers read back.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POOL_DEFAULTS } from '@awasm/plugin-runner';
import { loadConfig } from '@awasm/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedServer, startEmbeddedServer } from './embedded.js';

let dir: string;
const servers: EmbeddedServer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'awasm-embedded-'));
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await rm(dir, { recursive: true, force: true });
});

async function start(name: string, toml: string, env: NodeJS.ProcessEnv = {}): Promise<EmbeddedServer> {
  const file = join(dir, `${name}.toml`);
  await writeFile(file, `host = "127.0.0.1"\nport = 0\nlog_level = "silent"\n${toml}`);
  const server = await startEmbeddedServer(loadConfig({ file, env, overrides: { dataDir: join(dir, name) } }));
  servers.push(server);
  return server;
}

describe('startEmbeddedServer', () => {
  it('passes the [runner] settings to the runner pool', async () => {
    const server = await start('set', '[runner]\nmax_instances = 3\nspare_workers = 0\n', {
      AWASM_RUNNER_MAX_INSTANCES: '5',
    });
    expect(server.runner.budgetStats().max).toBe(5);
    expect(server.runner.sparesReady()).toBe(0);
  });

  it("keeps the pool's defaults for settings left out", async () => {
    const server = await start('unset', '');
    expect(server.runner.budgetStats().max).toBe(POOL_DEFAULTS.maxInstances);
    await expect.poll(() => server.runner.sparesReady()).toBe(POOL_DEFAULTS.spareWorkers);
  });

  it('serves BackupService, which needs a user', async () => {
    const server = await start('backup', '[runner]\nspare_workers = 0\n');
    // the Connect protocol over fetch: an unregistered service would answer 404 unimplemented
    const response = await fetch(`${server.url}/awasm.v1.BackupService/ExportBackup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'unauthenticated' });
  });

  it('serves LibraryService, which needs a user', async () => {
    const server = await start('library', '[runner]\nspare_workers = 0\n');
    // a Connect unary call with an empty ListEntriesRequest: served, and refused for want of a key
    const response = await fetch(`${server.url}/awasm.v1.LibraryService/ListEntries`, {
      method: 'POST',
      headers: { 'content-type': 'application/proto' },
      body: new Uint8Array(0),
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { code: string }).code).toBe('unauthenticated');
  });

  it('serves UpdateService, which needs a user, and stops its scheduler on close', async () => {
    const server = await start('updates', '[runner]\nspare_workers = 0\n');
    const response = await fetch(`${server.url}/awasm.v1.UpdateService/GetRefreshStatus`, {
      method: 'POST',
      headers: { 'content-type': 'application/proto' },
      body: new Uint8Array(0),
    });
    expect(response.status).toBe(401);
    expect(server.updates.isStopped()).toBe(false);
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    expect(server.updates.isStopped()).toBe(true);
  });
});
