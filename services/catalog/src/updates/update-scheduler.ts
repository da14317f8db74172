import { randomUUID } from 'node:crypto';
import { PluginCallError, type SourceRunner } from '@awasm/runner-api';
import type { FeedStore } from './feed-store.js';
import type { MediaCacheStore } from './media-cache-store.js';
import { nextDueAt } from './refresh-slots.js';
import { copyStatus, idleStatus, type RefreshStatus, sameWork, type WorkRef } from './refresh-status.js';
import type { TrackedWork, TrackedWorks } from './tracked-works.js';
import { refreshWork, type WorkRefreshDeps } from './work-refresh.js';

export const DEFAULT_UPDATE_INTERVAL_MS = 12 * 60 * 60 * 1000;
export const DEFAULT_PARALLEL_SOURCES = 4;

/** Starts a timer; the returned function cancels it. */
export type SetTimer = (callback: () => void, delayMs: number) => () => void;

const realTimer: SetTimer = (callback, delayMs) => {
  const handle = setTimeout(callback, delayMs);
  handle.unref();
  return () => clearTimeout(handle);
};

export interface UpdateSchedulerOptions {
  runner: Pick<SourceRunner, 'call' | 'health'>;
  works: TrackedWorks;
  cache: MediaCacheStore;
  feed: FeedStore;
  /** each work is refreshed once per interval, ms (default 12 h) */
  intervalMs?: number;
  /** sources refreshed at the same time (default 4); each source refreshes one work at a time */
  parallelSources?: number;
  /** how long each listUnits call may take, ms (default 60 s) */
  callTimeoutMs?: number;
  /** the longest the scheduler sleeps before looking for newly tracked works, ms (default 10 min) */
  rescanMs?: number;
  now?: () => number;
  setTimer?: SetTimer;
  /** where a timer-driven pass's failure (of the stores, not of a source) is reported */
  onError?: (error: unknown) => void;
}

/** Which works `refreshNow` refreshes; unset fields match every work. */
export interface RefreshFilter {
  sourceId?: string;
  mediaId?: string;
  /** also works every follower has completed */
  includeCompleted?: boolean;
  /** only works this user follows (a member's refresh covers their own library) */
  followedBy?: string;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ref(work: WorkRef): WorkRef {
  return { sourceId: work.sourceId, mediaId: work.mediaId };
}

/**
 * Keeps the unit lists of every tracked work fresh: a rolling schedule (each work at its own slot
 * of the interval, see refresh-slots.ts), a few sources in parallel and one work at a time per
 * source, so a source sees one request stream and its HostScheduler rate limit is the only pace.
 * Passes never overlap: a pass asked for while one runs is that running pass.
 */
export class UpdateScheduler {
  private readonly intervalMs: number;
  private readonly parallelSources: number;
  private readonly rescanMs: number;
  private readonly now: () => number;
  private readonly setTimer: SetTimer;
  private readonly deps: WorkRefreshDeps;
  private status: RefreshStatus = idleStatus();
  private pass: Promise<RefreshStatus> | undefined;
  private abort = new AbortController();
  private cancelTimer: (() => void) | undefined;
  private startedAt: number | undefined;
  private stopped = false;

  constructor(private readonly options: UpdateSchedulerOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_UPDATE_INTERVAL_MS;
    this.parallelSources = options.parallelSources ?? DEFAULT_PARALLEL_SOURCES;
    this.rescanMs = options.rescanMs ?? 10 * 60 * 1000;
    if (!Number.isSafeInteger(this.intervalMs) || this.intervalMs <= 0) {
      throw new RangeError(`update interval must be a positive whole number of ms, got ${this.intervalMs}`);
    }
    if (!Number.isSafeInteger(this.parallelSources) || this.parallelSources < 1) {
      throw new RangeError(`parallel sources must be a whole number of at least 1, got ${this.parallelSources}`);
    }
    this.now = options.now ?? Date.now;
    this.setTimer = options.setTimer ?? realTimer;
    this.deps = {
      runner: options.runner,
      cache: options.cache,
      feed: options.feed,
      works: options.works,
      now: this.now,
      callTimeoutMs: options.callTimeoutMs ?? 60_000,
      freshForMs: this.intervalMs,
      requestId: () => `refresh-${randomUUID()}`,
    };
  }

  /** Starts the rolling schedule: the first wake looks for due works right away. */
  start(): void {
    if (this.stopped) throw new Error('the update scheduler was stopped; make a new one');
    if (this.startedAt !== undefined) return;
    this.startedAt = this.now();
    this.wakeIn(0);
  }

  /** Ends the schedule and the running pass: its runner calls are cancelled, its unstarted works skipped. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.abort.abort(new Error('the update scheduler stopped'));
    await this.pass?.catch(() => undefined);
  }

  /** True once stop() was called: refreshNow then rejects. */
  isStopped(): boolean {
    return this.stopped;
  }

  getStatus(): RefreshStatus {
    return copyStatus(this.status);
  }

  /**
   * Refreshes every work `filter` matches now, due or not; resolves with the pass's status when it
   * ends. While a pass runs, this is that pass (passes never overlap).
   */
  refreshNow(filter: RefreshFilter = {}): Promise<RefreshStatus> {
    if (this.stopped) return Promise.reject(new Error('the update scheduler was stopped'));
    if (this.pass) return this.pass;
    return this.runPass(async () => {
      const works = await this.options.works.trackedWorks();
      return works.filter(
        (w) =>
          (filter.sourceId === undefined || w.sourceId === filter.sourceId) &&
          (filter.mediaId === undefined || w.mediaId === filter.mediaId) &&
          (filter.followedBy === undefined || w.followers.some((f) => f.userId === filter.followedBy)),
      );
    }, filter.includeCompleted ?? false);
  }

  private wakeIn(delayMs: number): void {
    this.cancelTimer?.();
    this.cancelTimer = this.setTimer(() => {
      this.cancelTimer = undefined;
      void this.wake();
    }, delayMs);
  }

  /** Refreshes the works that are due, then sleeps until the next one is. */
  private async wake(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.pass) await this.pass;
      else {
        // a wake with nothing due leaves the last pass's status alone
        const due = await this.dueWorks();
        if (due.length > 0 && !this.pass && !this.stopped) await this.runPass(async () => due, false);
      }
    } catch (error) {
      this.options.onError?.(error);
    }
    if (this.stopped) return;
    try {
      this.wakeIn(await this.delayToNextDue());
    } catch (error) {
      this.options.onError?.(error);
      this.wakeIn(this.rescanMs);
    }
  }

  private async dueAt(work: TrackedWork): Promise<number> {
    const cached = await this.options.cache.get(work.sourceId, work.mediaId);
    return nextDueAt(work, cached?.fetchedAt, this.startedAt ?? this.now(), this.intervalMs);
  }

  private async dueWorks(): Promise<TrackedWork[]> {
    const now = this.now();
    const due: TrackedWork[] = [];
    for (const work of await this.options.works.trackedWorks()) {
      if (!work.completed && (await this.dueAt(work)) <= now) due.push(work);
    }
    return due;
  }

  private async delayToNextDue(): Promise<number> {
    const now = this.now();
    let next = now + this.rescanMs;
    for (const work of await this.options.works.trackedWorks()) {
      if (!work.completed) next = Math.min(next, await this.dueAt(work));
    }
    return Math.max(0, next - now);
  }

  private runPass(select: () => Promise<TrackedWork[]>, includeCompleted: boolean): Promise<RefreshStatus> {
    const pass = this.executePass(select, includeCompleted).finally(() => {
      this.pass = undefined;
    });
    this.pass = pass;
    return pass;
  }

  private async executePass(select: () => Promise<TrackedWork[]>, includeCompleted: boolean): Promise<RefreshStatus> {
    this.status = { ...idleStatus(), state: 'running', passStartedAt: this.now() };
    try {
      const works = await select();
      const bySource = new Map<string, TrackedWork[]>();
      for (const work of works) {
        if (work.completed && !includeCompleted) {
          this.status.skipped.push({ ...ref(work), reason: 'every follower has completed it' });
          continue;
        }
        this.status.pending.push(ref(work));
        const queue = bySource.get(work.sourceId) ?? [];
        queue.push(work);
        bySource.set(work.sourceId, queue);
      }
      const sources = [...bySource.entries()];
      const lanes = Array.from({ length: Math.min(this.parallelSources, sources.length) }, async () => {
        for (let next = sources.shift(); next; next = sources.shift()) await this.refreshSource(next[0], next[1]);
      });
      await Promise.all(lanes);
    } finally {
      this.status.state = 'idle';
      this.status.passFinishedAt = this.now();
    }
    return this.getStatus();
  }

  private settle(work: WorkRef, outcome: (status: RefreshStatus) => void): void {
    this.status.pending = this.status.pending.filter((w) => !sameWork(w, work));
    this.status.running = this.status.running.filter((w) => !sameWork(w, work));
    outcome(this.status);
  }

  /** One source's works, one at a time; none when the source is not healthy. */
  private async refreshSource(sourceId: string, works: TrackedWork[]): Promise<void> {
    let unhealthy: string | undefined;
    try {
      const health = await this.options.runner.health(sourceId);
      if (!health) unhealthy = 'the source is not loaded';
      else if (health.state !== 'healthy') {
        unhealthy = `the source is ${health.state}${health.reason ? `: ${health.reason}` : ''}`;
      }
    } catch (error) {
      unhealthy = `the source's health is unknown: ${errorText(error)}`;
    }
    for (const work of works) {
      const skipReason = this.abort.signal.aborted ? 'the update scheduler stopped' : unhealthy;
      if (skipReason) {
        this.settle(work, (s) => s.skipped.push({ ...ref(work), reason: skipReason }));
        continue;
      }
      this.status.pending = this.status.pending.filter((w) => !sameWork(w, work));
      this.status.running.push(ref(work));
      try {
        const result = await refreshWork(this.deps, work, this.abort.signal);
        this.settle(work, (s) => s.done.push({ ...ref(work), ...result }));
      } catch (error) {
        this.settle(work, (s) => s.failed.push({ ...ref(work), reason: errorText(error) }));
        const movedTo = domainMovedTo(error);
        if (movedTo !== undefined) {
          // the whole source moved: its entries wait, orphaned, for the operator to accept the new address
          unhealthy = `the source moved to ${movedTo || 'another address'}`;
          await this.recordMove(sourceId, movedTo);
        }
      }
    }
  }

  private async recordMove(sourceId: string, movedTo: string): Promise<void> {
    try {
      await this.options.works.markOrphaned(sourceId, {
        reason: 'domain_moved',
        ...(movedTo ? { detail: movedTo } : {}),
      });
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}

/** The new address of a source that answered domain-moved; undefined for any other error. */
function domainMovedTo(error: unknown): string | undefined {
  if (!(error instanceof PluginCallError) || error.sourceError?.tag !== 'domain-moved') return undefined;
  const val = error.sourceError.val;
  return typeof val === 'string' ? val : '';
}
