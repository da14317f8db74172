import { describe, expect, it } from 'vitest';
import type { RepositoryRecord, RepositoryStore } from './repository-store.js';

const repo: RepositoryRecord = {
  name: 'community',
  url: 'http://127.0.0.1:7601',
  kind: 'grpc',
  trustedKeyIds: ['a'.repeat(32)],
  addedAt: new Date(1_700_000_000_000),
};

/**
 * Behaviour every RepositoryStore must have. `open` returns a store over the same underlying data
 * each time it is called with the same `name`, so persistence across reopen is tested too.
 */
export function repositoryStoreContract(
  implementation: string,
  open: (name: string) => Promise<RepositoryStore>,
): void {
  describe(`RepositoryStore contract: ${implementation}`, () => {
    it('adds, lists and gets repositories, sorted by name', async () => {
      const store = await open('add');
      expect(await store.add(repo)).toBe(true);
      expect(await store.add({ ...repo, name: 'alpha', kind: 'static', trustedKeyIds: [] })).toBe(true);
      expect((await store.list()).map((r) => r.name)).toEqual(['alpha', 'community']);
      expect(await store.get('community')).toEqual(repo);
      expect(await store.get('alpha')).toMatchObject({ kind: 'static', trustedKeyIds: [] });
      expect(await store.get('missing')).toBeUndefined();
      await store.close();
    });

    it('refuses a name that is taken and keeps the first', async () => {
      const store = await open('duplicate');
      await store.add(repo);
      expect(await store.add({ ...repo, url: 'http://127.0.0.1:9999' })).toBe(false);
      expect(await store.get('community')).toMatchObject({ url: repo.url });
      expect(await store.list()).toHaveLength(1);
      await store.close();
    });

    it('replaces pinned keys, removes, and reports unknown names', async () => {
      const store = await open('change');
      await store.add(repo);
      const keys = ['b'.repeat(32), 'c'.repeat(32)];
      expect(await store.setTrustedKeys('community', keys)).toMatchObject({ trustedKeyIds: keys });
      expect(await store.setTrustedKeys('nope', keys)).toBeUndefined();
      expect(await store.remove('nope')).toBe(false);
      expect(await store.remove('community')).toBe(true);
      expect(await store.list()).toEqual([]);
      await store.close();
    });

    it('survives a reopen', async () => {
      const first = await open('persist');
      await first.add(repo);
      await first.close();
      const second = await open('persist');
      expect(await second.get('community')).toEqual(repo);
      await second.close();
    });
  });
}
