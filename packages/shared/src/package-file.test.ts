import { describe, expect, it } from 'vitest';
import {
  decodePackage,
  encodePackage,
  PackageFormatError,
  signPackage,
  verifyPackageSignature,
} from './package-file.js';
import { formatPublicKey, generatePublisherKey, parsePublicKey, SignatureError } from './signing.js';

const component = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0xaa]);

describe('package file', () => {
  it('round-trips manifest and component', () => {
    const decoded = decodePackage(encodePackage({ manifestToml: 'id = "x"', component }));
    expect(decoded.manifestToml).toBe('id = "x"');
    expect([...decoded.component]).toEqual([...component]);
  });

  it.each([
    ['wrong magic', () => new TextEncoder().encode('PK\u0003\u0004 a zip file'), /wrong magic/],
    ['truncated component', () => encodePackage({ manifestToml: 'a', component }).subarray(0, 20), /truncated/],
    [
      'trailing bytes',
      () => Uint8Array.from([...encodePackage({ manifestToml: 'a', component }), 1]),
      /unexpected bytes/,
    ],
    [
      'non-wasm component',
      () => encodePackage({ manifestToml: 'a', component: new Uint8Array(10) }),
      /not a WebAssembly/,
    ],
  ])('refuses %s', (_name, make, message) => {
    expect(() => decodePackage(make())).toThrow(PackageFormatError);
    expect(() => decodePackage(make())).toThrow(message);
  });
});

describe('signed packages (format 2)', () => {
  const key = generatePublisherKey();
  const other = generatePublisherKey();
  const contents = { manifestToml: 'id = "x"\n', component };

  it('signs the manifest and the component digest with the publisher key, and verifies', () => {
    const decoded = decodePackage(signPackage(contents, key.privateKeyPem));
    expect(decoded.formatVersion).toBe(2);
    expect(decoded.signature?.keyId).toBe(key.keyId);
    expect(verifyPackageSignature(decoded).keyId).toBe(key.keyId);
    expect(formatPublicKey(decoded.signature?.publicKey as Uint8Array)).toBe(key.publicKey);
  });

  it('an unsigned package decodes without a signature and does not verify', () => {
    const decoded = decodePackage(encodePackage(contents));
    expect(decoded.signature).toBeUndefined();
    expect(() => verifyPackageSignature(decoded)).toThrow(/not signed/);
  });

  it('reads format 1 files as unsigned packages', () => {
    const v2 = encodePackage(contents);
    const v1 = Uint8Array.from([...v2.subarray(0, v2.length - 4)]);
    v1[6] = 0x01;
    const decoded = decodePackage(v1);
    expect(decoded.formatVersion).toBe(1);
    expect(decoded.manifestToml).toBe(contents.manifestToml);
    expect(decoded.signature).toBeUndefined();
  });

  it('refuses a changed manifest, a changed component and a signature by another key', () => {
    const signed = decodePackage(signPackage(contents, key.privateKeyPem));
    const sig = signed.signature as NonNullable<typeof signed.signature>;
    const manifest = decodePackage(encodePackage({ ...contents, manifestToml: 'id = "y"\n', signature: sig }));
    expect(() => verifyPackageSignature(manifest)).toThrow(SignatureError);
    const changed = Uint8Array.from([...component.subarray(0, 8), 0xbb]);
    const comp = decodePackage(encodePackage({ ...contents, component: changed, signature: sig }));
    expect(() => verifyPackageSignature(comp)).toThrow(/does not match/);
    const otherSig = decodePackage(signPackage(contents, other.privateKeyPem)).signature as typeof sig;
    const swapped = decodePackage(encodePackage({ ...contents, signature: { ...otherSig, publicKey: sig.publicKey } }));
    expect(() => verifyPackageSignature(swapped)).toThrow(/does not match/);
  });

  it('refuses a malformed signature block', () => {
    const bytes = signPackage(contents, key.privateKeyPem);
    expect(() => decodePackage(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
    const bad = Uint8Array.from(bytes);
    bad[bytes.length - 97] = 9;
    expect(() => decodePackage(bad)).toThrow(/algorithm 1/);
  });

  it('parses and formats public keys', () => {
    expect(formatPublicKey(parsePublicKey(key.publicKey))).toBe(key.publicKey);
    expect(() => parsePublicKey('ssh-ed25519 AAAA')).toThrow(/ed25519:/);
    expect(() => parsePublicKey('ed25519:AAAA')).toThrow(/32 bytes/);
  });
});
