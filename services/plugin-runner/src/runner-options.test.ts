import { describe, expect, it } from 'vitest';
import { MAX_SPIN_WAIT_MICROS, POOL_DEFAULTS, runnerLimits } from './runner-options.js';
import { MIB } from './source-spec.js';

describe('runnerLimits', () => {
  it('fills in the defaults', () => {
    const limits = runnerLimits({ cacheDir: '/unused' });
    expect(limits).toMatchObject({
      maxInstances: POOL_DEFAULTS.maxInstances,
      memoryBudgetBytes: POOL_DEFAULTS.memoryBudgetMb * MIB,
      spareWorkers: POOL_DEFAULTS.spareWorkers,
      spinWaitMicros: POOL_DEFAULTS.spinWaitMicros,
      maxTableEntries: POOL_DEFAULTS.maxTableEntries,
      instancesPerSource: POOL_DEFAULTS.instancesPerSource,
      recycleAfterCalls: POOL_DEFAULTS.recycleAfterCalls,
      idleTimeoutMs: POOL_DEFAULTS.idleTimeoutMs,
    });
    expect(limits.connectTo.size).toBe(0);
  });

  it('keeps the values given, 0 spares and no spinning included', () => {
    const limits = runnerLimits({
      cacheDir: '/unused',
      maxInstances: 3,
      memoryBudgetMb: 100,
      spareWorkers: 0,
      spinWaitMicros: 0,
      connectTo: { 'example.com:443': '127.0.0.1:8443' },
    });
    expect(limits).toMatchObject({ maxInstances: 3, memoryBudgetBytes: 100 * MIB, spareWorkers: 0, spinWaitMicros: 0 });
    expect(limits.connectTo.get('example.com:443')).toEqual({ host: '127.0.0.1', port: 8443 });
  });

  it.each([
    [{ maxInstances: 0 }, 'RunnerOptions.maxInstances must be a positive integer, got 0'],
    [{ memoryBudgetMb: 1.5 }, 'RunnerOptions.memoryBudgetMb must be a positive integer, got 1.5'],
    [{ instancesPerSource: -1 }, 'RunnerOptions.instancesPerSource must be a positive integer, got -1'],
    [{ recycleAfterCalls: 0 }, 'RunnerOptions.recycleAfterCalls must be a positive integer, got 0'],
    [{ idleTimeoutMs: 0.5 }, 'RunnerOptions.idleTimeoutMs must be a positive integer, got 0.5'],
    [{ maxTableEntries: 0 }, 'RunnerOptions.maxTableEntries must be a positive integer, got 0'],
    [{ spareWorkers: 17 }, 'RunnerOptions.spareWorkers must be a whole number from 0 to 16, got 17'],
    [
      { spinWaitMicros: MAX_SPIN_WAIT_MICROS + 1 },
      `RunnerOptions.spinWaitMicros must be a whole number from 0 to ${MAX_SPIN_WAIT_MICROS}, got ${MAX_SPIN_WAIT_MICROS + 1}`,
    ],
    [{ connectTo: { 'example.com': '127.0.0.1:1' } }, "connectTo entry 'example.com' -> '127.0.0.1:1'"],
  ])('refuses %j, naming the option', (change, message) => {
    expect(() => runnerLimits({ cacheDir: '/unused', ...change })).toThrow(message);
  });
});
