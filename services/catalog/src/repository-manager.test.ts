/**
 * RepositoryManager with the real plugin manager, runner, SQLite stores and package folder, and
 * in-memory repositories whose index can lie about what a package is: every lie is caught before
 * anything is installed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDemoComponent, readDemoManifest } from '@awasm/plugin-demo-library';
import { LocalSourceRunner, RunnerPool } from '@awasm/plugin-runner';
import { FolderPackageStore } from '@awasm/registry';
import { createLogger, generatePublisherKey, type PublisherKeyPair, sha256Hex, signPackage } from '@awasm/shared';
import { type PackageVersion, PackageVersionSchema } from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginManager } from './plugin-manager.js';
import type { RemoteRepository } from './remote-repository.js';
import { type InstallRequest, RepositoryManager } from './repository-manager.js';
import type { RepositoryRecord } from './repository-store.js';
import { SqlitePluginStore } from './sqlite-plugin-store.js';
import { SqliteRepositoryStore } from './sqlite-repository-store.js';
import { TrustPolicy } from './trust-policy.js';

let dir: string;
let runner: RunnerPool;
let plugins: SqlitePluginStore;
let repoStore: SqliteRepositoryStore;
let manager: RepositoryManager;
let manifest: string;
let component: Uint8Array;
const alice = generatePublisherKey();
const mallory = generatePublisherKey();

/** name -> what the repository serves: index entries and package bytes by digest */
const served = new Map<string, { versions: PackageVersion[]; bytes: Map<string, Uint8Array>; down?: boolean }>();

function fakeRepository(record: RepositoryRecord): RemoteRepository {
  return {
    kind: record.kind,
    url: record.url,
    async index() {
      const repo = served.get(record.name);
      if (!repo || repo.down) throw new ConnectError(`${record.name} is down`, Code.Unavailable);
      return repo.versions;
    },
    async *download(version) {
      const bytes = served.get(record.name)?.bytes.get(version.packageSha256);
      if (!bytes) throw new ConnectError('missing', Code.Unavailable);
      yield bytes;
    },
  };
}

function pack(version: string, key: PublisherKeyPair, name = 'Demo Library'): Uint8Array {
  const toml = manifest.replace('version = "0.1.0"', `version = "${version}"`).replace('Demo Library', name);
  return signPackage({ manifestToml: toml, component }, key.privateKeyPem);
}

function entry(bytes: Uint8Array, version: string, key: PublisherKeyPair, pluginId = 'demo-library'): PackageVersion {
  return create(PackageVersionSchema, {
    pluginId,
    version,
    name: 'Demo Library',
    packageSha256: sha256Hex(bytes),
    size: BigInt(bytes.length),
    publisherKeyId: key.keyId,
  });
}

async function serve(name: string, packages: { bytes: Uint8Array; entry: PackageVersion }[]): Promise<void> {
  served.set(name, {
    versions: packages.map((p) => p.entry),
    bytes: new Map(packages.map((p) => [p.entry.packageSha256, p.bytes])),
  });
  if (!(await repoStore.get(name))) {
    await repoStore.add({
      name,
      url: `http://127.0.0.1:1/${name}`,
      kind: 'static',
      trustedKeyIds: [alice.keyId],
      addedAt: new Date(),
    });
  }
}

async function install(request: InstallRequest) {
  const steps = manager.install(request);
  for (;;) {
    const step = await steps.next();
    if (step.done) return step.value;
  }
}

async function refusal(request: InstallRequest): Promise<{ code: Code; message: string }> {
  try {
    await install(request);
  } catch (error) {
    const e = ConnectError.from(error);
    return { code: e.code, message: e.rawMessage };
  }
  throw new Error('install succeeded');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'awasm-repositories-'));
  manifest = await readDemoManifest();
  component = (await buildDemoComponent()).bytes;
  const logger = createLogger({ level: 'silent' });
  runner = new RunnerPool({ cacheDir: join(dir, 'cache'), logger });
  plugins = new SqlitePluginStore(join(dir, 'catalog.db'));
  repoStore = new SqliteRepositoryStore(join(dir, 'catalog.db'));
  const packages = new FolderPackageStore(join(dir, 'packages'));
  const trust = new TrustPolicy({ allowUnsigned: false, repositories: repoStore });
  const pluginManager = new PluginManager(plugins, packages, new LocalSourceRunner(runner, packages), logger, trust);
  manager = new RepositoryManager(repoStore, pluginManager, trust, logger, { open: fakeRepository });
});

afterAll(async () => {
  await runner?.close();
  await plugins?.close();
  await repoStore?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('RepositoryManager', () => {
  it('installs the newest version any repository offers, and reports one that is down', async () => {
    const v1 = pack('0.1.0', alice);
    const v2 = pack('0.2.0', alice);
    await serve('one', [{ bytes: v1, entry: entry(v1, '0.1.0', alice) }]);
    await serve('two', [{ bytes: v2, entry: entry(v2, '0.2.0', alice) }]);
    await serve('broken', []);
    (served.get('broken') as { down?: boolean }).down = true;

    const found = await manager.search({ query: 'demo' });
    expect(found.offers.map((o) => [o.repository, o.latest.version, o.trusted])).toEqual([
      ['one', '0.1.0', true],
      ['two', '0.2.0', true],
    ]);
    expect(found.problems).toEqual([{ repository: 'broken', message: 'broken is down' }]);

    const view = await install({ pluginId: 'demo-library', version: '0.1.0' });
    expect(view.record.version).toBe('0.1.0');
    expect((await manager.updates()).updates).toMatchObject([
      { pluginId: 'demo-library', installedVersion: '0.1.0', repository: 'two' },
    ]);
    expect((await install({ pluginId: 'demo-library' })).record.version).toBe('0.2.0');
    expect((await manager.updates()).updates).toEqual([]);
  });

  it('refuses a package that is not what the index says, a lying signer and a downgrade; nothing changes', async () => {
    const before = await plugins.list();
    // the index calls it 0.3.0 but the package inside is 0.2.5
    const mislabelled = pack('0.2.5', alice);
    await serve('liar', [{ bytes: mislabelled, entry: entry(mislabelled, '0.3.0', alice) }]);
    const wrongVersion = await refusal({ pluginId: 'demo-library', repository: 'liar' });
    expect(wrongVersion.code).toBe(Code.InvalidArgument);
    expect(wrongVersion.message).toContain("'liar' lists it as demo-library 0.3.0");

    // the index names alice as the signer, but mallory signed it
    const forged = pack('0.4.0', mallory);
    await serve('liar', [{ bytes: forged, entry: entry(forged, '0.4.0', alice) }]);
    const signer = await refusal({ pluginId: 'demo-library', repository: 'liar' });
    expect(signer.code).toBe(Code.PermissionDenied);
    expect(signer.message).toContain(`signed by key ${mallory.keyId}`);

    const downgrade = await refusal({ pluginId: 'demo-library', repository: 'one' });
    expect(downgrade.code).toBe(Code.FailedPrecondition);

    const missing = await refusal({ pluginId: 'nothing-here' });
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.message).toContain('could not read: broken: broken is down');
    expect(await plugins.list()).toEqual(before);
  });
});
