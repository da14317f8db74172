/** One follower of a work: a user whose library has an entry for it. */
export interface Follower {
  userId: string;
  entryId: string;
  /** unix ms, when the user added the entry */
  addedAt: number;
}

/** A (source, media) that at least one user's library follows. */
export interface TrackedWork {
  sourceId: string;
  mediaId: string;
  /** every follower's entry has status completed */
  completed: boolean;
  followers: Follower[];
}

/**
 * What the update scheduler needs of the library: the works to refresh and where to record what a
 * refresh found. The library store implements this shape (structurally).
 */
export interface TrackedWorks {
  /** distinct (source, media) over all users, not orphaned */
  trackedWorks(): Promise<TrackedWork[]>;
  /** Records a work's unit count and newest unit time on its entries; returns how many entries changed. */
  recordUnits(sourceId: string, mediaId: string, unitCount: number, lastUnitAt: number | undefined): Promise<number>;
  /**
   * Marks every entry of a source that answered domain-moved orphaned, so later passes skip it
   * until the operator accepts the new address; returns how many entries changed.
   */
  markOrphaned(sourceId: string, orphaned: MovedSource): Promise<number>;
}

/** What the scheduler records of a source that moved. */
export interface MovedSource {
  reason: 'domain_moved';
  /** the new base address the source gave */
  detail?: string;
}

/** What recordUnits was told, per work. */
export interface RecordedUnits {
  unitCount: number;
  lastUnitAt: number | undefined;
}

/** TrackedWorks over a list kept in memory: for tests, and for a server without a library. */
export class InMemoryTrackedWorks implements TrackedWorks {
  readonly recorded = new Map<string, RecordedUnits>();
  /** what markOrphaned was told, by source id */
  readonly moved = new Map<string, MovedSource>();

  constructor(private works: TrackedWork[] = []) {}

  set(works: TrackedWork[]): void {
    this.works = works;
  }

  async trackedWorks(): Promise<TrackedWork[]> {
    return this.works.map((w) => ({ ...w, followers: w.followers.map((f) => ({ ...f })) }));
  }

  async recordUnits(
    sourceId: string,
    mediaId: string,
    unitCount: number,
    lastUnitAt: number | undefined,
  ): Promise<number> {
    const work = this.works.find((w) => w.sourceId === sourceId && w.mediaId === mediaId);
    if (!work) return 0;
    this.recorded.set(`${sourceId}/${mediaId}`, { unitCount, lastUnitAt });
    return work.followers.length;
  }

  async markOrphaned(sourceId: string, orphaned: MovedSource): Promise<number> {
    this.moved.set(sourceId, orphaned);
    const gone = this.works.filter((w) => w.sourceId === sourceId);
    this.works = this.works.filter((w) => w.sourceId !== sourceId);
    return gone.reduce((entries, w) => entries + w.followers.length, 0);
  }
}
