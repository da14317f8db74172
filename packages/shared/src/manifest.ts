import semver from 'semver';
import { parse as parseToml, TomlError } from 'smol-toml';
import { KEY_ID_PATTERN } from './signing.js';

/** The WIT package version of the source world this host implements. */
export const HOST_API_VERSION = '0.1.0';

export const MEDIA_KINDS = ['manga', 'anime', 'comic', 'book', 'tv', 'movie'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

export const SETTING_TYPES = ['string', 'int', 'bool', 'select'] as const;
export type SettingType = (typeof SETTING_TYPES)[number];

export interface SettingSpec {
  key: string;
  type: SettingType;
  label: string;
  description?: string;
  /** default value in its string form, as stored and as handed to the plugin */
  default: string;
  options?: string[];
  min?: number;
  max?: number;
}

export interface ManifestLimits {
  memoryMb: number;
  callTimeoutMs: number;
  maxResponseBytes: number;
  requestsPerSecond: number;
  maxConcurrency: number;
}

/** A Mihon/Tachiyomi source whose entries this plugin serves, so a .tachibk import maps them to it. */
export interface ReplacedSource {
  /** Mihon's source id: a decimal int64, kept as a string because it exceeds 2^53 */
  mihonSourceId: string;
  /** the source's name in Mihon */
  name: string;
}

export interface PluginManifest {
  id: string;
  name: string;
  version: string;
  apiVersion: string;
  description?: string;
  mediaKinds: MediaKind[];
  languages: string[];
  nsfw: boolean;
  allowedHosts: string[];
  limits: ManifestLimits;
  settings: SettingSpec[];
  publisherKeyId?: string;
  packageSha256?: string;
  /** present when the manifest has `[[replaces]]` tables */
  replaces?: ReplacedSource[];
}

/** A manifest problem; `key` is the dotted path of the offending key ("limits.memory_mb"). */
export class ManifestError extends Error {
  constructor(
    readonly key: string,
    readonly problem: string,
  ) {
    super(key ? `manifest key '${key}': ${problem}` : `manifest: ${problem}`);
    this.name = 'ManifestError';
  }
}

interface IntRange {
  min: number;
  max: number;
  default: number;
  integer: boolean;
}

/** Allowed ranges; a manifest outside them is refused, not clamped. */
export const LIMIT_RANGES: Record<keyof ManifestLimits, IntRange> = {
  memoryMb: { min: 16, max: 2048, default: 128, integer: true },
  callTimeoutMs: { min: 100, max: 120_000, default: 10_000, integer: true },
  maxResponseBytes: { min: 1024, max: 64 * 1024 * 1024, default: 4 * 1024 * 1024, integer: true },
  requestsPerSecond: { min: 0.1, max: 1000, default: 10, integer: false },
  maxConcurrency: { min: 1, max: 64, default: 4, integer: true },
};

export const LIMIT_KEYS: Record<string, keyof ManifestLimits> = {
  memory_mb: 'memoryMb',
  call_timeout_ms: 'callTimeoutMs',
  max_response_bytes: 'maxResponseBytes',
  requests_per_second: 'requestsPerSecond',
  max_concurrency: 'maxConcurrency',
};

export const TOP_LEVEL_KEYS = new Set([
  'id',
  'name',
  'version',
  'api_version',
  'description',
  'media_kinds',
  'languages',
  'nsfw',
  'allowed_hosts',
  'limits',
  'settings',
  'publisher_key_id',
  'package_sha256',
  'replaces',
]);
export const SETTING_KEYS = new Set(['type', 'label', 'description', 'default', 'options', 'min', 'max']);
export const REPLACES_KEYS = new Set(['mihon_source_id', 'name']);
/** A decimal int64 in its canonical form: no sign on zero, no leading zeros. */
export const INT64_DECIMAL_PATTERN = /^(0|-?[1-9][0-9]{0,18})$/;
/** More would not be one plugin replacing sources but a list of everything. */
export const MAX_REPLACED_SOURCES = 100;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Whether `value` is a decimal int64 such as Mihon's source ids, as a string. */
export function isInt64Decimal(value: string): boolean {
  if (!INT64_DECIMAL_PATTERN.test(value)) return false;
  const n = BigInt(value);
  return n >= INT64_MIN && n <= INT64_MAX;
}

export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$/;
export const LANGUAGE_PATTERN = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
export const SETTING_KEY_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a table';
  return `a ${typeof value}`;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function requireString(table: Record<string, unknown>, key: string, path = key): string {
  const value = table[key];
  if (value === undefined) throw new ManifestError(path, 'is required');
  if (typeof value !== 'string') throw new ManifestError(path, `must be a string, got ${typeName(value)}`);
  if (value.trim() === '') throw new ManifestError(path, 'must not be empty');
  return value;
}

function optionalString(table: Record<string, unknown>, key: string, path = key): string | undefined {
  return table[key] === undefined ? undefined : requireString(table, key, path);
}

function requireStringArray(table: Record<string, unknown>, key: string): string[] {
  const value = table[key];
  if (value === undefined) throw new ManifestError(key, 'is required');
  if (!Array.isArray(value)) throw new ManifestError(key, `must be an array of strings, got ${typeName(value)}`);
  return value.map((item, index) => {
    if (typeof item !== 'string')
      throw new ManifestError(`${key}[${index}]`, `must be a string, got ${typeName(item)}`);
    return item;
  });
}

/**
 * Checks one allowed_hosts entry: `http(s)://host[:port]` or `http(s)://*.host[:port]`.
 * IP addresses, bare wildcards, paths, queries and userinfo are refused: the host enforces
 * the list literally, so anything ambiguous is an error here rather than a surprise later.
 */
export function checkHostPattern(pattern: string): string | undefined {
  const match = /^(https?):\/\/([^/:?#@\s]+)(?::(\d{1,5}))?$/.exec(pattern);
  if (!match) {
    return 'must be scheme://host[:port] with scheme http or https and no path, query, userinfo or trailing slash';
  }
  const host = match[2] as string;
  const port = match[3];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `port ${port} is out of range`;
  if (host !== host.toLowerCase()) return 'host must be lowercase';
  const bare = host.startsWith('*.') ? host.slice(2) : host;
  if (bare.includes('*')) return 'a wildcard is only allowed as the whole first label ("*.example.com")';
  if (/^[0-9.]+$/.test(bare) || bare.includes('[')) return 'IP addresses are not allowed; name a host';
  const labels = bare.split('.');
  if (labels.length < 2) return `'${bare}' is not a fully qualified host name`;
  for (const label of labels) {
    if (!HOST_LABEL.test(label)) return `'${label}' is not a valid host name label`;
  }
  return undefined;
}

function parseLimits(value: unknown): ManifestLimits {
  const limits: ManifestLimits = {
    memoryMb: LIMIT_RANGES.memoryMb.default,
    callTimeoutMs: LIMIT_RANGES.callTimeoutMs.default,
    maxResponseBytes: LIMIT_RANGES.maxResponseBytes.default,
    requestsPerSecond: LIMIT_RANGES.requestsPerSecond.default,
    maxConcurrency: LIMIT_RANGES.maxConcurrency.default,
  };
  if (value === undefined) return limits;
  if (!isTable(value)) throw new ManifestError('limits', `must be a table, got ${typeName(value)}`);
  for (const [tomlKey, raw] of Object.entries(value)) {
    const field = LIMIT_KEYS[tomlKey];
    const path = `limits.${tomlKey}`;
    if (!field) throw new ManifestError(path, `unknown key (allowed: ${Object.keys(LIMIT_KEYS).join(', ')})`);
    const range = LIMIT_RANGES[field];
    if (typeof raw !== 'number' || Number.isNaN(raw)) {
      throw new ManifestError(path, `must be a number, got ${typeName(raw)}`);
    }
    if (range.integer && !Number.isInteger(raw)) throw new ManifestError(path, `must be an integer, got ${raw}`);
    if (raw < range.min || raw > range.max) {
      throw new ManifestError(path, `must be between ${range.min} and ${range.max}, got ${raw}`);
    }
    limits[field] = raw;
  }
  return limits;
}

function parseSetting(key: string, value: unknown): SettingSpec {
  const path = `settings.${key}`;
  if (!SETTING_KEY_PATTERN.test(key)) throw new ManifestError(path, 'setting names are lowercase snake_case');
  if (!isTable(value)) throw new ManifestError(path, `must be a table, got ${typeName(value)}`);
  for (const k of Object.keys(value)) {
    if (!SETTING_KEYS.has(k)) {
      throw new ManifestError(`${path}.${k}`, `unknown key (allowed: ${[...SETTING_KEYS].join(', ')})`);
    }
  }
  const type = requireString(value, 'type', `${path}.type`);
  if (!(SETTING_TYPES as readonly string[]).includes(type)) {
    throw new ManifestError(`${path}.type`, `must be one of ${SETTING_TYPES.join(', ')}, got '${type}'`);
  }
  const spec: SettingSpec = {
    key,
    type: type as SettingType,
    label: requireString(value, 'label', `${path}.label`),
    default: '',
  };
  const description = optionalString(value, 'description', `${path}.description`);
  if (description !== undefined) spec.description = description;
  if (type === 'int') {
    for (const bound of ['min', 'max'] as const) {
      const b = value[bound];
      if (b === undefined) continue;
      if (typeof b !== 'number' || !Number.isInteger(b)) {
        throw new ManifestError(`${path}.${bound}`, `must be an integer, got ${typeName(b)}`);
      }
      spec[bound] = b;
    }
    if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) {
      throw new ManifestError(`${path}.min`, `must not exceed max (${spec.max})`);
    }
  } else if (value.min !== undefined || value.max !== undefined) {
    throw new ManifestError(`${path}.${value.min !== undefined ? 'min' : 'max'}`, `only int settings have bounds`);
  }
  if (type === 'select') {
    const options = value.options;
    if (!Array.isArray(options) || options.length === 0 || options.some((o) => typeof o !== 'string')) {
      throw new ManifestError(`${path}.options`, 'a select setting needs a non-empty array of strings');
    }
    spec.options = options as string[];
  } else if (value.options !== undefined) {
    throw new ManifestError(`${path}.options`, 'only select settings have options');
  }
  const rawDefault = value.default;
  if (rawDefault === undefined) throw new ManifestError(`${path}.default`, 'is required');
  const asString = rawDefault instanceof Date ? '' : String(rawDefault);
  const problem = checkSettingValue(spec, asString, typeof rawDefault);
  if (problem) throw new ManifestError(`${path}.default`, problem);
  spec.default = asString;
  return spec;
}

function parseReplaces(value: unknown): ReplacedSource[] {
  if (!Array.isArray(value)) {
    throw new ManifestError('replaces', `must be an array of tables ([[replaces]]), got ${typeName(value)}`);
  }
  if (value.length > MAX_REPLACED_SOURCES) {
    throw new ManifestError('replaces', `must list at most ${MAX_REPLACED_SOURCES} sources, got ${value.length}`);
  }
  const seen = new Set<string>();
  return value.map((item, index) => {
    const path = `replaces[${index}]`;
    if (!isTable(item)) throw new ManifestError(path, `must be a table, got ${typeName(item)}`);
    for (const k of Object.keys(item)) {
      if (!REPLACES_KEYS.has(k)) {
        throw new ManifestError(`${path}.${k}`, `unknown key (allowed: ${[...REPLACES_KEYS].join(', ')})`);
      }
    }
    const mihonSourceId = requireString(item, 'mihon_source_id', `${path}.mihon_source_id`);
    if (!isInt64Decimal(mihonSourceId)) {
      throw new ManifestError(
        `${path}.mihon_source_id`,
        `'${mihonSourceId.slice(0, 64)}' must be a decimal int64 written as a string, e.g. "2499283573021220255"`,
      );
    }
    if (seen.has(mihonSourceId))
      throw new ManifestError(`${path}.mihon_source_id`, `'${mihonSourceId}' is listed twice`);
    seen.add(mihonSourceId);
    const name = requireString(item, 'name', `${path}.name`);
    if (name.length > 100) throw new ManifestError(`${path}.name`, 'must be at most 100 characters');
    return { mihonSourceId, name };
  });
}

/**
 * Checks a setting value in its string form against its spec; returns the problem or undefined.
 * `tomlType` is passed when checking a manifest default, whose TOML type must match too.
 */
export function checkSettingValue(spec: SettingSpec, value: string, tomlType?: string): string | undefined {
  switch (spec.type) {
    case 'string':
      if (tomlType !== undefined && tomlType !== 'string') return `must be a string, got a ${tomlType}`;
      if (value.length > 4096) return 'must be at most 4096 characters';
      return undefined;
    case 'int': {
      if (tomlType !== undefined && tomlType !== 'number') return `must be an integer, got a ${tomlType}`;
      if (!/^-?\d{1,15}$/.test(value)) return `must be an integer, got '${value}'`;
      const n = Number(value);
      if (spec.min !== undefined && n < spec.min) return `must be at least ${spec.min}, got ${n}`;
      if (spec.max !== undefined && n > spec.max) return `must be at most ${spec.max}, got ${n}`;
      return undefined;
    }
    case 'bool':
      if (tomlType !== undefined && tomlType !== 'boolean') return `must be a boolean, got a ${tomlType}`;
      return value === 'true' || value === 'false' ? undefined : `must be true or false, got '${value}'`;
    case 'select':
      if (tomlType !== undefined && tomlType !== 'string') return `must be a string, got a ${tomlType}`;
      return spec.options?.includes(value) ? undefined : `must be one of ${spec.options?.join(', ')}, got '${value}'`;
  }
}

/** Parses and strictly validates a manifest.toml. Throws ManifestError naming the offending key. */
export function parseManifest(toml: string): PluginManifest {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(toml) as Record<string, unknown>;
  } catch (error) {
    const detail = error instanceof TomlError ? `line ${error.line}, column ${error.column}: ` : '';
    throw new ManifestError('', `not valid TOML: ${detail}${(error as Error).message.split('\n')[0]}`);
  }
  for (const key of Object.keys(doc)) {
    if (!TOP_LEVEL_KEYS.has(key)) throw new ManifestError(key, 'unknown key');
  }
  const id = requireString(doc, 'id');
  if (!ID_PATTERN.test(id)) {
    throw new ManifestError(
      'id',
      `'${id}' must be 2-64 lowercase letters, digits or dashes, not starting or ending with a dash`,
    );
  }
  const name = requireString(doc, 'name');
  if (name.length > 100) throw new ManifestError('name', 'must be at most 100 characters');
  const version = requireString(doc, 'version');
  if (!semver.valid(version)) throw new ManifestError('version', `'${version}' is not a semantic version (x.y.z)`);
  const apiVersion = requireString(doc, 'api_version');
  if (!semver.valid(apiVersion)) throw new ManifestError('api_version', `'${apiVersion}' is not a semantic version`);
  if (!isCompatibleApiVersion(apiVersion)) {
    throw new ManifestError(
      'api_version',
      `'${apiVersion}' is not compatible with this host's source API ${HOST_API_VERSION}`,
    );
  }
  const mediaKinds = requireStringArray(doc, 'media_kinds');
  if (mediaKinds.length === 0) throw new ManifestError('media_kinds', 'must name at least one media kind');
  mediaKinds.forEach((kind, index) => {
    if (!(MEDIA_KINDS as readonly string[]).includes(kind)) {
      throw new ManifestError(`media_kinds[${index}]`, `'${kind}' is not one of ${MEDIA_KINDS.join(', ')}`);
    }
  });
  const languages = requireStringArray(doc, 'languages');
  languages.forEach((language, index) => {
    if (!LANGUAGE_PATTERN.test(language)) {
      throw new ManifestError(`languages[${index}]`, `'${language}' is not a language tag such as "en" or "pt-BR"`);
    }
  });
  const nsfw = doc.nsfw;
  if (nsfw === undefined) throw new ManifestError('nsfw', 'is required');
  if (typeof nsfw !== 'boolean') throw new ManifestError('nsfw', `must be a boolean, got ${typeName(nsfw)}`);
  const allowedHosts = requireStringArray(doc, 'allowed_hosts');
  allowedHosts.forEach((pattern, index) => {
    const problem = checkHostPattern(pattern);
    if (problem) throw new ManifestError(`allowed_hosts[${index}]`, `'${pattern}' ${problem}`);
  });
  const settingsTable = doc.settings ?? {};
  if (!isTable(settingsTable)) throw new ManifestError('settings', `must be a table, got ${typeName(settingsTable)}`);
  const manifest: PluginManifest = {
    id,
    name,
    version,
    apiVersion,
    mediaKinds: [...new Set(mediaKinds)] as MediaKind[],
    languages,
    nsfw,
    allowedHosts,
    limits: parseLimits(doc.limits),
    settings: Object.entries(settingsTable).map(([key, value]) => parseSetting(key, value)),
  };
  const description = optionalString(doc, 'description');
  if (description !== undefined) manifest.description = description;
  const publisherKeyId = optionalString(doc, 'publisher_key_id');
  if (publisherKeyId !== undefined) {
    if (!KEY_ID_PATTERN.test(publisherKeyId)) {
      throw new ManifestError(
        'publisher_key_id',
        `'${publisherKeyId}' must be a key id: 32 lowercase hex digits, as \`awasm plugin keygen\` prints`,
      );
    }
    manifest.publisherKeyId = publisherKeyId;
  }
  const packageSha256 = optionalString(doc, 'package_sha256');
  if (packageSha256 !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(packageSha256)) {
      throw new ManifestError('package_sha256', 'must be 64 lowercase hex digits');
    }
    manifest.packageSha256 = packageSha256;
  }
  if (doc.replaces !== undefined) manifest.replaces = parseReplaces(doc.replaces);
  return manifest;
}

/** 0.x versions are compatible within a minor version, later ones within a major version. */
export function isCompatibleApiVersion(apiVersion: string): boolean {
  const wanted = semver.parse(apiVersion);
  const host = semver.parse(HOST_API_VERSION);
  if (!wanted || !host) return false;
  if (wanted.major !== host.major) return false;
  if (host.major === 0 && wanted.minor !== host.minor) return false;
  return semver.lte(wanted, host);
}

/** The plugin's settings with defaults filled in for every key it declares. */
export function effectiveSettings(manifest: PluginManifest, stored: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of manifest.settings) out[spec.key] = stored[spec.key] ?? spec.default;
  return out;
}
