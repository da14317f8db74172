// biome-ignore-all lint/suspicious/noThenProperty: JSON Schema's if/then keywords, not thenables
import semver from 'semver';
import {
  HOST_API_VERSION,
  ID_PATTERN,
  INT64_DECIMAL_PATTERN,
  LANGUAGE_PATTERN,
  LIMIT_KEYS,
  LIMIT_RANGES,
  MAX_REPLACED_SOURCES,
  MEDIA_KINDS,
  SETTING_KEY_PATTERN,
  SETTING_TYPES,
} from './manifest.js';
import { KEY_ID_PATTERN } from './signing.js';

/** Where the generated schema is committed, relative to the repository root. */
export const MANIFEST_SCHEMA_PATH = 'schemas/manifest.schema.json';

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const PORT = '(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})';
/** The official semver 2.0.0 regular expression. */
const SEMVER =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';

/** api_version values isCompatibleApiVersion accepts, as a pattern (same major/minor, patch up to the host's). */
function apiVersionPattern(): string {
  const host = semver.parse(HOST_API_VERSION);
  if (!host) throw new Error('HOST_API_VERSION is not semver');
  const patches = Array.from({ length: host.patch + 1 }, (_, i) => String(i)).join('|');
  if (host.major === 0) return `^0\\.${host.minor}\\.(?:${patches})$`;
  const minors = Array.from({ length: host.minor }, (_, i) => String(i)).join('|');
  const lower = minors ? `${host.major}\\.(?:${minors})\\.(?:0|[1-9][0-9]*)|` : '';
  return `^(?:${lower}${host.major}\\.${host.minor}\\.(?:${patches}))$`;
}

/**
 * A JSON Schema (draft 2020-12) for manifest.toml, for editors (e.g. Taplo, Even Better TOML).
 * It is generated from the same constants parseManifest checks against, committed at
 * MANIFEST_SCHEMA_PATH, and a test keeps the two in agreement. parseManifest stays the authority.
 */
export function manifestJsonSchema(): Record<string, unknown> {
  const limitProperties = Object.fromEntries(
    Object.entries(LIMIT_KEYS).map(([tomlKey, field]) => {
      const range = LIMIT_RANGES[field];
      return [
        tomlKey,
        {
          type: range.integer ? 'integer' : 'number',
          minimum: range.min,
          maximum: range.max,
          default: range.default,
        },
      ];
    }),
  );
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'aWASM plugin manifest (manifest.toml)',
    description:
      'Generated from packages/shared/src/manifest-schema.ts; do not edit by hand (pnpm --filter @awasm/shared gen:schema).',
    type: 'object',
    additionalProperties: false,
    required: ['id', 'name', 'version', 'api_version', 'media_kinds', 'languages', 'nsfw', 'allowed_hosts'],
    properties: {
      id: {
        type: 'string',
        pattern: ID_PATTERN.source,
        description: '2-64 lowercase letters, digits or dashes; the source id',
      },
      name: { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' },
      version: { type: 'string', pattern: SEMVER, description: 'the plugin version (semver)' },
      api_version: {
        type: 'string',
        pattern: apiVersionPattern(),
        description: `the awasm:source WIT version targeted; this host implements ${HOST_API_VERSION}`,
      },
      description: { type: 'string', minLength: 1, pattern: '\\S' },
      media_kinds: { type: 'array', minItems: 1, items: { enum: [...MEDIA_KINDS] } },
      languages: { type: 'array', items: { type: 'string', pattern: LANGUAGE_PATTERN.source } },
      nsfw: { type: 'boolean' },
      allowed_hosts: {
        type: 'array',
        description:
          'origins the plugin may reach: http(s)://host[:port] or http(s)://*.host[:port]; no IPs, paths or bare wildcards',
        items: {
          type: 'string',
          pattern: `^https?://(?:\\*\\.)?(?:${LABEL}\\.)+${LABEL}(?::${PORT})?$`,
          not: { pattern: '^https?://(?:\\*\\.)?[0-9.]+(?::[0-9]+)?$' },
        },
      },
      limits: { type: 'object', additionalProperties: false, properties: limitProperties },
      settings: {
        type: 'object',
        propertyNames: { pattern: SETTING_KEY_PATTERN.source },
        additionalProperties: { $ref: '#/$defs/setting' },
      },
      publisher_key_id: {
        type: 'string',
        pattern: KEY_ID_PATTERN.source,
        description: 'the key id `awasm plugin keygen` prints; must match the key that signs the package',
      },
      package_sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'sha256 of the component' },
      replaces: {
        type: 'array',
        description: 'Mihon/Tachiyomi sources this plugin serves, so a .tachibk import maps their entries to it',
        maxItems: MAX_REPLACED_SOURCES,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['mihon_source_id', 'name'],
          properties: {
            mihon_source_id: {
              type: 'string',
              pattern: INT64_DECIMAL_PATTERN.source,
              description: "Mihon's source id, a decimal int64 as a string (it exceeds what a TOML reader keeps exact)",
            },
            name: { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' },
          },
        },
      },
    },
    $defs: {
      setting: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'label', 'default'],
        properties: {
          type: { enum: [...SETTING_TYPES] },
          label: { type: 'string', minLength: 1, pattern: '\\S' },
          description: { type: 'string', minLength: 1, pattern: '\\S' },
          default: { type: ['string', 'integer', 'boolean'] },
          options: { type: 'array', minItems: 1, items: { type: 'string' } },
          min: { type: 'integer' },
          max: { type: 'integer' },
        },
        allOf: [
          {
            if: { properties: { type: { const: 'string' } } },
            then: { properties: { default: { type: 'string', maxLength: 4096 } } },
          },
          {
            if: { properties: { type: { const: 'int' } } },
            then: { properties: { default: { type: 'integer' } } },
            else: { not: { anyOf: [{ required: ['min'] }, { required: ['max'] }] } },
          },
          {
            if: { properties: { type: { const: 'bool' } } },
            then: { properties: { default: { type: 'boolean' } } },
          },
          {
            if: { properties: { type: { const: 'select' } } },
            then: { required: ['options'], properties: { default: { type: 'string' } } },
            else: { not: { required: ['options'] } },
          },
        ],
      },
    },
  };
}

/** The schema file's exact text. */
export function manifestJsonSchemaText(): string {
  return `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`;
}
