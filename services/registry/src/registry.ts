import {
  decodePackage,
  formatPublicKey,
  ID_PATTERN,
  KEY_ID_PATTERN,
  keyIdOf,
  MAX_PACKAGE_BYTES,
  ManifestError,
  type MediaKind,
  PackageFormatError,
  parseManifest,
  parsePublicKey,
  publishChallenge,
  SignatureError,
  sha256Hex,
  verifyBytes,
  verifyPackageSignature,
} from '@awasm/shared';
import { Code, ConnectError } from '@connectrpc/connect';
import semver from 'semver';
import type { RegistryIndexStore, TrustedKey, VersionRecord } from './index-store.js';
import { VersionConflictError } from './index-store.js';
import { ComponentRefused, type InspectOptions, inspectComponent } from './inspect.js';
import { PackageIntegrityError, type PackageStore } from './package-store.js';

/**
 * Proof that the holder of a publisher key sent this upload: an Ed25519 signature by that key over
 * publishChallenge(sha256, size, signedAt). Stateless (nothing secret is stored on the server)
 * and bound to the exact bytes, so a captured proof cannot publish anything else, and it expires.
 */
export interface PublishAuth {
  keyId: string;
  /** the package's sha256 and size as the publisher declares them before sending it */
  packageSha256: string;
  size: number;
  /** unix milliseconds when the proof was made */
  signedAt: number;
  signature: Uint8Array;
}

export { publishChallenge };

export interface RegistryOptions extends InspectOptions {
  /** largest package accepted, in bytes (default and ceiling: the package format's 64 MiB) */
  maxPackageBytes?: number;
  /** how far a publish proof's signedAt may be from now (default 10 minutes) */
  authWindowMs?: number;
  now?: () => number;
}

export interface IndexFilter {
  pluginIds?: string[];
  mediaKinds?: MediaKind[];
  languages?: string[];
  /** false: hide nsfw plugins */
  includeNsfw?: boolean;
  includeYanked?: boolean;
  /** matched against id, name and description, case-insensitive */
  query?: string;
}

export interface PluginEntry {
  pluginId: string;
  /** the newest version that is not yanked, or the newest of all when every one is */
  latest: VersionRecord;
  /** newest first */
  versions: VersionRecord[];
}

const denied = (message: string) => new ConnectError(message, Code.PermissionDenied);
const invalid = (message: string) => new ConnectError(message, Code.InvalidArgument);

/**
 * The registry: verifies packages on publish and keeps them, their index and the trusted keys.
 * Every check runs before anything is stored; a refused publish leaves packages and index as they were.
 */
export class Registry {
  readonly maxPackageBytes: number;
  private readonly now: () => number;

  constructor(
    readonly packages: PackageStore,
    readonly index: RegistryIndexStore,
    private readonly options: RegistryOptions = {},
  ) {
    this.maxPackageBytes = Math.min(options.maxPackageBytes ?? MAX_PACKAGE_BYTES, MAX_PACKAGE_BYTES);
    this.now = options.now ?? Date.now;
  }

  /** Refuses a declared upload before its bytes arrive: bad proof, untrusted key, too large. */
  async checkPublishAuth(auth: PublishAuth): Promise<TrustedKey> {
    if (!KEY_ID_PATTERN.test(auth.keyId)) throw invalid(`'${auth.keyId}' is not a key id`);
    if (!/^[0-9a-f]{64}$/.test(auth.packageSha256)) throw invalid('package_sha256 must be 64 lowercase hex digits');
    if (!Number.isSafeInteger(auth.size) || auth.size <= 0) throw invalid('size must be a positive number of bytes');
    if (auth.size > this.maxPackageBytes) {
      throw new ConnectError(
        `package of ${auth.size} bytes is over this registry's ${this.maxPackageBytes}-byte limit`,
        Code.ResourceExhausted,
      );
    }
    const key = await this.index.key(auth.keyId);
    if (!key)
      throw new ConnectError(`key ${auth.keyId} is not a publisher key this registry trusts`, Code.Unauthenticated);
    const window = this.options.authWindowMs ?? 10 * 60_000;
    if (Math.abs(this.now() - auth.signedAt) > window) {
      throw new ConnectError(
        `the publish proof was made at ${new Date(auth.signedAt).toISOString()}, outside the ${window / 1000} s window; make a new one`,
        Code.Unauthenticated,
      );
    }
    const message = publishChallenge(auth.packageSha256, auth.size, auth.signedAt);
    if (!verifyBytes(parsePublicKey(key.publicKey), message, auth.signature)) {
      throw new ConnectError(`the publish proof is not signed by key ${auth.keyId}`, Code.Unauthenticated);
    }
    return key;
  }

  /** Verifies a package completely, then stores it and indexes its version. */
  async publish(bytes: Uint8Array, auth: PublishAuth): Promise<VersionRecord> {
    const key = await this.checkPublishAuth(auth);
    if (bytes.length !== auth.size) {
      throw invalid(`upload incomplete or oversized: received ${bytes.length} of the ${auth.size} bytes declared`);
    }
    const packageSha256 = sha256Hex(bytes);
    if (packageSha256 !== auth.packageSha256) {
      throw invalid(`the uploaded bytes hash to ${packageSha256}, not the declared ${auth.packageSha256}`);
    }
    let decoded: ReturnType<typeof decodePackage>;
    let manifest: ReturnType<typeof parseManifest>;
    try {
      decoded = decodePackage(bytes);
      manifest = parseManifest(decoded.manifestToml);
    } catch (error) {
      if (error instanceof PackageFormatError || error instanceof ManifestError) throw invalid(error.message);
      throw error;
    }
    if (!decoded.signature) throw invalid('the package is not signed; sign it with `awasm plugin sign`');
    try {
      verifyPackageSignature(decoded);
    } catch (error) {
      if (error instanceof SignatureError) throw invalid(error.message);
      throw error;
    }
    const signer = decoded.signature.keyId;
    if (signer !== key.keyId) {
      throw denied(`the package is signed by key ${signer}, but the upload is made with key ${key.keyId}`);
    }
    if (manifest.publisherKeyId && manifest.publisherKeyId !== signer) {
      throw denied(`manifest publisher_key_id is ${manifest.publisherKeyId} but the package is signed by ${signer}`);
    }
    if (!key.pluginIds.includes(manifest.id)) {
      throw denied(`key ${key.keyId} (${key.name}) is not trusted for plugin '${manifest.id}'`);
    }
    if (manifest.packageSha256 && manifest.packageSha256 !== decoded.componentSha256) {
      throw invalid(
        `manifest key 'package_sha256': is ${manifest.packageSha256} but the component hashes to ${decoded.componentSha256}`,
      );
    }
    let apiVersion: string;
    try {
      apiVersion = inspectComponent(decoded.component, this.options).apiVersion;
    } catch (error) {
      if (error instanceof ComponentRefused) throw invalid(error.message);
      throw error;
    }
    if (semver.parse(apiVersion)?.minor !== semver.parse(manifest.apiVersion)?.minor) {
      throw invalid(
        `manifest key 'api_version': is ${manifest.apiVersion} but the component exports source-api@${apiVersion}`,
      );
    }
    const record: VersionRecord = {
      pluginId: manifest.id,
      version: manifest.version,
      name: manifest.name,
      apiVersion: manifest.apiVersion,
      mediaKinds: manifest.mediaKinds,
      languages: manifest.languages,
      nsfw: manifest.nsfw,
      packageSha256,
      componentSha256: decoded.componentSha256,
      size: bytes.length,
      publisherKeyId: signer,
      manifestToml: decoded.manifestToml,
      publishedAt: this.now(),
      yanked: false,
    };
    if (manifest.description !== undefined) record.description = manifest.description;
    // Checked before storing the bytes and again atomically by the index when adding.
    await this.checkVersion(record);
    const existed = (await this.packages.get(packageSha256)) !== undefined;
    await this.packages.put(bytes);
    try {
      return await this.index.addVersion(record);
    } catch (error) {
      if (!existed && !(await this.index.byDigest(packageSha256))) await this.packages.delete(packageSha256);
      throw conflictStatus(error);
    }
  }

  private async checkVersion(record: VersionRecord): Promise<void> {
    const same = await this.index.version(record.pluginId, record.version);
    if (same?.packageSha256 === record.packageSha256) return;
    const versions = (await this.index.versions()).filter((v) => v.pluginId === record.pluginId);
    if (same) {
      throw conflictStatus(
        new VersionConflictError(
          'duplicate',
          `${record.pluginId} ${record.version} is already published with other bytes (package ${same.packageSha256}); publish a new version`,
        ),
      );
    }
    const newest = versions.map((v) => v.version).sort(semver.rcompare)[0];
    if (newest && !semver.gt(record.version, newest)) {
      throw conflictStatus(
        new VersionConflictError(
          'older',
          `${record.pluginId} ${record.version} is not newer than the published ${newest}; versions only go up`,
        ),
      );
    }
  }

  async list(filter: IndexFilter = {}): Promise<PluginEntry[]> {
    const query = filter.query?.toLowerCase();
    const groups = new Map<string, VersionRecord[]>();
    for (const v of await this.index.versions()) {
      if (v.yanked && !filter.includeYanked) continue;
      if (filter.pluginIds?.length && !filter.pluginIds.includes(v.pluginId)) continue;
      if (filter.mediaKinds?.length && !v.mediaKinds.some((k) => filter.mediaKinds?.includes(k))) continue;
      if (filter.languages?.length && !v.languages.some((l) => filter.languages?.includes(l))) continue;
      if (v.nsfw && filter.includeNsfw === false) continue;
      const group = groups.get(v.pluginId) ?? [];
      group.push(v);
      groups.set(v.pluginId, group);
    }
    const out: PluginEntry[] = [];
    for (const [pluginId, versions] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      versions.sort((a, b) => semver.rcompare(a.version, b.version));
      const latest = versions.find((v) => !v.yanked) ?? (versions[0] as VersionRecord);
      if (
        query &&
        ![latest.pluginId, latest.name, latest.description ?? ''].some((t) => t.toLowerCase().includes(query))
      ) {
        continue;
      }
      out.push({ pluginId, latest, versions });
    }
    return out;
  }

  /** The package bytes of an indexed version (yanked ones too: installs pinned to them keep working). */
  async download(packageSha256: string): Promise<{ record: VersionRecord; bytes: Uint8Array }> {
    if (!/^[0-9a-f]{64}$/.test(packageSha256)) throw invalid('package_sha256 must be 64 lowercase hex digits');
    const record = await this.index.byDigest(packageSha256);
    if (!record) throw new ConnectError(`no published package has sha256 ${packageSha256}`, Code.NotFound);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.packages.get(packageSha256);
    } catch (error) {
      if (error instanceof PackageIntegrityError) throw new ConnectError(error.message, Code.DataLoss);
      throw error;
    }
    if (!bytes) throw new ConnectError(`package ${packageSha256} is indexed but missing from storage`, Code.DataLoss);
    return { record, bytes };
  }

  async yank(pluginId: string, version: string, yanked: boolean, reason?: string): Promise<VersionRecord> {
    const record = await this.index.setYanked(pluginId, version, yanked, reason);
    if (!record) throw new ConnectError(`${pluginId} ${version} is not published here`, Code.NotFound);
    return record;
  }

  async trustKey(publicKey: string, name: string, pluginIds: string[]): Promise<TrustedKey> {
    let raw: Uint8Array;
    try {
      raw = parsePublicKey(publicKey);
    } catch (error) {
      throw invalid((error as Error).message);
    }
    if (!name.trim()) throw invalid('name must not be empty');
    if (pluginIds.length === 0) throw invalid('plugin_ids must name at least one plugin the key may publish');
    for (const id of pluginIds) if (!ID_PATTERN.test(id)) throw invalid(`'${id}' is not a plugin id`);
    const keyId = keyIdOf(raw);
    const existing = await this.index.key(keyId);
    return this.index.putKey({
      keyId,
      publicKey: formatPublicKey(raw),
      name: name.trim(),
      pluginIds: [...new Set(pluginIds)].sort(),
      addedAt: existing?.addedAt ?? this.now(),
    });
  }

  async removeKey(keyId: string): Promise<void> {
    if (!(await this.index.removeKey(keyId))) throw new ConnectError(`no trusted key ${keyId}`, Code.NotFound);
  }

  keys(): Promise<TrustedKey[]> {
    return this.index.keys();
  }

  /** For the plugin manager's signature policy: is this key trusted to sign this plugin? */
  async isTrusted(keyId: string, pluginId: string): Promise<boolean> {
    return (await this.index.key(keyId))?.pluginIds.includes(pluginId) ?? false;
  }
}

function conflictStatus(error: unknown): unknown {
  if (error instanceof VersionConflictError) {
    return new ConnectError(error.message, error.kind === 'duplicate' ? Code.AlreadyExists : Code.FailedPrecondition);
  }
  return error;
}
