import { describe, expect, it } from 'vitest';
import { checkHostPattern, ManifestError, parseManifest } from './manifest.js';

const valid = `
id = "demo-library"
name = "Demo Library"
version = "0.1.0"
api_version = "0.1.0"
media_kinds = ["book", "manga"]
languages = ["en", "pt-BR"]
nsfw = false
allowed_hosts = ["http://demo-library.awasm.test", "https://*.example.org:8443"]

[limits]
memory_mb = 128
requests_per_second = 2.5

[settings.page_size]
type = "int"
label = "Results per page"
default = 10
min = 1
max = 50

[settings.quality]
type = "select"
label = "Quality"
default = "high"
options = ["low", "high"]
`;

/** One `[[replaces]]` table; `quoted` false writes the id as a TOML integer. */
function replaces(id: string, name: string, quoted = true): string {
  return `\n[[replaces]]\nmihon_source_id = ${quoted ? `"${id}"` : id}\nname = "${name}"\n`;
}

function keyOf(toml: string): string {
  try {
    parseManifest(toml);
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    return (error as ManifestError).key;
  }
  throw new Error('manifest was accepted');
}

describe('parseManifest', () => {
  it('parses a valid manifest with defaults for omitted limits', () => {
    const m = parseManifest(valid);
    expect(m.id).toBe('demo-library');
    expect(m.mediaKinds).toEqual(['book', 'manga']);
    expect(m.limits).toEqual({
      memoryMb: 128,
      callTimeoutMs: 10_000,
      maxResponseBytes: 4 * 1024 * 1024,
      requestsPerSecond: 2.5,
      maxConcurrency: 4,
    });
    expect(m.settings.map((s) => [s.key, s.type, s.default])).toEqual([
      ['page_size', 'int', '10'],
      ['quality', 'select', 'high'],
    ]);
  });

  it.each([
    ['unknown top-level key', `surprise = 1\n${valid}`, 'surprise'],
    ['unknown limit', valid.replace('memory_mb = 128', 'memory_gb = 1'), 'limits.memory_gb'],
    ['limit out of range', valid.replace('memory_mb = 128', 'memory_mb = 99999'), 'limits.memory_mb'],
    ['limit of the wrong type', valid.replace('memory_mb = 128', 'memory_mb = "lots"'), 'limits.memory_mb'],
    ['invalid semver', valid.replace('version = "0.1.0"', 'version = "1.0"'), 'version'],
    ['incompatible api version', valid.replace('api_version = "0.1.0"', 'api_version = "0.2.0"'), 'api_version'],
    ['missing id', valid.replace('id = "demo-library"', ''), 'id'],
    ['bad id', valid.replace('id = "demo-library"', 'id = "Demo Library"'), 'id'],
    ['unknown media kind', valid.replace('["book", "manga"]', '["book", "podcast"]'), 'media_kinds[1]'],
    ['nsfw not a boolean', valid.replace('nsfw = false', 'nsfw = "no"'), 'nsfw'],
    ['IP host', valid.replace('http://demo-library.awasm.test', 'http://127.0.0.1'), 'allowed_hosts[0]'],
    ['host with a path', valid.replace('http://demo-library.awasm.test', 'http://demo.test/api'), 'allowed_hosts[0]'],
    ['bare wildcard', valid.replace('http://demo-library.awasm.test', 'https://*'), 'allowed_hosts[0]'],
    ['wildcard on a TLD', valid.replace('http://demo-library.awasm.test', 'https://*.com'), 'allowed_hosts[0]'],
    [
      'setting default of the wrong type',
      valid.replace('default = 10', 'default = "ten"'),
      'settings.page_size.default',
    ],
    ['publisher key id not a key id', `publisher_key_id = "alice"\n${valid}`, 'publisher_key_id'],
    ['package sha256 not a digest', `package_sha256 = "abc"\n${valid}`, 'package_sha256'],
    ['setting default out of bounds', valid.replace('default = 10', 'default = 99'), 'settings.page_size.default'],
    [
      'select default not an option',
      valid.replace('default = "high"', 'default = "ultra"'),
      'settings.quality.default',
    ],
    [
      'unknown setting key',
      valid.replace('label = "Quality"', 'label = "Quality"\ncolour = "red"'),
      'settings.quality.colour',
    ],
    ['replaces as a table', `${valid}\n[replaces]\nname = "MangaDex"\n`, 'replaces'],
    ['a replaced source id as a number', `${valid}${replaces('7', 'MangaDex', false)}`, 'replaces[0].mihon_source_id'],
    [
      'a replaced source id that is not decimal',
      `${valid}${replaces('0x22b0', 'MangaDex')}`,
      'replaces[0].mihon_source_id',
    ],
    [
      'a replaced source id with a leading zero',
      `${valid}${replaces('0123', 'MangaDex')}`,
      'replaces[0].mihon_source_id',
    ],
    [
      'a replaced source id past int64',
      `${valid}${replaces('9223372036854775808', 'MangaDex')}`,
      'replaces[0].mihon_source_id',
    ],
    [
      'a replaced source listed twice',
      `${valid}${replaces('1', 'A')}${replaces('1', 'B')}`,
      'replaces[1].mihon_source_id',
    ],
    ['a replaced source without a name', `${valid}\n[[replaces]]\nmihon_source_id = "1"\n`, 'replaces[0].name'],
    [
      'an unknown key in replaces',
      `${valid}\n[[replaces]]\nmihon_source_id = "1"\nname = "A"\nlang = "en"\n`,
      'replaces[0].lang',
    ],
  ])('rejects %s, naming the key', (_name, toml, key) => {
    expect(keyOf(toml)).toBe(key);
  });

  it('reads the Mihon sources a plugin replaces, ids as strings past 2^53', () => {
    expect(parseManifest(valid).replaces).toBeUndefined();
    const m = parseManifest(`${valid}${replaces('2499283573021220255', 'MangaDex')}${replaces('-42', 'Old fork')}`);
    expect(m.replaces).toEqual([
      { mihonSourceId: '2499283573021220255', name: 'MangaDex' },
      { mihonSourceId: '-42', name: 'Old fork' },
    ]);
    expect(parseManifest(`${valid}${replaces('9223372036854775807', 'Max')}`).replaces?.[0]?.mihonSourceId).toBe(
      '9223372036854775807',
    );
  });

  it('reports TOML syntax errors with a position', () => {
    expect(() => parseManifest('id = "x')).toThrow(/not valid TOML: line 1/);
  });
});

describe('checkHostPattern', () => {
  it.each(['https://example.com', 'http://a.example.com:8080', 'https://*.example.com'])('accepts %s', (p) => {
    expect(checkHostPattern(p)).toBeUndefined();
  });
  it.each([
    'example.com',
    'ftp://example.com',
    'https://user@example.com',
    'https://example.com/',
    'https://Example.com',
    'https://[::1]',
    'https://2130706433',
    'https://ex*ample.com',
    'https://localhost',
    'https://example.com:70000',
  ])('refuses %s', (p) => {
    expect(checkHostPattern(p)).toBeTypeOf('string');
  });
});
