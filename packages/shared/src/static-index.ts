import { fromJson, type JsonValue, toJson } from '@bufbuild/protobuf';
import { type PackageVersion, PackageVersionSchema } from './gen/awasm/v1/registry_service_pb.js';

/**
 * A static repository: plain files any HTTP server can host, as `awasm registry export <dir>`
 * writes them.
 *
 *   index.json                    {"format": "awasm-repository-index", "formatVersion": 1,
 *                                  "generatedAt": "<ISO 8601>", "versions": [PackageVersion JSON...]}
 *   packages/<sha256>.awpkg       each package file, named by the sha256 of its bytes
 *
 * Each entry of `versions` is an awasm.v1.PackageVersion in its canonical JSON form (yanked ones
 * included, flagged). Nothing in the index is trusted by itself: a server installing from it checks
 * every download against the entry's sha256 and size, then the package's own signature and the
 * signer's trust.
 */
export const STATIC_INDEX_FILE = 'index.json';
export const STATIC_INDEX_FORMAT = 'awasm-repository-index';
export const STATIC_INDEX_VERSION = 1;
/** Largest index.json a server reads. */
export const MAX_STATIC_INDEX_BYTES = 16 * 1024 * 1024;

export class StaticIndexError extends Error {
  constructor(message: string) {
    super(`bad repository index: ${message}`);
    this.name = 'StaticIndexError';
  }
}

/** Where a package lives, relative to the repository's base URL or folder. */
export function staticPackagePath(packageSha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(packageSha256)) throw new StaticIndexError(`'${packageSha256}' is not a sha256`);
  return `packages/${packageSha256}.awpkg`;
}

export function encodeStaticIndex(versions: readonly PackageVersion[], generatedAt = new Date()): string {
  const body = {
    format: STATIC_INDEX_FORMAT,
    formatVersion: STATIC_INDEX_VERSION,
    generatedAt: generatedAt.toISOString(),
    versions: versions.map((v) => toJson(PackageVersionSchema, v)),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** Parses index.json; throws StaticIndexError naming what is wrong. */
export function parseStaticIndex(text: string): PackageVersion[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new StaticIndexError(`not JSON (${(error as Error).message})`);
  }
  if (typeof body !== 'object' || body === null) throw new StaticIndexError('not a JSON object');
  const { format, formatVersion, versions } = body as Record<string, unknown>;
  if (format !== STATIC_INDEX_FORMAT) throw new StaticIndexError(`"format" must be "${STATIC_INDEX_FORMAT}"`);
  if (formatVersion !== STATIC_INDEX_VERSION) {
    throw new StaticIndexError(`"formatVersion" ${String(formatVersion)} is not supported (this server reads 1)`);
  }
  if (!Array.isArray(versions)) throw new StaticIndexError('"versions" must be an array');
  return versions.map((v, i) => {
    let version: PackageVersion;
    try {
      version = fromJson(PackageVersionSchema, v as JsonValue, { ignoreUnknownFields: true });
    } catch (error) {
      throw new StaticIndexError(`versions[${i}]: ${(error as Error).message}`);
    }
    if (!version.pluginId || !version.version) {
      throw new StaticIndexError(`versions[${i}]: pluginId and version are required`);
    }
    if (!/^[0-9a-f]{64}$/.test(version.packageSha256)) {
      throw new StaticIndexError(`versions[${i}].packageSha256 must be 64 lowercase hex digits`);
    }
    return version;
  });
}
