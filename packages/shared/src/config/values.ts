/** Checks of single config values shared by the sections; every error names the key it came from. */

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`config '${key}': ${problem}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const ENDPOINT = /^[A-Za-z0-9.-]+:\d{1,5}$/;

export function nonEmptyString(key: string, value: unknown): string {
  if (typeof value !== 'string' || !value) throw new ConfigError(key, 'must be a non-empty string');
  return value;
}

/** A TOML table (not an array, not a value); `what` says what it must hold. */
export function table(key: string, value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(key, what);
  return value as Record<string, unknown>;
}

export function parsePort(key: string, value: unknown): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(key, `must be a port number 0-65535, got '${String(value)}'`);
  }
  return n;
}

export function parseBool(key: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(key, `must be true or false, got '${String(value)}'`);
}

export function checkLogLevel(key: string, value: unknown): string {
  if (typeof value !== 'string' || !LOG_LEVELS.includes(value)) {
    throw new ConfigError(key, `must be one of ${LOG_LEVELS.join(', ')}, got '${String(value)}'`);
  }
  return value;
}

export function checkEndpoint(key: string, value: string): string {
  if (!ENDPOINT.test(value)) throw new ConfigError(key, `'${value}' must be host:port`);
  return value.toLowerCase();
}

export function checkToken(key: string, value: unknown): string {
  if (typeof value !== 'string' || value.length < 16 || /\s/.test(value)) {
    throw new ConfigError(key, 'must be a string of at least 16 characters without spaces');
  }
  return value;
}

/** The "a=b,c=d" lists of the environment and flags, split into trimmed, non-empty pairs. */
export function pairs(text: string): string[] {
  return text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}
