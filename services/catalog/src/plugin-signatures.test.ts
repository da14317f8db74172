/**
 * The plugin manager's signature policy with the real runner, SQLite store and package folder:
 * signatures are verified on install and again on every load; with unsigned packages disallowed,
 * only keys trusted for the plugin id are accepted. A refused package stores nothing.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDemoComponent, readDemoManifest } from '@awasm/plugin-demo-library';
import { LocalSourceRunner, RunnerPool } from '@awasm/plugin-runner';
import { FolderPackageStore } from '@awasm/registry';
import { createLogger, decodePackage, encodePackage, generatePublisherKey, signPackage } from '@awasm/shared';
import { Code } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf } from '../../../test/support/connect.js';
import { PluginManager } from './plugin-manager.js';
import { SqlitePluginStore } from './sqlite-plugin-store.js';
import { TrustPolicy } from './trust-policy.js';

let dir: string;
let runner: RunnerPool;
let store: SqlitePluginStore;
let manager: PluginManager;
let manifest: string;
let component: Uint8Array;
const trusted = generatePublisherKey();
const stranger = generatePublisherKey();

async function codeOf(call: Promise<unknown>): Promise<{ code: Code; message: string }> {
  const e = await failureOf(call);
  return { code: e.code, message: e.rawMessage };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'awasm-signatures-'));
  manifest = await readDemoManifest();
  component = (await buildDemoComponent()).bytes;
  const logger = createLogger({ level: 'silent' });
  runner = new RunnerPool({ cacheDir: join(dir, 'cache'), logger });
  store = new SqlitePluginStore(join(dir, 'catalog.db'));
  const packages = new FolderPackageStore(join(dir, 'packages'));
  manager = new PluginManager(
    store,
    packages,
    new LocalSourceRunner(runner, packages),
    logger,
    new TrustPolicy({
      allowUnsigned: false,
      registry: { isTrusted: (keyId, pluginId) => keyId === trusted.keyId && pluginId === 'demo-library' },
    }),
  );
});

afterAll(async () => {
  await runner?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('signature policy with unsigned packages disallowed', () => {
  it('refuses an unsigned package, a package by an untrusted key and a tampered signed package; stores nothing', async () => {
    const unsigned = await codeOf(manager.install(encodePackage({ manifestToml: manifest, component })));
    expect(unsigned.code).toBe(Code.PermissionDenied);
    expect(unsigned.message).toMatch(/not signed/);

    const untrusted = await codeOf(
      manager.install(signPackage({ manifestToml: manifest, component }, stranger.privateKeyPem)),
    );
    expect(untrusted.code).toBe(Code.PermissionDenied);
    expect(untrusted.message).toContain(`key ${stranger.keyId}, which is not trusted for 'demo-library'`);

    const signed = decodePackage(signPackage({ manifestToml: manifest, component }, trusted.privateKeyPem));
    const tampered = encodePackage({
      manifestToml: manifest.replace('nsfw = false', 'nsfw = true'),
      component,
      signature: signed.signature,
    });
    const bad = await codeOf(manager.install(tampered));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.message).toMatch(/does not match the package's manifest and component/);

    expect(await manager.list()).toEqual([]);
    expect(await readdir(join(dir, 'packages')).catch(() => [])).toEqual([]);
  });

  it('installs a package signed by a trusted key and loads it again after a restart', async () => {
    const bytes = signPackage({ manifestToml: manifest, component }, trusted.privateKeyPem);
    const view = await manager.install(bytes);
    expect(view.record.version).toBe('0.1.0');
    const packages = new FolderPackageStore(join(dir, 'packages'));
    const again = new PluginManager(
      store,
      packages,
      new LocalSourceRunner(runner, packages),
      createLogger({ level: 'silent' }),
      new TrustPolicy({ allowUnsigned: false, registry: { isTrusted: () => false } }),
    );
    await again.start();
    expect((await again.get('demo-library')).loadError).toContain('not trusted');
  });
});
