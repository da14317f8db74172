/** One unit of a work as the cache remembers it. */
export interface CachedUnit {
  unitId: string;
  title: string;
  number?: number;
  /** volume or season */
  group?: number;
  /** unix ms, when the source says it was published */
  publishedAt?: number;
  /** unix ms, when a refresh first saw this unit; what decides whether it is news to a follower */
  firstSeenAt: number;
}

/** What the server knows of one (source, media), shared by every user who follows it. */
export interface CachedMedia {
  sourceId: string;
  mediaId: string;
  /** the source's Media message (protobuf binary), when it was fetched */
  media?: Uint8Array;
  /** in the source's order */
  units: CachedUnit[];
  /** unix ms of the last successful refresh */
  fetchedAt: number;
  /** unix ms until which the entry counts as fresh */
  freshUntil: number;
}

/**
 * The shared media cache: one entry per (source, media) for all users. SQLite in embedded mode,
 * MongoDB in distributed mode, behind the same contract tests.
 */
export interface MediaCacheStore {
  get(sourceId: string, mediaId: string): Promise<CachedMedia | undefined>;
  /** Replaces the entry of (sourceId, mediaId), or creates it. */
  put(entry: CachedMedia): Promise<void>;
  close(): Promise<void>;
}
