import { createHash } from 'node:crypto';

/**
 * An aWASM package (`.awpkg`): one file holding a plugin's manifest.toml and its component.
 *
 *   magic    8 bytes  "AWPKG" 0x00 0x01 0x00 (format version 1)
 *   u32 BE   manifest length, then the manifest.toml bytes (UTF-8)
 *   u32 BE   component length, then the component bytes
 *
 * Nothing may follow. Packages are addressed by the sha256 of the whole file.
 */
export const PACKAGE_MAGIC = Uint8Array.from([0x41, 0x57, 0x50, 0x4b, 0x47, 0x00, 0x01, 0x00]);
export const PACKAGE_EXTENSION = '.awpkg';
export const MAX_PACKAGE_BYTES = 64 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 64 * 1024;

export interface PackageContents {
  manifestToml: string;
  component: Uint8Array;
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

export function encodePackage({ manifestToml, component }: PackageContents): Uint8Array {
  const manifest = new TextEncoder().encode(manifestToml);
  const out = new Uint8Array(PACKAGE_MAGIC.length + 4 + manifest.length + 4 + component.length);
  const view = new DataView(out.buffer);
  out.set(PACKAGE_MAGIC, 0);
  let offset = PACKAGE_MAGIC.length;
  view.setUint32(offset, manifest.length);
  out.set(manifest, offset + 4);
  offset += 4 + manifest.length;
  view.setUint32(offset, component.length);
  out.set(component, offset + 4);
  return out;
}

export function decodePackage(bytes: Uint8Array): PackageContents {
  if (bytes.length > MAX_PACKAGE_BYTES) {
    throw new PackageFormatError(`${bytes.length} bytes is over the ${MAX_PACKAGE_BYTES}-byte limit`);
  }
  if (bytes.length < PACKAGE_MAGIC.length || PACKAGE_MAGIC.some((b, i) => bytes[i] !== b)) {
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
  return { manifestToml, component };
}
