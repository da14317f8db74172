import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Cores a container's CPU quota allows, from the cgroup files' text: v2 `cpu.max` ("max 100000" or
 * "<quota> <period>"), else v1 `cpu.cfs_quota_us` (-1: none) and `cpu.cfs_period_us`. Undefined
 * when there is no quota or the text is not understood.
 */
export function coresFromCgroup(files: { cpuMax?: string; cfsQuota?: string; cfsPeriod?: string }): number | undefined {
  const v2 = files.cpuMax?.trim().match(/^(\d+|max)\s+(\d+)$/);
  if (v2) return v2[1] === 'max' ? undefined : ratio(Number(v2[1]), Number(v2[2]));
  const quota = Number(files.cfsQuota?.trim());
  const period = Number(files.cfsPeriod?.trim());
  if (!Number.isInteger(quota) || quota <= 0) return undefined;
  return ratio(quota, period);
}

function ratio(quota: number, period: number): number | undefined {
  return Number.isFinite(quota) && Number.isFinite(period) && quota > 0 && period > 0 ? quota / period : undefined;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Cores this process may use: Node's availableParallelism() (CPU affinity), lowered to a container's
 * CPU quota, which Node 20 does not see. Whole cores only, at least 1.
 */
export function usableCores(): number {
  const quota = coresFromCgroup({
    cpuMax: readOptional('/sys/fs/cgroup/cpu.max'),
    cfsQuota: readOptional('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'),
    cfsPeriod: readOptional('/sys/fs/cgroup/cpu/cpu.cfs_period_us'),
  });
  const cores = availableParallelism();
  return quota === undefined ? cores : Math.max(1, Math.min(cores, Math.floor(quota)));
}
