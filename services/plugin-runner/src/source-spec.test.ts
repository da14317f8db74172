import { PluginLoadError } from '@awasm/runner-api';
import { describe, expect, it } from 'vitest';
import { MAX_REQUESTS_PER_SECOND, MIN_REQUESTS_PER_SECOND } from './host-scheduler.js';
import { checkSpec, INSTANCE_OVERHEAD_MB, instanceBytes, MIB, type SourceSpec } from './source-spec.js';

const good: SourceSpec = {
  id: 'demo.source_1',
  digest: 'a'.repeat(64),
  component: new Uint8Array(8),
  allowedHosts: ['https://example.com'],
  limits: { memoryMb: 64, callTimeoutMs: 5000, maxResponseBytes: 1024, maxConcurrency: 2 },
  settings: { lang: 'en' },
};

function refusal(spec: unknown): PluginLoadError {
  try {
    checkSpec(spec as SourceSpec);
  } catch (err) {
    expect(err).toBeInstanceOf(PluginLoadError);
    return err as PluginLoadError;
  }
  throw new Error('expected checkSpec to refuse');
}

describe('checkSpec', () => {
  it('accepts a complete spec, with or without a rate of its own', () => {
    expect(() => checkSpec(good)).not.toThrow();
    expect(() => checkSpec({ ...good, limits: { ...good.limits, requestsPerSecond: 2 } })).not.toThrow();
  });

  it.each([
    ['an id with a space', { id: 'a b' }, 'id must be 1-128 letters, digits, ".", "_" or "-"'],
    ['an id starting with a dot', { id: '.a' }, 'id must be 1-128 letters'],
    ['an id of 129 characters', { id: 'a'.repeat(129) }, 'id must be 1-128 letters'],
    ['an uppercase digest', { digest: 'A'.repeat(64) }, 'digest must be a lowercase sha256 hex string'],
    ['a short digest', { digest: 'a'.repeat(63) }, 'digest must be a lowercase sha256 hex string'],
    ['a component that is not bytes', { component: [0, 97] }, 'component must be a Uint8Array'],
    ['no limits', { limits: undefined }, 'limits are required'],
    [
      'a fractional memoryMb',
      { limits: { ...good.limits, memoryMb: 1.5 } },
      'limits.memoryMb must be an integer from 1 to 4096, got 1.5',
    ],
    [
      'a memoryMb over 4096',
      { limits: { ...good.limits, memoryMb: 4097 } },
      'limits.memoryMb must be an integer from 1 to 4096, got 4097',
    ],
    [
      'a zero callTimeoutMs',
      { limits: { ...good.limits, callTimeoutMs: 0 } },
      'limits.callTimeoutMs must be an integer from 1 to 86400000, got 0',
    ],
    [
      'a maxResponseBytes over 1 GiB',
      { limits: { ...good.limits, maxResponseBytes: 2 ** 30 + 1 } },
      'limits.maxResponseBytes must be an integer from 1 to 1073741824',
    ],
    [
      'a maxConcurrency over 1024',
      { limits: { ...good.limits, maxConcurrency: 1025 } },
      'limits.maxConcurrency must be an integer from 1 to 1024, got 1025',
    ],
    [
      'a rate under the minimum',
      { limits: { ...good.limits, requestsPerSecond: MIN_REQUESTS_PER_SECOND / 2 } },
      `limits.requestsPerSecond must be from ${MIN_REQUESTS_PER_SECOND} to ${MAX_REQUESTS_PER_SECOND}`,
    ],
    [
      'a rate that is not a number',
      { limits: { ...good.limits, requestsPerSecond: '5' } },
      'limits.requestsPerSecond must be from',
    ],
    ['hosts that are not a list', { allowedHosts: 'https://example.com' }, 'allowedHosts must be an array'],
    ['a setting that is not a string', { settings: { page: 2 } }, "setting 'page' must be a string"],
  ])('refuses %s, naming the field', (_, change, message) => {
    const err = refusal({ ...good, ...change });
    expect(err.message).toContain(message);
  });

  it('names the source it refuses', () => {
    expect(refusal({ ...good, digest: 'x' }).message).toContain('demo.source_1');
  });
});

describe('instanceBytes', () => {
  it('counts the memory maximum and the host overhead of one instance', () => {
    expect(instanceBytes(good.limits)).toBe((64 + INSTANCE_OVERHEAD_MB) * MIB);
  });
});
