import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDemoManifest } from '@awasm/plugin-demo-library';
import type { SourceRunner } from '@awasm/plugin-runner';
import { FolderPackageStore } from '@awasm/registry';
import { createLogger, encodePackage } from '@awasm/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { PluginManager } from './plugin-manager.js';
import { SqlitePluginStore } from './sqlite-plugin-store.js';

const runner: SourceRunner = {
  load: async () => undefined,
  unload: async () => undefined,
  setSettings: async () => undefined,
  health: async () => undefined,
  call: async () => {
    throw new Error('not called');
  },
};
// an empty component: the manager checks packages, not what their components do
const component = new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 0x01, 0]);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function manager() {
  const dir = await mkdtemp(join(tmpdir(), 'awasm-plugin-observer-'));
  const store = new SqlitePluginStore(join(dir, 'catalog.db'));
  cleanups.push(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return new PluginManager(
    store,
    new FolderPackageStore(join(dir, 'packages')),
    runner,
    createLogger({ level: 'silent' }),
  );
}

describe('PluginManager observers', () => {
  it('hear installs, setting changes and uninstalls after they are stored, and never undo them', async () => {
    const plugins = await manager();
    const events: string[] = [];
    plugins.observe({
      installed: async (id) => events.push(`installed ${id}`),
      reconfigured: async (id) => events.push(`reconfigured ${id}`),
      uninstalled: async (id) => {
        events.push(`uninstalled ${id}`);
        // the plugin is gone by the time its observers hear of it
        await expect(plugins.get(id)).rejects.toThrow();
      },
    });
    plugins.observe({
      installed: async () => {
        throw new Error('observer broke');
      },
    });
    await plugins.install(encodePackage({ manifestToml: await readDemoManifest(), component }));
    await plugins.setSettings('demo-library', { page_size: '7' });
    await plugins.uninstall('demo-library');
    expect(events).toEqual(['installed demo-library', 'reconfigured demo-library', 'uninstalled demo-library']);
  });

  it('are not told of a refused change', async () => {
    const plugins = await manager();
    const events: string[] = [];
    plugins.observe({ reconfigured: async (id) => events.push(id), uninstalled: async (id) => events.push(id) });
    await expect(plugins.uninstall('nothing')).rejects.toThrow();
    await plugins.install(encodePackage({ manifestToml: await readDemoManifest(), component }));
    await expect(plugins.setSettings('demo-library', { no_such_key: 'x' })).rejects.toThrow(/no setting/);
    expect(events).toEqual([]);
  });
});
