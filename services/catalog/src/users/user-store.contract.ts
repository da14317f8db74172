import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord, UserRecord, UserStore } from './user-store.js';

const alice: UserRecord = {
  id: 'u1',
  name: 'alice',
  role: 'admin',
  passwordHash: 'scrypt$x',
  createdAt: new Date(1000),
};
const bob: UserRecord = { id: 'u2', name: 'bob', role: 'member', createdAt: new Date(2000) };

function keyOf(user: UserRecord, id: string, createdAt: number): ApiKeyRecord {
  return {
    id,
    userId: user.id,
    name: `key ${id}`,
    keyHash: `hash-${id}`,
    createdAt: new Date(createdAt),
    revoked: false,
  };
}

/**
 * Behaviour every UserStore must have. `open` returns a store over the same underlying data each
 * time it is called with the same `name`, so persistence across reopen is tested too.
 */
export function userStoreContract(implementation: string, open: (name: string) => Promise<UserStore>): void {
  describe(`UserStore contract: ${implementation}`, () => {
    it('adds users once per name and id, lists them by name and persists them', async () => {
      const store = await open('users');
      expect(await store.countUsers()).toBe(0);
      expect(await store.addUser(bob)).toBe(true);
      expect(await store.addUser(alice)).toBe(true);
      expect(await store.addUser({ ...bob, id: 'u3' })).toBe(false);
      expect(await store.addUser({ ...bob, name: 'carol' })).toBe(false);
      expect((await store.listUsers()).map((u) => u.name)).toEqual(['alice', 'bob']);
      await store.close();
      const again = await open('users');
      expect(await again.getUser('u1')).toEqual(alice);
      expect(await again.getUserByName('bob')).toEqual(bob);
      expect(await again.getUserByName('nobody')).toBeUndefined();
      expect(await again.countUsers()).toBe(2);
      await again.close();
    });

    it('keeps keys per user, finds them by hash, revokes and records use', async () => {
      const store = await open('keys');
      await store.addUser(alice);
      await store.addUser(bob);
      await store.addKey(keyOf(alice, 'k2', 20));
      await store.addKey(keyOf(alice, 'k1', 10));
      await store.addKey(keyOf(bob, 'k3', 30));
      expect((await store.listKeys('u1')).map((k) => k.id)).toEqual(['k1', 'k2']);
      expect(await store.getKeyByHash('hash-k3')).toEqual(keyOf(bob, 'k3', 30));
      expect(await store.getKeyByHash('hash-none')).toBeUndefined();
      expect(await store.revokeKey('k1')).toBe(true);
      expect(await store.revokeKey('missing')).toBe(false);
      expect((await store.getKey('k1'))?.revoked).toBe(true);
      await store.recordKeyUse('k2', new Date(5000));
      expect((await store.getKey('k2'))?.lastUsedAt).toEqual(new Date(5000));
      expect(await store.revokeKeysOf('u1')).toBe(1);
      expect((await store.listKeys('u1')).every((k) => k.revoked)).toBe(true);
      expect((await store.getKey('k3'))?.revoked).toBe(false);
      await store.close();
    });

    it('sets a password hash, persisted, and only for an existing user', async () => {
      const store = await open('password');
      await store.addUser(bob);
      expect(await store.setPasswordHash('u2', 'scrypt$new')).toBe(true);
      expect(await store.setPasswordHash('missing', 'scrypt$new')).toBe(false);
      await store.close();
      const again = await open('password');
      expect(await again.getUser('u2')).toEqual({ ...bob, passwordHash: 'scrypt$new' });
      await again.close();
    });

    it('removes a user with its keys', async () => {
      const store = await open('remove');
      await store.addUser(alice);
      await store.addKey(keyOf(alice, 'k1', 10));
      expect(await store.removeUser('u1')).toBe(true);
      expect(await store.removeUser('u1')).toBe(false);
      expect(await store.getUser('u1')).toBeUndefined();
      expect(await store.getKey('k1')).toBeUndefined();
      await store.close();
    });
  });
}
