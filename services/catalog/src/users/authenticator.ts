import { randomUUID } from 'node:crypto';
import { generateApiKey, hashApiKey, shouldRecordUse } from './api-keys.js';
import type { UserRecord, UserRole, UserStore } from './user-store.js';

/**
 * The caller shape of packages/server's auth.ts (Caller), repeated structurally because the catalog
 * does not depend on the server package.
 */
export interface AuthenticatedCaller {
  readonly role: UserRole | 'anonymous';
  readonly userId?: string;
  readonly userName?: string;
}

/** An authenticator in auth.ts's sense: never throws for bad credentials. */
export type HeaderAuthenticator = (header: Headers) => AuthenticatedCaller | Promise<AuthenticatedCaller>;

const ANONYMOUS: AuthenticatedCaller = Object.freeze({ role: 'anonymous' });

/**
 * Resolves `authorization: Bearer <key>` to the key's user. An unknown or revoked key, or a removed
 * user, is anonymous unless `fallback` (the registry's admin token) recognises the header.
 */
export function apiKeyAuthenticator(
  store: UserStore,
  fallback?: HeaderAuthenticator,
  now: () => Date = () => new Date(),
): HeaderAuthenticator {
  return async (header) => {
    const match = /^Bearer (\S+)$/.exec(header.get('authorization') ?? '');
    if (match?.[1]) {
      const key = await store.getKeyByHash(hashApiKey(match[1]));
      const user = key && !key.revoked ? await store.getUser(key.userId) : undefined;
      if (key && user) {
        const at = now();
        if (shouldRecordUse(key.lastUsedAt?.getTime(), at.getTime())) await store.recordKeyUse(key.id, at);
        return { role: user.role, userId: user.id, userName: user.name };
      }
    }
    return fallback ? fallback(header) : ANONYMOUS;
  };
}

/** Creates a user and its first API key; returns the user and the key, which is shown once. */
export async function createUserWithKey(
  store: UserStore,
  user: Omit<UserRecord, 'id' | 'createdAt'>,
  keyName: string,
  now: Date = new Date(),
): Promise<{ user: UserRecord; key: string } | undefined> {
  const record: UserRecord = { ...user, id: randomUUID(), createdAt: now };
  if (!(await store.addUser(record))) return undefined;
  const key = generateApiKey();
  await store.addKey({
    id: randomUUID(),
    userId: record.id,
    name: keyName,
    keyHash: hashApiKey(key),
    createdAt: now,
    revoked: false,
  });
  return { user: record, key };
}

/** On first run (no users yet) creates the `admin` user with an API key and returns the key; else undefined. */
export async function ensureFirstAdmin(store: UserStore): Promise<string | undefined> {
  if ((await store.countUsers()) > 0) return undefined;
  // addUser refuses a taken name, so two servers starting at once create one admin
  return (await createUserWithKey(store, { name: 'admin', role: 'admin' }, 'first run'))?.key;
}
