import type { LocalSourceRunner, RunnerPool } from '@awasm/plugin-runner';

/** One unit as the fixture site lists it. */
export interface SiteUnit {
  id: string;
  title: string;
  number?: number;
  publishedAt?: number;
}

/**
 * The update tests' (and the catalog benchmark's) fixture site and sources: `count` sources built
 * from test/support/plugins/feed, each on its own host (feed-0.awasm.test, ...) at
 * `requestsPerSecond`. The site serves each work's units as the caller sets them and records when
 * each host was asked (performance.now() ms).
 */
export interface FeedSite {
  sourceIds: string[];
  /** the loopback fixture site: its URL and port */
  site: { url: string; port: number };
  /** the package file of each source, by source id (for installing them into a server) */
  packages: Map<string, Uint8Array>;
  /** connectTo entries that send each source's host to the site */
  connectTo: Record<string, string>;
  setUnits(sourceId: string, mediaId: string, units: SiteUnit[]): void;
  /** request times per source id, in arrival order */
  hits: Map<string, number[]>;
  close(): Promise<void>;
}

/** The sources in the real sandbox of a RunnerPool of their own, besides their site. */
export interface FeedSources extends FeedSite {
  runner: LocalSourceRunner;
  pool: RunnerPool;
}

/** The site and the sources' package files only, for a server that installs them itself. */
export function startFeedSite(options: { count: number; requestsPerSecond: number }): Promise<FeedSite>;

export function startFeedSources(options: {
  count: number;
  requestsPerSecond: number;
  cacheDir: string;
}): Promise<FeedSources>;

/**
 * The most requests any window of the (sorted) arrival times held beyond what a GCRA limit of
 * `requestsPerSecond` with a burst of floor(requestsPerSecond) allows: 0 or less means the limit
 * held. Two requests released one interval apart may arrive up to `jitterMs` closer together.
 */
export function rateLimitExcess(times: number[], requestsPerSecond: number, jitterMs?: number): number;
