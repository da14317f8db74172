import { describe, expect, it } from 'vitest';
import { CatalogDatabase } from '../catalog-database.js';
import { apiKeyAuthenticator, createUserWithKey, ensureFirstAdmin } from './authenticator.js';
import { SqliteUserStore } from './sqlite-user-store.js';

function bearer(key: string): Headers {
  return new Headers({ authorization: `Bearer ${key}` });
}

describe('apiKeyAuthenticator', () => {
  it('resolves a key to its user and an unknown or revoked key to anonymous or the fallback', async () => {
    const store = new SqliteUserStore(CatalogDatabase.open(':memory:'));
    const created = await createUserWithKey(store, { name: 'alice', role: 'member' }, 'test');
    if (!created) throw new Error('alice was not created');
    const operator = { role: 'admin' as const };
    const authenticate = apiKeyAuthenticator(store, (header) =>
      header.get('authorization') === 'Bearer operator-token' ? operator : { role: 'anonymous' },
    );
    expect(await authenticate(bearer(created.key))).toEqual({
      role: 'member',
      userId: created.user.id,
      userName: 'alice',
    });
    expect(await authenticate(bearer('awk_unknown'))).toEqual({ role: 'anonymous' });
    expect(await authenticate(new Headers())).toEqual({ role: 'anonymous' });
    expect(await authenticate(bearer('operator-token'))).toBe(operator);
    const [key] = await store.listKeys(created.user.id);
    await store.revokeKey(key?.id ?? '');
    expect(await authenticate(bearer(created.key))).toEqual({ role: 'anonymous' });
  });

  it('records the last use at most once a minute', async () => {
    const store = new SqliteUserStore(CatalogDatabase.open(':memory:'));
    const created = await createUserWithKey(store, { name: 'alice', role: 'member' }, 'test');
    if (!created) throw new Error('alice was not created');
    let now = 1_000_000;
    const authenticate = apiKeyAuthenticator(store, undefined, () => new Date(now));
    await authenticate(bearer(created.key));
    now += 30_000;
    await authenticate(bearer(created.key));
    expect((await store.listKeys(created.user.id))[0]?.lastUsedAt).toEqual(new Date(1_000_000));
    now += 30_000;
    await authenticate(bearer(created.key));
    expect((await store.listKeys(created.user.id))[0]?.lastUsedAt).toEqual(new Date(1_060_000));
  });
});

describe('ensureFirstAdmin', () => {
  it('creates admin with a working key only when there are no users', async () => {
    const store = new SqliteUserStore(CatalogDatabase.open(':memory:'));
    const key = await ensureFirstAdmin(store);
    expect(key).toMatch(/^awk_/);
    expect(await apiKeyAuthenticator(store)(bearer(key ?? ''))).toMatchObject({ role: 'admin', userName: 'admin' });
    expect(await ensureFirstAdmin(store)).toBeUndefined();
    expect(await store.countUsers()).toBe(1);
  });
});
