import { describe, expect, it } from 'vitest';
import type { PluginStore } from './plugin-store.js';

const pkg = {
  id: 'demo',
  version: '0.1.0',
  manifestToml: 'id = "demo"',
  packageSha256: 'a'.repeat(64),
  componentSha256: 'b'.repeat(64),
};

/**
 * Behaviour every PluginStore must have. `open` returns a store over the same underlying data
 * each time it is called with the same `name`, so persistence across reopen is tested too.
 */
export function pluginStoreContract(implementation: string, open: (name: string) => Promise<PluginStore>): void {
  describe(`PluginStore contract: ${implementation}`, () => {
    it('installs, lists and gets a plugin, enabled with no settings', async () => {
      const store = await open('install');
      const installed = await store.putPackage(pkg);
      expect(installed).toMatchObject({ ...pkg, enabled: true, settings: {} });
      expect((await store.list()).map((p) => p.id)).toEqual(['demo']);
      expect(await store.get('demo')).toMatchObject(pkg);
      expect(await store.get('missing')).toBeUndefined();
      await store.close();
    });

    it('keeps settings and enabled flag when a new version of the package is put', async () => {
      const store = await open('update');
      await store.putPackage(pkg);
      await store.setSettings('demo', { page_size: '5' });
      await store.setEnabled('demo', false);
      const updated = await store.putPackage({ ...pkg, version: '0.2.0', packageSha256: 'c'.repeat(64) });
      expect(updated).toMatchObject({ version: '0.2.0', enabled: false, settings: { page_size: '5' } });
      expect(updated.installedAt.getTime()).toBeLessThanOrEqual(updated.updatedAt.getTime());
      await store.close();
    });

    it('returns undefined or false for operations on an unknown plugin and changes nothing', async () => {
      const store = await open('unknown');
      await store.putPackage(pkg);
      expect(await store.setEnabled('nope', false)).toBeUndefined();
      expect(await store.setSettings('nope', { a: 'b' })).toBeUndefined();
      expect(await store.remove('nope')).toBe(false);
      expect(await store.list()).toHaveLength(1);
      await store.close();
    });

    it('survives a reopen: plugins, settings and enabled flags persist', async () => {
      const first = await open('persist');
      await first.putPackage(pkg);
      await first.putPackage({ ...pkg, id: 'other' });
      await first.setSettings('demo', { base_url: 'http://x.test' });
      await first.setEnabled('other', false);
      await first.close();
      const second = await open('persist');
      expect(await second.get('demo')).toMatchObject({ settings: { base_url: 'http://x.test' }, enabled: true });
      expect(await second.get('other')).toMatchObject({ enabled: false });
      expect(await second.remove('demo')).toBe(true);
      await second.close();
      const third = await open('persist');
      expect((await third.list()).map((p) => p.id)).toEqual(['other']);
      await third.close();
    });
  });
}
