import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { coresFromCgroup, usableCores } from './cpu-quota.js';

describe('CPU quota', () => {
  it('reads cgroup v2 cpu.max and v1 cfs quota and period', () => {
    expect(coresFromCgroup({ cpuMax: '200000 100000\n' })).toBe(2);
    expect(coresFromCgroup({ cpuMax: '50000 100000' })).toBe(0.5);
    expect(coresFromCgroup({ cpuMax: 'max 100000\n' })).toBeUndefined();
    expect(coresFromCgroup({ cfsQuota: '150000\n', cfsPeriod: '100000\n' })).toBe(1.5);
    expect(coresFromCgroup({ cfsQuota: '-1\n', cfsPeriod: '100000\n' })).toBeUndefined();
  });

  it('gives no quota for missing or malformed files', () => {
    expect(coresFromCgroup({})).toBeUndefined();
    expect(coresFromCgroup({ cpuMax: 'garbage' })).toBeUndefined();
    expect(coresFromCgroup({ cfsQuota: '100000', cfsPeriod: '0' })).toBeUndefined();
    expect(coresFromCgroup({ cfsQuota: 'x', cfsPeriod: '100000' })).toBeUndefined();
  });

  it('never counts more cores than Node sees, nor fewer than one', () => {
    const cores = usableCores();
    expect(cores).toBeGreaterThanOrEqual(1);
    expect(cores).toBeLessThanOrEqual(availableParallelism());
  });
});
