import type { ConfigSection } from './section.js';
import { ConfigError, parseBool } from './values.js';

/** How the catalog takes plugin packages and keeps followed works up to date. */
export interface CatalogConfig {
  /**
   * accept plugin packages without a signature on PluginService.Install (on: the embedded default,
   * since only the operator installs local files; off: every package must be signed by a key the
   * registry trusts for its plugin id). A signature that is present is always verified.
   */
  allowUnsignedPackages: boolean;
  /** how often each followed work's unit list is refreshed, ms (`update_interval`, default 12 h) */
  updateIntervalMs: number;
  /** sources the update scheduler refreshes at the same time (`update_parallel_sources`, default 4) */
  updateParallelSources: number;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MIN_UPDATE_INTERVAL_MS = 60_000;
const MAX_UPDATE_INTERVAL_MS = 30 * 86_400_000;

/** A duration like "12h", "90m" or "1d": at least a minute (a refresh per minute is already a lot), at most 30 days. */
export function parseUpdateInterval(key: string, value: unknown): number {
  const match = typeof value === 'string' ? /^(\d+)([smhd])$/.exec(value.trim()) : null;
  const ms = match ? Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN) : Number.NaN;
  if (!Number.isSafeInteger(ms)) {
    throw new ConfigError(key, `must be a duration like "12h", "90m" or "1d", got '${String(value)}'`);
  }
  if (ms < MIN_UPDATE_INTERVAL_MS || ms > MAX_UPDATE_INTERVAL_MS) {
    throw new ConfigError(key, `must be between 1m and 30d, got '${String(value)}'`);
  }
  return ms;
}

export function parseParallelSources(key: string, value: unknown): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 64) {
    throw new ConfigError(key, `must be a whole number from 1 to 64, got '${String(value)}'`);
  }
  return n;
}

export const catalogSection: ConfigSection<CatalogConfig> = {
  fileKeys: ['allow_unsigned_packages', 'update_interval', 'update_parallel_sources'],
  defaults: () => ({ allowUnsignedPackages: true, updateIntervalMs: 12 * 3_600_000, updateParallelSources: 4 }),
  fromFile(config, key, value) {
    if (key === 'update_interval') config.updateIntervalMs = parseUpdateInterval(key, value);
    else if (key === 'update_parallel_sources') config.updateParallelSources = parseParallelSources(key, value);
    else config.allowUnsignedPackages = parseBool(key, value);
  },
  fromEnv(config, env) {
    if (env.AWASM_ALLOW_UNSIGNED_PACKAGES) {
      config.allowUnsignedPackages = parseBool('AWASM_ALLOW_UNSIGNED_PACKAGES', env.AWASM_ALLOW_UNSIGNED_PACKAGES);
    }
    if (env.AWASM_UPDATE_INTERVAL) {
      config.updateIntervalMs = parseUpdateInterval('AWASM_UPDATE_INTERVAL', env.AWASM_UPDATE_INTERVAL);
    }
    if (env.AWASM_UPDATE_PARALLEL_SOURCES) {
      config.updateParallelSources = parseParallelSources(
        'AWASM_UPDATE_PARALLEL_SOURCES',
        env.AWASM_UPDATE_PARALLEL_SOURCES,
      );
    }
  },
};
