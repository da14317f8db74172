import { join } from 'node:path';
import { type RunnerOptions, RunnerPool, type SourceSpec } from '@awasm/plugin-runner';
import { repoRoot } from './index.js';

/** A built component and its sha256, the digest a SourceSpec names it by. */
export interface Built {
  bytes: Uint8Array;
  digest: string;
}

/** One transpile cache for all runner test files: each component is transpiled once. */
const runnerCacheDir = join(repoRoot, '.cache', 'runner-test');

const defaultLimits = { memoryMb: 64, callTimeoutMs: 5000, maxResponseBytes: 1024 * 1024, maxConcurrency: 4 };

type SpecOverrides = Partial<Omit<SourceSpec, 'component' | 'digest' | 'limits'>> & {
  limits?: Partial<SourceSpec['limits']>;
};

export function spec(id: string, built: Built, overrides: SpecOverrides = {}): SourceSpec {
  return {
    id,
    digest: built.digest,
    component: built.bytes,
    allowedHosts: [],
    settings: {},
    ...overrides,
    limits: { ...defaultLimits, ...overrides.limits },
  };
}

/**
 * A runner over the shared test cache. The attack tests fail calls on purpose many times in a row,
 * which would open a source's circuit; circuit breaking has its own tests (health.test.ts), so it is
 * out of the way here unless a test asks for it.
 */
export function newPool(options: Partial<RunnerOptions> = {}): RunnerPool {
  return new RunnerPool({ cacheDir: runnerCacheDir, circuitBreaker: { failureThreshold: 1_000_000 }, ...options });
}
