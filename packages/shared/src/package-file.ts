import { createHash } from 'node:crypto';
import { keyIdOf, loadPrivateKey, SignatureError, signBytes, verifyBytes } from './signing.js';

/**
 * An aWASM package (`.awpkg`): one file holding a plugin's manifest.toml, its component and a
 * detached Ed25519 signature. Format version 2:
 *
 *   magic    8 bytes  "AWPKG" 0x00 0x02 0x00
 *   u32 BE   manifest length, then the manifest.toml bytes (UTF-8)
 *   u32 BE   component length, then the component bytes
 *   u32 BE   signature block length (0: unsigned), then the block:
 *              u8 algorithm (1 = Ed25519)
 *              32 bytes  the publisher's raw public key (its key id is derived from it)
 *              64 bytes  signature over signedMessage(manifest bytes, sha256 of the component)
 *
 * Nothing may follow. Packages are addressed by the sha256 of the whole file. Signing rewrites
 * only the last block, so `awasm plugin pack` then `awasm plugin sign` gives the same bytes as
 * packing with a key. Version 1 files (no signature block) are still read, as unsigned packages.
 */
export const PACKAGE_MAGIC = Uint8Array.from([0x41, 0x57, 0x50, 0x4b, 0x47, 0x00, 0x02, 0x00]);
const PACKAGE_MAGIC_V1 = Uint8Array.from([0x41, 0x57, 0x50, 0x4b, 0x47, 0x00, 0x01, 0x00]);
const SIGNATURE_DOMAIN = new TextEncoder().encode('awasm package signature v1\0');
const ALGORITHM_ED25519 = 1;
const SIGNATURE_BLOCK_BYTES = 1 + 32 + 64;
export const PACKAGE_EXTENSION = '.awpkg';
export const MAX_PACKAGE_BYTES = 64 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 64 * 1024;

export interface PackageSignature {
  /** 32 lowercase hex digits, derived from the public key */
  keyId: string;
  /** raw 32-byte Ed25519 public key */
  publicKey: Uint8Array;
  signature: Uint8Array;
}

export interface PackageContents {
  manifestToml: string;
  component: Uint8Array;
  /** absent for an unsigned package */
  signature?: PackageSignature;
}

export interface DecodedPackage extends PackageContents {
  formatVersion: 1 | 2;
  /** the manifest exactly as stored, which the signature covers */
  manifestBytes: Uint8Array;
  componentSha256: string;
}

export class PackageFormatError extends Error {
  constructor(message: string) {
    super(`malformed package: ${message}`);
    this.name = 'PackageFormatError';
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The bytes a package signature covers: a domain tag, the manifest bytes and the component's sha256. */
export function signedMessage(manifestBytes: Uint8Array, componentSha256Hex: string): Uint8Array {
  const digest = Buffer.from(componentSha256Hex, 'hex');
  const out = new Uint8Array(SIGNATURE_DOMAIN.length + 4 + manifestBytes.length + digest.length);
  out.set(SIGNATURE_DOMAIN, 0);
  new DataView(out.buffer).setUint32(SIGNATURE_DOMAIN.length, manifestBytes.length);
  out.set(manifestBytes, SIGNATURE_DOMAIN.length + 4);
  out.set(digest, SIGNATURE_DOMAIN.length + 4 + manifestBytes.length);
  return out;
}

export function encodePackage({ manifestToml, component, signature }: PackageContents): Uint8Array {
  const manifest = new TextEncoder().encode(manifestToml);
  const sigLength = signature ? SIGNATURE_BLOCK_BYTES : 0;
  const out = new Uint8Array(PACKAGE_MAGIC.length + 4 + manifest.length + 4 + component.length + 4 + sigLength);
  const view = new DataView(out.buffer);
  out.set(PACKAGE_MAGIC, 0);
  let offset = PACKAGE_MAGIC.length;
  view.setUint32(offset, manifest.length);
  out.set(manifest, offset + 4);
  offset += 4 + manifest.length;
  view.setUint32(offset, component.length);
  out.set(component, offset + 4);
  offset += 4 + component.length;
  view.setUint32(offset, sigLength);
  if (signature) {
    if (signature.publicKey.length !== 32 || signature.signature.length !== 64) {
      throw new RangeError('an Ed25519 signature block holds a 32-byte key and a 64-byte signature');
    }
    out[offset + 4] = ALGORITHM_ED25519;
    out.set(signature.publicKey, offset + 5);
    out.set(signature.signature, offset + 5 + 32);
  }
  return out;
}

/** Signs a manifest and component with a publisher's private key (PKCS#8 PEM or a KeyObject). */
export function signPackage(contents: PackageContents, privateKeyPem: string): Uint8Array {
  const key = loadPrivateKey(privateKeyPem);
  const manifestBytes = new TextEncoder().encode(contents.manifestToml);
  const message = signedMessage(manifestBytes, sha256Hex(contents.component));
  return encodePackage({
    manifestToml: contents.manifestToml,
    component: contents.component,
    signature: { keyId: key.keyId, publicKey: key.rawPublicKey, signature: signBytes(key.privateKey, message) },
  });
}

/**
 * Checks a decoded package's signature against its own manifest and component. Throws
 * SignatureError when it is unsigned or the signature does not verify (a changed manifest or
 * component, or a signature made by another key). Whether the key is trusted is the caller's question.
 */
export function verifyPackageSignature(pkg: DecodedPackage): PackageSignature {
  const signature = pkg.signature;
  if (!signature) throw new SignatureError('the package is not signed');
  const message = signedMessage(pkg.manifestBytes, pkg.componentSha256);
  if (!verifyBytes(signature.publicKey, message, signature.signature)) {
    throw new SignatureError(
      `the signature by key ${signature.keyId} does not match the package's manifest and component (tampered, or signed by another key)`,
    );
  }
  return signature;
}

export function decodePackage(bytes: Uint8Array): DecodedPackage {
  if (bytes.length > MAX_PACKAGE_BYTES) {
    throw new PackageFormatError(`${bytes.length} bytes is over the ${MAX_PACKAGE_BYTES}-byte limit`);
  }
  const isMagic = (magic: Uint8Array) => bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
  const formatVersion = isMagic(PACKAGE_MAGIC) ? 2 : isMagic(PACKAGE_MAGIC_V1) ? 1 : undefined;
  if (formatVersion === undefined) {
    throw new PackageFormatError(
      'not an aWASM package file (wrong magic bytes; expected an .awpkg built by `awasm plugin pack`)',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = PACKAGE_MAGIC.length;
  const section = (name: string, max: number): Uint8Array => {
    if (offset + 4 > bytes.length) throw new PackageFormatError(`truncated before the ${name} length`);
    const length = view.getUint32(offset);
    offset += 4;
    if (length > max) throw new PackageFormatError(`${name} is ${length} bytes, over the ${max}-byte limit`);
    if (offset + length > bytes.length) {
      throw new PackageFormatError(
        `truncated: ${name} should be ${length} bytes but only ${bytes.length - offset} remain`,
      );
    }
    const out = bytes.subarray(offset, offset + length);
    offset += length;
    return out;
  };
  const manifestBytes = section('manifest', MAX_MANIFEST_BYTES);
  const component = section('component', MAX_PACKAGE_BYTES);
  let signature: PackageSignature | undefined;
  if (formatVersion === 2) {
    const block = section('signature block', SIGNATURE_BLOCK_BYTES);
    if (block.length !== 0) {
      if (block.length !== SIGNATURE_BLOCK_BYTES || block[0] !== ALGORITHM_ED25519) {
        throw new PackageFormatError(
          `signature block must be empty or ${SIGNATURE_BLOCK_BYTES} bytes of algorithm 1 (Ed25519)`,
        );
      }
      const publicKey = block.slice(1, 33);
      signature = { keyId: keyIdOf(publicKey), publicKey, signature: block.slice(33) };
    }
  }
  if (offset !== bytes.length)
    throw new PackageFormatError(`${bytes.length - offset} unexpected bytes after the component`);
  let manifestToml: string;
  try {
    manifestToml = new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes);
  } catch {
    throw new PackageFormatError('manifest is not valid UTF-8');
  }
  if (
    component.length < 8 ||
    component[0] !== 0x00 ||
    component[1] !== 0x61 ||
    component[2] !== 0x73 ||
    component[3] !== 0x6d
  ) {
    throw new PackageFormatError('component is not a WebAssembly binary');
  }
  const out: DecodedPackage = {
    formatVersion,
    manifestToml,
    manifestBytes,
    component,
    componentSha256: sha256Hex(component),
  };
  if (signature) out.signature = signature;
  return out;
}
