/**
 * Package files addressed by the sha256 of their bytes. Embedded mode keeps them in a folder;
 * distributed mode will keep them in MongoDB GridFS behind the same interface and contract tests.
 */
export interface PackageStore {
  /** Stores the bytes (idempotent) and returns their sha256 hex digest. */
  put(bytes: Uint8Array): Promise<string>;
  /**
   * The bytes stored under `digest`, verified against it on every read, or undefined if absent.
   * Throws PackageIntegrityError when the stored bytes no longer match their address.
   */
  get(digest: string): Promise<Uint8Array | undefined>;
  delete(digest: string): Promise<void>;
}

export class PackageIntegrityError extends Error {
  constructor(digest: string, actual: string) {
    super(`stored package ${digest} is corrupt or tampered: its bytes hash to ${actual}`);
    this.name = 'PackageIntegrityError';
  }
}

export function assertDigest(digest: string): void {
  if (!/^[0-9a-f]{64}$/.test(digest)) throw new Error(`'${digest}' is not a sha256 hex digest`);
}
