import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { PackageVersionSchema } from './gen/awasm/v1/registry_service_pb.js';
import { encodeStaticIndex, parseStaticIndex, staticPackagePath } from './static-index.js';

const version = create(PackageVersionSchema, {
  pluginId: 'demo',
  version: '1.2.3',
  name: 'Demo',
  packageSha256: 'a'.repeat(64),
  size: 42n,
  publisherKeyId: 'b'.repeat(32),
});

describe('static repository index', () => {
  it('round-trips versions', () => {
    const parsed = parseStaticIndex(encodeStaticIndex([version]));
    expect(parsed).toHaveLength(1);
    expect(parsed[0]).toMatchObject({ pluginId: 'demo', version: '1.2.3', size: 42n });
  });

  it('refuses what is not an index, naming the problem', () => {
    expect(() => parseStaticIndex('<html>')).toThrow('not JSON');
    expect(() => parseStaticIndex('{"format":"x"}')).toThrow('"format"');
    expect(() => parseStaticIndex('{"format":"awasm-repository-index","formatVersion":2}')).toThrow('formatVersion');
    const bad = JSON.parse(encodeStaticIndex([version]));
    bad.versions[0].packageSha256 = '../../etc/passwd';
    expect(() => parseStaticIndex(JSON.stringify(bad))).toThrow('versions[0].packageSha256');
  });

  it('names package files by digest only', () => {
    expect(staticPackagePath('c'.repeat(64))).toBe(`packages/${'c'.repeat(64)}.awpkg`);
    expect(() => staticPackagePath('../x')).toThrow('not a sha256');
  });
});
