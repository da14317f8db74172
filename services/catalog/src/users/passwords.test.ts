import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, shouldRecordUse } from './api-keys.js';
import { hashPassword, verifyPassword } from './passwords.js';

describe('passwords', () => {
  it('verifies the right password and rejects a wrong one', async () => {
    const stored = await hashPassword('correct horse');
    expect(stored.startsWith('scrypt$16384$8$1$')).toBe(true);
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('wrong horse', stored)).toBe(false);
  });

  it('salts each hash differently', async () => {
    expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
  });

  it('never matches a malformed hash', async () => {
    expect(await verifyPassword('x', 'plain')).toBe(false);
    expect(await verifyPassword('x', 'scrypt$0$8$1$AAAA$AAAA')).toBe(false);
  });
});

describe('api keys', () => {
  it('are prefixed, random and hashed with sha256', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^awk_[A-Za-z0-9_-]{43}$/);
    expect(generateApiKey()).not.toBe(key);
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).toBe(hashApiKey(key));
  });

  it('record a use at most once a minute', () => {
    expect(shouldRecordUse(undefined, 1000)).toBe(true);
    expect(shouldRecordUse(1000, 1000 + 59_999)).toBe(false);
    expect(shouldRecordUse(1000, 1000 + 60_000)).toBe(true);
  });
});
