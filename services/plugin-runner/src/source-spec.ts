import { PluginLoadError } from '@awasm/runner-api';
import { MAX_REQUESTS_PER_SECOND, MIN_REQUESTS_PER_SECOND } from './host-scheduler.js';
import { SHA256_HEX } from './transpile-cache.js';

export interface SourceLimits {
  memoryMb: number;
  callTimeoutMs: number;
  maxResponseBytes: number;
  maxConcurrency: number;
  /** the manifest's requests_per_second, per host this source calls (none: no limit of its own) */
  requestsPerSecond?: number;
}

/** What a source is loaded from: its component, the hosts it may reach, its limits and settings. */
export interface SourceSpec {
  id: string;
  /** sha256 hex of `component` */
  digest: string;
  component: Uint8Array;
  allowedHosts: string[];
  limits: SourceLimits;
  settings: Record<string, string>;
}

/**
 * What an instance costs the host besides its wasm memory (its thread's V8 isolate and Node
 * environment), counted against RunnerOptions.memoryBudgetMb with its limits.memoryMb.
 */
export const INSTANCE_OVERHEAD_MB = 8;

export const MIB = 1024 * 1024;

/** What one instance of a source counts against the runner's memory budget (bytes). */
export function instanceBytes(limits: SourceLimits): number {
  return (limits.memoryMb + INSTANCE_OVERHEAD_MB) * MIB;
}

/** Throws a PluginLoadError naming the first field of `spec` that is missing or out of range. */
export function checkSpec(spec: SourceSpec): void {
  const fail = (msg: string): never => {
    throw new PluginLoadError(String(spec?.id), msg);
  };
  if (typeof spec.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(spec.id)) {
    fail('id must be 1-128 letters, digits, ".", "_" or "-"');
  }
  if (typeof spec.digest !== 'string' || !SHA256_HEX.test(spec.digest))
    fail('digest must be a lowercase sha256 hex string');
  if (!(spec.component instanceof Uint8Array)) fail('component must be a Uint8Array');
  const l = spec.limits;
  if (!l) fail('limits are required');
  const positiveInt = (name: Exclude<keyof SourceLimits, 'requestsPerSecond'>, max: number) => {
    const v = l[name];
    if (!Number.isInteger(v) || v < 1 || v > max) fail(`limits.${name} must be an integer from 1 to ${max}, got ${v}`);
  };
  positiveInt('memoryMb', 4096);
  positiveInt('callTimeoutMs', 24 * 3600 * 1000);
  positiveInt('maxResponseBytes', 1024 * 1024 * 1024);
  positiveInt('maxConcurrency', 1024);
  const rps = l.requestsPerSecond;
  if (
    rps !== undefined &&
    !(typeof rps === 'number' && rps >= MIN_REQUESTS_PER_SECOND && rps <= MAX_REQUESTS_PER_SECOND)
  ) {
    fail(`limits.requestsPerSecond must be from ${MIN_REQUESTS_PER_SECOND} to ${MAX_REQUESTS_PER_SECOND}, got ${rps}`);
  }
  if (!Array.isArray(spec.allowedHosts)) fail('allowedHosts must be an array');
  for (const [k, v] of Object.entries(spec.settings ?? {})) {
    if (typeof v !== 'string') fail(`setting '${k}' must be a string`);
  }
}
