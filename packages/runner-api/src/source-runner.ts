/**
 * The runner seam: what a gateway asks of whatever runs plugins, in this process (LocalSourceRunner)
 * or behind a queue. Everything crosses as plain data or protobuf messages (no bigint, no jco values)
 * and deadlines are absolute, so a call can wait in a queue and still know its time is up.
 */

import type { AssetList, FilterList, MediaPage, UnitPage } from '@awasm/shared/gen/awasm/internal/v1/runner_pb.js';
import type { Media } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import type { SourceOp, SourceOpArgs } from './ops.js';
import type { SourceHealth } from './source-health.js';

/** Where a runner gets packages from: the package store, by sha256 of the package file. */
export interface PackageSource {
  get(digest: string): Promise<Uint8Array | undefined>;
}

/** Loads (or replaces) a source from the package store; `settings` are the operator's values. */
export interface LoadRequest {
  sourceId: string;
  /** sha256 hex of the package file */
  packageDigest: string;
  settings: Record<string, string>;
}

/** Each operation's result, as awasm.internal.v1 carries it in a CallReply. */
export interface SourceOpResults {
  search: MediaPage;
  list: MediaPage;
  getMedia: Media;
  listUnits: UnitPage;
  getAssets: AssetList;
  filters: FilterList;
}

/** One plugin call (awasm.internal.v1.CallJob). */
export interface SourceCall<Op extends SourceOp = SourceOp> {
  sourceId: string;
  op: Op;
  args: SourceOpArgs[Op];
  /** absolute deadline, unix ms; undefined: the source's own call timeout */
  deadline?: number;
  /** unique per call, chosen by the caller; logs and cancellation name it */
  requestId: string;
}

export interface SourceCallOptions {
  /** cancels the call: a queued one is dropped, a running one stopped */
  signal?: AbortSignal;
}

/**
 * Runs sources for a gateway. `call` resolves with the converted, validated result or rejects with a
 * PluginCallError ({kind, sourceError?, message}); arguments are checked once, here, not by callers.
 * `load` rejects with a PluginLoadError naming what is wrong with the package.
 */
export interface SourceRunner {
  load(request: LoadRequest): Promise<void>;
  unload(sourceId: string): Promise<void>;
  /** replaces a loaded source's settings (the operator's values; the manifest's defaults fill the rest) */
  setSettings(sourceId: string, settings: Record<string, string>): Promise<void>;
  /** a loaded source's health; undefined when it is not loaded */
  health(sourceId: string): Promise<SourceHealth | undefined>;
  call<Op extends SourceOp>(call: SourceCall<Op>, options?: SourceCallOptions): Promise<SourceOpResults[Op]>;
}
