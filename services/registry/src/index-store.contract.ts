import { describe, expect, it } from 'vitest';
import type { RegistryIndexStore, VersionRecord } from './index-store.js';

export function record(pluginId: string, version: string, digest = pluginId.padEnd(64, '0')): VersionRecord {
  return {
    pluginId,
    version,
    name: pluginId,
    apiVersion: '0.1.0',
    mediaKinds: ['book'],
    languages: ['en'],
    nsfw: false,
    packageSha256: digest,
    componentSha256: 'c'.repeat(64),
    size: 100,
    publisherKeyId: 'a'.repeat(32),
    manifestToml: `id = "${pluginId}"`,
    publishedAt: 1,
    yanked: false,
  };
}

/** Behaviour every RegistryIndexStore must have; `open` returns a store over fresh, empty storage. */
export function indexStoreContract(implementation: string, open: () => Promise<RegistryIndexStore>): void {
  describe(`RegistryIndexStore contract: ${implementation}`, () => {
    it('adds versions and finds them by plugin and version or by digest', async () => {
      const store = await open();
      await store.addVersion(record('alpha', '1.0.0', '1'.repeat(64)));
      await store.addVersion(record('alpha', '1.1.0', '2'.repeat(64)));
      expect((await store.versions()).map((v) => v.version)).toEqual(['1.0.0', '1.1.0']);
      expect((await store.version('alpha', '1.1.0'))?.packageSha256).toBe('2'.repeat(64));
      expect((await store.byDigest('1'.repeat(64)))?.version).toBe('1.0.0');
      expect(await store.version('alpha', '9.9.9')).toBeUndefined();
    });

    it('takes the same version with the same bytes again without change, and refuses other bytes or an older version', async () => {
      const store = await open();
      await store.addVersion(record('beta', '2.0.0', '3'.repeat(64)));
      expect((await store.addVersion(record('beta', '2.0.0', '3'.repeat(64)))).version).toBe('2.0.0');
      await expect(store.addVersion(record('beta', '2.0.0', '4'.repeat(64)))).rejects.toMatchObject({
        kind: 'duplicate',
      });
      await expect(store.addVersion(record('beta', '1.9.0', '5'.repeat(64)))).rejects.toMatchObject({ kind: 'older' });
      expect((await store.versions()).filter((v) => v.pluginId === 'beta')).toHaveLength(1);
    });

    it('yanks and restores a version; a yanked version still blocks reuse of its number', async () => {
      const store = await open();
      await store.addVersion(record('gamma', '1.0.0', '6'.repeat(64)));
      expect(await store.setYanked('gamma', '1.0.0', true, 'broken')).toMatchObject({
        yanked: true,
        yankReason: 'broken',
      });
      await expect(store.addVersion(record('gamma', '1.0.0', '7'.repeat(64)))).rejects.toMatchObject({
        kind: 'duplicate',
      });
      expect((await store.setYanked('gamma', '1.0.0', false))?.yanked).toBe(false);
      expect(await store.setYanked('gamma', '3.0.0', true)).toBeUndefined();
    });

    it('keeps every one of many concurrent additions', async () => {
      const store = await open();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.addVersion(record(`p${i}`, '1.0.0', i.toString(16).padStart(64, 'e'))),
        ),
      );
      expect((await store.versions()).filter((v) => /^p\d+$/.test(v.pluginId))).toHaveLength(20);
    });

    it('lets exactly one of two concurrent publishes of one version with different bytes land', async () => {
      const store = await open();
      const results = await Promise.allSettled([
        store.addVersion(record('race', '1.0.0', '8'.repeat(64))),
        store.addVersion(record('race', '1.0.0', '9'.repeat(64))),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(
        results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.kind),
      ).toEqual(['duplicate']);
      expect((await store.versions()).filter((v) => v.pluginId === 'race')).toHaveLength(1);
    });

    it('adds, replaces, lists and removes trusted keys', async () => {
      const store = await open();
      const key = { keyId: 'b'.repeat(32), publicKey: 'ed25519:x', name: 'alice', pluginIds: ['alpha'], addedAt: 1 };
      await store.putKey(key);
      await store.putKey({ ...key, pluginIds: ['alpha', 'beta'] });
      expect(await store.keys()).toEqual([{ ...key, pluginIds: ['alpha', 'beta'] }]);
      expect((await store.key(key.keyId))?.name).toBe('alice');
      expect(await store.removeKey(key.keyId)).toBe(true);
      expect(await store.removeKey(key.keyId)).toBe(false);
      expect(await store.key(key.keyId)).toBeUndefined();
    });
  });
}
