import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { parseManifest } from './manifest.js';
import { MANIFEST_SCHEMA_PATH, manifestJsonSchemaText } from './manifest-schema.js';

const committed = readFileSync(fileURLToPath(new URL(`../../../${MANIFEST_SCHEMA_PATH}`, import.meta.url)), 'utf8');
const validate = new Ajv2020({ strict: true, allErrors: true, strictTypes: false, strictRequired: false }).compile(
  JSON.parse(committed),
);

const base = `
id = "demo-library"
name = "Demo Library"
version = "1.2.3-beta.1"
api_version = "0.1.0"
media_kinds = ["book", "manga"]
languages = ["en", "pt-BR"]
nsfw = false
allowed_hosts = ["http://demo-library.awasm.test", "https://*.example.org:8443"]
publisher_key_id = "0123456789abcdef0123456789abcdef"

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

[settings.adult]
type = "bool"
label = "Show adult titles"
default = false
`;

const edit = (from: string, to: string) => {
  if (!base.includes(from)) throw new Error(`example edit: '${from}' not in the base manifest`);
  return base.replace(from, to);
};

const valid: [string, string][] = [
  ['the base manifest', base],
  [
    'no optional keys',
    'id = "ab"\nname = "A"\nversion = "0.0.1"\napi_version = "0.1.0"\nmedia_kinds = ["tv"]\nlanguages = []\nnsfw = true\nallowed_hosts = []\n',
  ],
  [
    'replaced Mihon sources',
    `${base}\n[[replaces]]\nmihon_source_id = "2499283573021220255"\nname = "MangaDex"\n\n[[replaces]]\nmihon_source_id = "-7"\nname = "Old"\n`,
  ],
  ['a port at the top of the range', edit('example.org:8443', 'example.org:65535')],
  [
    'every limit at its bounds',
    edit('memory_mb = 128', 'memory_mb = 2048\ncall_timeout_ms = 100\nmax_concurrency = 64\nmax_response_bytes = 1024'),
  ],
];

const invalid: [string, string][] = [
  ['replaces as a table', `${base}\n[replaces]\nmihon_source_id = "1"\nname = "A"\n`],
  ['a replaced source id as a number', `${base}\n[[replaces]]\nmihon_source_id = 1\nname = "A"\n`],
  ['a replaced source id that is not decimal', `${base}\n[[replaces]]\nmihon_source_id = "0x22b0"\nname = "A"\n`],
  ['a replaced source without a name', `${base}\n[[replaces]]\nmihon_source_id = "1"\n`],
  ['an unknown key in replaces', `${base}\n[[replaces]]\nmihon_source_id = "1"\nname = "A"\nlang = "en"\n`],
  ['an unknown top-level key', `surprise = 1\n${base}`],
  ['an unknown limit', edit('memory_mb = 128', 'memory_gb = 1')],
  ['a limit over its range', edit('memory_mb = 128', 'memory_mb = 4096')],
  ['a limit under its range', edit('memory_mb = 128', 'memory_mb = 1')],
  ['a fractional integer limit', edit('memory_mb = 128', 'memory_mb = 12.5')],
  ['a version that is not semver', edit('version = "1.2.3-beta.1"', 'version = "1.2"')],
  ['an incompatible api version', edit('api_version = "0.1.0"', 'api_version = "0.2.0"')],
  ['a bad id', edit('id = "demo-library"', 'id = "Demo_Library"')],
  ['an unknown media kind', edit('["book", "manga"]', '["podcast"]')],
  ['no media kinds', edit('["book", "manga"]', '[]')],
  ['a bad language tag', edit('["en", "pt-BR"]', '["english"]')],
  ['nsfw as a string', edit('nsfw = false', 'nsfw = "no"')],
  ['an IP host', edit('http://demo-library.awasm.test', 'http://127.0.0.1')],
  ['an IP host with a wildcard', edit('http://demo-library.awasm.test', 'http://*.10.0.0')],
  ['a host with a path', edit('http://demo-library.awasm.test', 'http://demo.test/api')],
  ['a bare wildcard', edit('http://demo-library.awasm.test', 'https://*')],
  ['a wildcard on a top-level domain', edit('http://demo-library.awasm.test', 'https://*.com')],
  ['a wildcard inside a label', edit('http://demo-library.awasm.test', 'https://a*.example.com')],
  ['an uppercase host', edit('http://demo-library.awasm.test', 'https://Example.com')],
  ['another scheme', edit('http://demo-library.awasm.test', 'ftp://example.com')],
  ['port 0', edit('example.org:8443', 'example.org:0')],
  ['a port out of range', edit('example.org:8443', 'example.org:65536')],
  ['a publisher key id that is a name', edit('"0123456789abcdef0123456789abcdef"', '"alice"')],
  ['an uppercase publisher key id', edit('"0123456789abcdef0123456789abcdef"', '"0123456789ABCDEF0123456789ABCDEF"')],
  ['a short package sha256', `package_sha256 = "abc"\n${base}`],
  ['a setting of an unknown type', edit('type = "bool"', 'type = "float"')],
  ['a select without options', edit('options = ["low", "high"]', '')],
  ['options on an int setting', edit('max = 50', 'max = 50\noptions = ["a"]')],
  ['bounds on a bool setting', edit('default = false', 'default = false\nmin = 1')],
  ['an int default that is a string', edit('default = 10', 'default = "10"')],
  ['a bool default that is a string', edit('default = false', 'default = "false"')],
  ['an unknown setting key', edit('label = "Quality"', 'label = "Quality"\nhelp = "x"')],
  ['a setting name in camelCase', edit('[settings.page_size]', '[settings.pageSize]')],
  ['a missing name', edit('name = "Demo Library"', '')],
  ['an empty name', edit('name = "Demo Library"', 'name = " "')],
];

function validatorAccepts(toml: string): boolean {
  try {
    parseManifest(toml);
    return true;
  } catch {
    return false;
  }
}

describe('schemas/manifest.schema.json', () => {
  it('is the output of manifestJsonSchema() (regenerate: pnpm --filter @awasm/shared gen:schema)', () => {
    expect(JSON.parse(committed)).toEqual(JSON.parse(manifestJsonSchemaText()));
  });

  it.each(valid)('accepts %s, as parseManifest does', (_name, toml) => {
    expect(validatorAccepts(toml)).toBe(true);
    expect(validate(parseToml(toml)), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each(invalid)('refuses %s, as parseManifest does', (_name, toml) => {
    expect(validatorAccepts(toml)).toBe(false);
    expect(validate(parseToml(toml))).toBe(false);
  });

  it('accepts the demo plugin manifest', () => {
    const demo = readFileSync(
      fileURLToPath(new URL('../../../plugins/demo-library/manifest.toml', import.meta.url)),
      'utf8',
    );
    expect(validate(parseToml(demo)), JSON.stringify(validate.errors)).toBe(true);
  });
});
