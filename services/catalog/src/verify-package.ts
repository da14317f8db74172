import {
  type DecodedPackage,
  decodePackage,
  ManifestError,
  PackageFormatError,
  type PluginManifest,
  parseManifest,
  SignatureError,
  verifyPackageSignature,
} from '@awasm/shared';
import { Code, ConnectError } from '@connectrpc/connect';
import type { RepositoryRecord } from './repository-store.js';
import type { TrustPolicy } from './trust-policy.js';

/** A package whose format, manifest and signature were checked. */
export interface VerifiedPackage {
  manifestToml: string;
  manifest: PluginManifest;
  component: Uint8Array;
  componentSha256: string;
}

/** Where a downloaded package came from: the repository and the index entry it was chosen by. */
export interface RepositoryOffer {
  repository: RepositoryRecord;
  pluginId: string;
  version: string;
}

/**
 * Decodes a package, validates its manifest and checks its signature against the trust policy.
 * Every install path runs it (an uploaded file, and a download with the repository `offer` it was
 * chosen from), and so does every load of a stored package, so a package changed at rest is
 * refused before the runner sees it. A download must be the plugin and version its index listed
 * and be signed by a key trusted for that repository; its refusals name the repository.
 */
export async function verifyPackage(
  bytes: Uint8Array,
  trust: TrustPolicy,
  offer?: RepositoryOffer,
): Promise<VerifiedPackage> {
  const offered = offer
    ? await refusingAsInvalid(() => checkOffered(bytes, trust, offer), `${describe(offer)} refused: `)
    : undefined;
  return refusingAsInvalid(async () => {
    const { decoded, manifest } = offered ?? openPackage(bytes);
    const { manifestToml, component, componentSha256 } = decoded;
    if (decoded.signature) {
      const keyId = offered?.signer ?? verifyPackageSignature(decoded).keyId;
      if (manifest.publisherKeyId && manifest.publisherKeyId !== keyId) {
        throw new ManifestError(
          'publisher_key_id',
          `is ${manifest.publisherKeyId} but the package is signed by ${keyId}`,
        );
      }
      // a download's signer was checked against its repository's trust above
      if (!offered && !trust.allowUnsigned && !(await trust.maySign(keyId, manifest.id))) {
        throw new ConnectError(
          `package of '${manifest.id}' is signed by key ${keyId}, which is not trusted for '${manifest.id}'`,
          Code.PermissionDenied,
        );
      }
    } else if (!trust.allowUnsigned) {
      throw new ConnectError(
        `package of '${manifest.id}' is not signed and this server accepts only signed packages (allow_unsigned_packages is off)`,
        Code.PermissionDenied,
      );
    }
    if (manifest.packageSha256 && manifest.packageSha256 !== componentSha256) {
      throw new ManifestError(
        'package_sha256',
        `is ${manifest.packageSha256} but the component in the package hashes to ${componentSha256}`,
      );
    }
    return { manifestToml, manifest, component, componentSha256 };
  });
}

function openPackage(bytes: Uint8Array): { decoded: DecodedPackage; manifest: PluginManifest } {
  const decoded = decodePackage(bytes);
  return { decoded, manifest: parseManifest(decoded.manifestToml) };
}

/** A download holds what its index listed and is signed by a key its repository may use. */
async function checkOffered(
  bytes: Uint8Array,
  trust: TrustPolicy,
  offer: RepositoryOffer,
): Promise<{ decoded: DecodedPackage; manifest: PluginManifest; signer: string }> {
  const { decoded, manifest } = openPackage(bytes);
  if (manifest.id !== offer.pluginId || manifest.version !== offer.version) {
    throw new ManifestError(
      'id',
      `the package holds ${manifest.id} ${manifest.version}, but '${offer.repository.name}' lists it as ${offer.pluginId} ${offer.version}`,
    );
  }
  const signer = verifyPackageSignature(decoded).keyId;
  if (!(await trust.maySignFrom(offer.repository, signer, offer.pluginId))) {
    throw new ConnectError(
      `the package of ${describe(offer)} is signed by key ${signer}, which this server does not trust for it`,
      Code.PermissionDenied,
    );
  }
  return { decoded, manifest, signer };
}

function describe(offer: RepositoryOffer): string {
  return `${offer.pluginId} ${offer.version} from '${offer.repository.name}'`;
}

/** The package's own faults (format, manifest, signature) are the caller's invalid argument. */
async function refusingAsInvalid<T>(work: () => Promise<T>, prefix = ''): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof PackageFormatError || error instanceof ManifestError || error instanceof SignatureError) {
      throw new ConnectError(`${prefix}${error.message}`, Code.InvalidArgument);
    }
    throw error;
  }
}
