/** A work the scheduler refreshes. */
export interface WorkRef {
  sourceId: string;
  mediaId: string;
}

export interface RefreshedWork extends WorkRef {
  /** units the refresh saw for the first time (0 on a work's first refresh, which only seeds the cache) */
  newUnits: number;
  /** feed items it added over all followers */
  feedItems: number;
}

export interface FailedWork extends WorkRef {
  /** the source's error text */
  reason: string;
}

export interface SkippedWork extends WorkRef {
  /** e.g. the source's health, or that every follower completed the work */
  reason: string;
}

/** What the current (or the last) pass is doing; a copy, safe to hand out. */
export interface RefreshStatus {
  state: 'idle' | 'running';
  /** unix ms; undefined before the first pass */
  passStartedAt?: number;
  /** unix ms; undefined while the pass runs and before the first */
  passFinishedAt?: number;
  pending: WorkRef[];
  running: WorkRef[];
  done: RefreshedWork[];
  failed: FailedWork[];
  skipped: SkippedWork[];
}

export function idleStatus(): RefreshStatus {
  return { state: 'idle', pending: [], running: [], done: [], failed: [], skipped: [] };
}

export function copyStatus(status: RefreshStatus): RefreshStatus {
  return {
    ...status,
    pending: status.pending.map((w) => ({ ...w })),
    running: status.running.map((w) => ({ ...w })),
    done: status.done.map((w) => ({ ...w })),
    failed: status.failed.map((w) => ({ ...w })),
    skipped: status.skipped.map((w) => ({ ...w })),
  };
}

export function sameWork(a: WorkRef, b: WorkRef): boolean {
  return a.sourceId === b.sourceId && a.mediaId === b.mediaId;
}
