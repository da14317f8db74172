/**
 * Who may call what on the embedded server, through its real wiring (port 0, gRPC over HTTP/2):
 * no key is UNAUTHENTICATED everywhere but Login, the registry's reads, health and /metrics; a
 * member reads sources, plugins and repositories and is PERMISSION_DENIED every change; an admin
 * user and the operator's admin token both administer the registry. The first start makes the
 * admin and hands out its key once.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@awasm/shared';
import { PluginService } from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import { RegistryService } from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import { RepositoryService } from '@awasm/shared/gen/awasm/v1/repository_service_pb.js';
import { SourceService } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { UserRole, UserService } from '@awasm/shared/gen/awasm/v1/user_service_pb.js';
import { Health } from '@awasm/shared/gen/grpc/health/v1/health_pb.js';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedServer, startEmbeddedServer } from '../../services/embedded/src/embedded.js';
import { bearer } from '../support/auth.js';

const ADMIN_TOKEN = 'access-test-admin-token-0123';

let dir: string;
let server: EmbeddedServer;
let adminKey: string;
let memberKey: string;

function clients() {
  const transport = createGrpcTransport({ baseUrl: server.url });
  return {
    sources: createClient(SourceService, transport),
    plugins: createClient(PluginService, transport),
    repositories: createClient(RepositoryService, transport),
    registry: createClient(RegistryService, transport),
    users: createClient(UserService, transport),
    health: createClient(Health, transport),
  };
}

async function start(): Promise<EmbeddedServer> {
  const file = join(dir, 'awasm.toml');
  await writeFile(file, 'host = "127.0.0.1"\nport = 0\nlog_level = "silent"\n[runner]\nspare_workers = 0\n');
  return startEmbeddedServer(
    loadConfig({ file, env: { AWASM_ADMIN_TOKEN: ADMIN_TOKEN }, overrides: { dataDir: join(dir, 'data') } }),
  );
}

/** The status code a call ends with; OK when it succeeds. Streams are read to their end. */
async function codeOf(call: () => Promise<unknown> | AsyncIterable<unknown>): Promise<Code | 'OK'> {
  try {
    const result = call();
    if (Symbol.asyncIterator in (result as object)) for await (const _ of result as AsyncIterable<unknown>);
    else await result;
    return 'OK';
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

async function* oneChunk() {
  yield { chunk: new Uint8Array([1, 2, 3]) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'awasm-access-'));
  server = await start();
  adminKey = server.adminKey ?? '';
  expect(adminKey).toMatch(/^awk_/);
  const created = await clients().users.createUser({ name: 'bob', role: UserRole.MEMBER }, bearer(adminKey));
  memberKey = created.key;
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Every RPC a user must be someone for: each needs a key, and a member gets the reads. */
const userCalls = (c: ReturnType<typeof clients>, o?: object) => ({
  listSources: () => c.sources.listSources({}, o),
  search: () => c.sources.search({ sourceId: 'nope', query: 'x' }, o),
  listMedia: () => c.sources.listMedia({ sourceId: 'nope' }, o),
  getMedia: () => c.sources.getMedia({ sourceId: 'nope', mediaId: 'm' }, o),
  listUnits: () => c.sources.listUnits({ sourceId: 'nope', mediaId: 'm' }, o),
  getAssets: () => c.sources.getAssets({ sourceId: 'nope', unitId: 'u' }, o),
  getFilters: () => c.sources.getFilters({ sourceId: 'nope' }, o),
  listInstalled: () => c.plugins.listInstalled({}, o),
  listRepositories: () => c.repositories.listRepositories({}, o),
  searchPlugins: () => c.repositories.searchPlugins({}, o),
  listUpdates: () => c.repositories.listUpdates({}, o),
  whoAmI: () => c.users.whoAmI({}, o),
  listApiKeys: () => c.users.listApiKeys({}, o),
  createApiKey: () => c.users.createApiKey({ name: 'k' }, o),
});

/** Every RPC that changes the server: an admin's. */
const adminCalls = (c: ReturnType<typeof clients>, o?: object) => ({
  install: () => c.plugins.install(oneChunk(), o),
  enable: () => c.plugins.enable({ pluginId: 'nope' }, o),
  disable: () => c.plugins.disable({ pluginId: 'nope' }, o),
  uninstall: () => c.plugins.uninstall({ pluginId: 'nope' }, o),
  getSettings: () => c.plugins.getSettings({ pluginId: 'nope' }, o),
  setSettings: () => c.plugins.setSettings({ pluginId: 'nope', values: {} }, o),
  addRepository: () => c.repositories.addRepository({ url: 'http://127.0.0.1:1/' }, o),
  removeRepository: () => c.repositories.removeRepository({ name: 'nope' }, o),
  setRepositoryKeys: () => c.repositories.setRepositoryKeys({ name: 'nope' }, o),
  installPlugin: () => c.repositories.installPlugin({ pluginId: 'nope' }, o),
  yank: () => c.registry.yank({ pluginId: 'nope', version: '1.0.0' }, o),
  listKeys: () => c.registry.listKeys({}, o),
  trustKey: () => c.registry.trustKey({ publicKey: 'x', name: 'x' }, o),
  removeKey: () => c.registry.removeKey({ keyId: 'nope' }, o),
  createUser: () => c.users.createUser({ name: 'eve', role: UserRole.MEMBER }, o),
  listUsers: () => c.users.listUsers({}, o),
  removeUser: () => c.users.removeUser({ name: 'nobody' }, o),
  resetKey: () => c.users.resetKey({ name: 'nobody' }, o),
});

describe('access to the embedded server', () => {
  it('refuses every call but the public ones without a key (UNAUTHENTICATED)', async () => {
    const c = clients();
    const calls = { ...userCalls(c), ...adminCalls(c) };
    for (const [name, call] of Object.entries(calls)) {
      expect([name, await codeOf(call)]).toEqual([name, Code.Unauthenticated]);
    }
    // a key the server never made is no key
    expect(await codeOf(() => c.sources.listSources({}, bearer('awk_made-up')))).toBe(Code.Unauthenticated);
  });

  it('keeps the registry reads, health and /metrics open', async () => {
    const c = clients();
    expect(await codeOf(() => c.registry.index({}))).toBe('OK');
    expect(await codeOf(() => c.registry.download({ packageSha256: '0'.repeat(64) }))).toBe(Code.NotFound);
    expect((await c.health.check({})).status).toBe(1);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
    // Login is how a user without a key gets one
    expect(await codeOf(() => c.users.login({ name: 'bob', password: 'no password set' }))).toBe(Code.Unauthenticated);
  });

  it('lets a member read and refuses every change (PERMISSION_DENIED)', async () => {
    const c = clients();
    const member = bearer(memberKey);
    const reads = userCalls(c, member);
    expect(await codeOf(reads.listSources)).toBe('OK');
    expect(await codeOf(reads.listInstalled)).toBe('OK');
    expect(await codeOf(reads.listRepositories)).toBe('OK');
    expect(await codeOf(reads.whoAmI)).toBe('OK');
    // past the check, the unknown source is the answer
    expect(await codeOf(reads.search)).toBe(Code.NotFound);
    for (const [name, call] of Object.entries(adminCalls(c, member))) {
      expect([name, await codeOf(call)]).toEqual([name, Code.PermissionDenied]);
    }
  });

  it('lets an admin user and the admin token administer the registry', async () => {
    const c = clients();
    expect(await codeOf(() => c.registry.listKeys({}, bearer(adminKey)))).toBe('OK');
    expect(await codeOf(() => c.registry.listKeys({}, bearer(ADMIN_TOKEN)))).toBe('OK');
    expect(await codeOf(() => c.plugins.getSettings({ pluginId: 'nope' }, bearer(adminKey)))).toBe(Code.NotFound);
    expect((await c.users.whoAmI({}, bearer(ADMIN_TOKEN))).role).toBe(UserRole.ADMIN);
  });

  it('makes the first admin once: a restart on the same data hands out no key', async () => {
    await server.close();
    server = await start();
    expect(server.adminKey).toBeUndefined();
    expect((await clients().users.whoAmI({}, bearer(adminKey))).user?.name).toBe('admin');
  });
});
