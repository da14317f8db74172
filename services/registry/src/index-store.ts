import type { MediaKind } from '@awasm/shared';
import semver from 'semver';

/** One published version of a plugin, as the index lists it. */
export interface VersionRecord {
  pluginId: string;
  version: string;
  name: string;
  description?: string;
  apiVersion: string;
  mediaKinds: MediaKind[];
  languages: string[];
  nsfw: boolean;
  /** sha256 of the package file: its address for Download */
  packageSha256: string;
  componentSha256: string;
  /** bytes of the package file */
  size: number;
  publisherKeyId: string;
  manifestToml: string;
  /** unix milliseconds */
  publishedAt: number;
  yanked: boolean;
  yankReason?: string;
}

/** A publisher key the operator trusts, for the plugin ids it may sign. */
export interface TrustedKey {
  keyId: string;
  /** `ed25519:<base64>` */
  publicKey: string;
  /** who the operator says it belongs to */
  name: string;
  pluginIds: string[];
  /** unix milliseconds */
  addedAt: number;
}

export type VersionConflict = 'duplicate' | 'older' | 'same';

export class VersionConflictError extends Error {
  constructor(
    readonly kind: Exclude<VersionConflict, 'same'>,
    message: string,
  ) {
    super(message);
    this.name = 'VersionConflictError';
  }
}

/**
 * The registry's index and trusted keys. Package bytes live in a PackageStore; this holds what is
 * published where. Embedded mode keeps it as one JSON file beside the packages; distributed mode
 * will keep it in MongoDB behind the same interface and contract tests.
 */
export interface RegistryIndexStore {
  versions(): Promise<VersionRecord[]>;
  version(pluginId: string, version: string): Promise<VersionRecord | undefined>;
  byDigest(packageSha256: string): Promise<VersionRecord | undefined>;
  /**
   * Adds a version atomically with its checks: the same (plugin, version, digest) again returns
   * the stored record unchanged; the same version with other bytes throws VersionConflictError
   * 'duplicate'; a version not newer than every version of the plugin already published (yanked
   * ones included) throws 'older'.
   */
  addVersion(record: VersionRecord): Promise<VersionRecord>;
  /** Sets or clears the yanked flag; undefined when there is no such version. */
  setYanked(pluginId: string, version: string, yanked: boolean, reason?: string): Promise<VersionRecord | undefined>;
  keys(): Promise<TrustedKey[]>;
  key(keyId: string): Promise<TrustedKey | undefined>;
  /** Adds or replaces a key (by key id). */
  putKey(key: TrustedKey): Promise<TrustedKey>;
  /** False when there was no such key. */
  removeKey(keyId: string): Promise<boolean>;
}

/**
 * Decides whether `record` may join the plugin's published versions: returns the stored record
 * when it is the same version with the same bytes (nothing to add), undefined when it is new,
 * and throws VersionConflictError for the same version with other bytes or a version not newer
 * than every published one (yanked ones included). Every index store applies it atomically.
 */
export function checkNewVersion(published: readonly VersionRecord[], record: VersionRecord): VersionRecord | undefined {
  const mine = published.filter((v) => v.pluginId === record.pluginId);
  const same = mine.find((v) => v.version === record.version);
  if (same) {
    if (same.packageSha256 === record.packageSha256) return same;
    throw new VersionConflictError(
      'duplicate',
      `${record.pluginId} ${record.version} is already published with other bytes (package ${same.packageSha256}); publish a new version`,
    );
  }
  const newest = mine.map((v) => v.version).sort(semver.rcompare)[0];
  if (newest && !semver.gt(record.version, newest)) {
    throw new VersionConflictError(
      'older',
      `${record.pluginId} ${record.version} is not newer than the published ${newest}; versions only go up`,
    );
  }
  return undefined;
}
