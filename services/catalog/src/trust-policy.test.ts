import { describe, expect, it } from 'vitest';
import type { RepositoryRecord } from './repository-store.js';
import { TrustPolicy } from './trust-policy.js';

const KEY_A = 'a'.repeat(32);
const KEY_B = 'b'.repeat(32);
const KEY_C = 'c'.repeat(32);

function repository(name: string, trustedKeyIds: string[]): RepositoryRecord {
  return { name, url: `https://${name}.example/`, kind: 'static', trustedKeyIds, addedAt: new Date(0) };
}

const pinsA = repository('pins-a', [KEY_A]);
const pinsNothing = repository('pins-nothing', []);
const policy = new TrustPolicy({
  allowUnsigned: false,
  // the registry trusts key B for one plugin only
  registry: { isTrusted: async (keyId, pluginId) => keyId === KEY_B && pluginId === 'demo-library' },
  repositories: { list: async () => [pinsA, pinsNothing] },
});

describe('TrustPolicy', () => {
  it('trusts a key for a plugin when the registry trusts it for that plugin or any repository pins it', async () => {
    expect(await policy.maySign(KEY_B, 'demo-library')).toBe(true);
    expect(await policy.maySign(KEY_B, 'other-plugin')).toBe(false);
    expect(await policy.maySign(KEY_A, 'any-plugin')).toBe(true);
    expect(await policy.maySign(KEY_C, 'demo-library')).toBe(false);
  });

  it('trusts a key in one repository when that repository pins it or the registry trusts it for the plugin', async () => {
    expect(await policy.maySignFrom(pinsA, KEY_A, 'any-plugin')).toBe(true);
    expect(await policy.maySignFrom(pinsNothing, KEY_A, 'any-plugin')).toBe(false);
    expect(await policy.maySignFrom(pinsNothing, KEY_B, 'demo-library')).toBe(true);
    expect(await policy.maySignFrom(pinsNothing, KEY_B, 'other-plugin')).toBe(false);
  });

  it('says whether unsigned packages are allowed, and trusts no key without a registry or repositories', async () => {
    const open = new TrustPolicy({ allowUnsigned: true });
    expect(open.allowUnsigned).toBe(true);
    expect(policy.allowUnsigned).toBe(false);
    expect(await open.maySign(KEY_A, 'demo-library')).toBe(false);
    expect(await open.isPinned(KEY_A)).toBe(false);
    expect(await policy.isPinned(KEY_A)).toBe(true);
    expect(await policy.isPinned(KEY_B)).toBe(false);
  });
});
