import { sha256Hex } from '@awasm/shared';
import { describe, expect, it } from 'vitest';
import type { PackageStore } from './package-store.js';

/** Behaviour every PackageStore must have; `tamper` overwrites the stored bytes behind the store's back. */
export function packageStoreContract(
  implementation: string,
  open: () => Promise<PackageStore>,
  tamper: (digest: string, bytes: Uint8Array) => Promise<void>,
): void {
  describe(`PackageStore contract: ${implementation}`, () => {
    it('stores bytes under their sha256 and returns them', async () => {
      const store = await open();
      const bytes = new TextEncoder().encode('package one');
      const digest = await store.put(bytes);
      expect(digest).toBe(sha256Hex(bytes));
      expect(await store.put(bytes)).toBe(digest);
      expect(Buffer.from((await store.get(digest)) as Uint8Array).toString()).toBe('package one');
    });

    it('returns undefined for an unknown digest and refuses a malformed one', async () => {
      const store = await open();
      expect(await store.get('0'.repeat(64))).toBeUndefined();
      await expect(store.get('../../etc/passwd')).rejects.toThrow(/not a sha256/);
    });

    it('refuses to return bytes that no longer match their address', async () => {
      const store = await open();
      const digest = await store.put(new TextEncoder().encode('original'));
      await tamper(digest, new TextEncoder().encode('tampered'));
      await expect(store.get(digest)).rejects.toThrow(/corrupt or tampered/);
    });

    it('deletes', async () => {
      const store = await open();
      const digest = await store.put(new TextEncoder().encode('to delete'));
      await store.delete(digest);
      expect(await store.get(digest)).toBeUndefined();
    });
  });
}
