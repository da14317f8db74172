/**
 * awasm.internal.v1.CatalogService through its in-process Connect client, as the gateway reaches
 * it: the installed sources without health, and the status that says why a source cannot run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDemoManifest } from '@awasm/plugin-demo-library';
import type { SourceRunner } from '@awasm/plugin-runner';
import { FolderPackageStore } from '@awasm/registry';
import { createLogger, encodePackage } from '@awasm/shared';
import { MediaKind } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { Code } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf } from '../../../test/support/connect.js';
import { createInProcessCatalogClient } from './catalog-service.js';
import { PluginManager } from './plugin-manager.js';
import { SqlitePluginStore } from './sqlite-plugin-store.js';

/** A runner that loads whatever it is given, or refuses every load. */
function fakeRunner(loadError?: string): SourceRunner {
  return {
    load: async () => {
      if (loadError) throw new Error(loadError);
    },
    unload: async () => undefined,
    setSettings: async () => undefined,
    health: async () => undefined,
    call: async () => {
      throw new Error('not called by the catalog');
    },
  };
}

let dir: string;
let store: SqlitePluginStore;
let packages: FolderPackageStore;
let catalog: ReturnType<typeof createInProcessCatalogClient>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'awasm-catalog-service-'));
  store = new SqlitePluginStore(join(dir, 'catalog.db'));
  packages = new FolderPackageStore(join(dir, 'packages'));
  const manifest = await readDemoManifest();
  // an empty component: the catalog checks packages, not what their components do
  const component = new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 0x01, 0]);
  const logger = createLogger({ level: 'silent' });
  const plugins = new PluginManager(store, packages, fakeRunner(), logger);
  for (const id of ['demo-library', 'demo-disabled']) {
    await plugins.install(
      encodePackage({ manifestToml: manifest.replace('id = "demo-library"', `id = "${id}"`), component }),
    );
  }
  await plugins.setEnabled('demo-disabled', false);
  catalog = createInProcessCatalogClient(plugins);
});

afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('CatalogService', () => {
  it('lists the enabled sources, or all of them, without health', async () => {
    const enabled = await catalog.listInstalledSources({});
    expect(enabled.sources.map((s) => [s.id, s.enabled])).toEqual([['demo-library', true]]);
    const source = enabled.sources[0];
    expect(source?.name).toBe('Demo Library');
    expect(source?.version).toBe('0.1.0');
    expect(source?.mediaKinds).toContain(MediaKind.BOOK);
    expect(source?.health).toBeUndefined();
    const all = await catalog.listInstalledSources({ includeDisabled: true });
    expect(all.sources.map((s) => [s.id, s.enabled])).toEqual([
      ['demo-disabled', false],
      ['demo-library', true],
    ]);
  });

  it('answers OK for an enabled, loaded source and says why any other cannot run', async () => {
    await expect(catalog.checkSourceRunnable({ sourceId: 'demo-library' })).resolves.toBeDefined();

    const unknown = await failureOf(catalog.checkSourceRunnable({ sourceId: 'nowhere' }));
    expect(unknown.code).toBe(Code.NotFound);
    expect(unknown.rawMessage).toBe("unknown source 'nowhere': no plugin with that id is installed");

    const disabled = await failureOf(catalog.checkSourceRunnable({ sourceId: 'demo-disabled' }));
    expect(disabled.code).toBe(Code.FailedPrecondition);
    expect(disabled.rawMessage).toBe("source 'demo-disabled' is disabled; enable it first");

    // the same catalog after a restart whose runner cannot load anything
    const restarted = new PluginManager(store, packages, fakeRunner('no engine'), createLogger({ level: 'silent' }));
    await restarted.start();
    const failed = await failureOf(
      createInProcessCatalogClient(restarted).checkSourceRunnable({ sourceId: 'demo-library' }),
    );
    expect(failed.code).toBe(Code.Unavailable);
    expect(failed.rawMessage).toBe("source 'demo-library' failed to load: no engine");
  });
});
