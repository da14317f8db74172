import { describe, expect, it } from 'vitest';
import { decodePackage, encodePackage, PackageFormatError } from './package-file.js';

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
