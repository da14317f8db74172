import {
  PluginCallError,
  type SourceCall,
  type SourceCallOptions,
  type SourceHealth,
  type SourceOp,
} from '@awasm/runner-api';
import { type UnitPage, UnitPageSchema } from '@awasm/shared/gen/awasm/internal/v1/runner_pb.js';
import { MediaKind, MediaSchema, UnitSchema } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';

export interface FakeMedia {
  title: string;
  kind?: MediaKind;
  coverUrl?: string;
}

export interface FakeUnit {
  id: string;
  title?: string;
  number?: number;
  publishedAt?: number;
}

/**
 * A SourceRunner for scheduler and library tests: getMedia serves each work's metadata and
 * listUnits its units from memory in pages of `pageSize`, counts calls and the most calls in flight (overall and per source), and can hold
 * calls until released or fail a work.
 */
export class FakeSourceRunner {
  readonly media = new Map<string, FakeMedia>();
  readonly units = new Map<string, FakeUnit[]>();
  readonly failing = new Map<string, string>();
  readonly healthOf = new Map<string, SourceHealth | undefined>();
  readonly calls: SourceCall[] = [];
  maxInFlight = 0;
  maxInFlightPerSource = 0;
  /** when set, every call waits for this before answering */
  gate: Promise<void> | undefined;
  private inFlight = 0;
  private readonly inFlightBySource = new Map<string, number>();

  constructor(private readonly pageSize = 2) {}

  setMedia(sourceId: string, mediaId: string, media: FakeMedia): void {
    this.media.set(`${sourceId}/${mediaId}`, media);
  }

  setUnits(sourceId: string, mediaId: string, units: FakeUnit[]): void {
    this.units.set(`${sourceId}/${mediaId}`, units);
  }

  async health(sourceId: string): Promise<SourceHealth | undefined> {
    if (this.healthOf.has(sourceId)) return this.healthOf.get(sourceId);
    return { state: 'healthy', reason: '', since: 0, consecutiveFailures: 0 };
  }

  async call<Op extends SourceOp>(call: SourceCall<Op>, options: SourceCallOptions = {}): Promise<never> {
    this.calls.push(call);
    if (call.op === 'getMedia') return this.getMedia(call.sourceId, (call.args as { mediaId: string }).mediaId);
    if (call.op !== 'listUnits') throw new Error(`the fake runner only answers getMedia and listUnits, not ${call.op}`);
    const args = call.args as { mediaId: string; cursor?: string };
    const key = `${call.sourceId}/${args.mediaId}`;
    const bySource = (this.inFlightBySource.get(call.sourceId) ?? 0) + 1;
    this.inFlightBySource.set(call.sourceId, bySource);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.maxInFlightPerSource = Math.max(this.maxInFlightPerSource, bySource);
    try {
      // answer on a later turn, so calls of other sources can overlap this one
      await new Promise((resolve) => setImmediate(resolve));
      if (this.gate) {
        const signal = options.signal;
        await Promise.race([
          this.gate,
          new Promise((_, reject) => {
            const cancel = () => reject(new PluginCallError('cancelled', call.sourceId, 'cancelled'));
            if (signal?.aborted) cancel();
            else signal?.addEventListener('abort', cancel, { once: true });
          }),
        ]);
      }
      const failure = this.failing.get(key);
      if (failure) throw new PluginCallError('source-error', call.sourceId, failure);
      const all = this.units.get(key);
      if (!all) throw new PluginCallError('source-error', call.sourceId, `not found: ${args.mediaId}`);
      const start = args.cursor ? Number(args.cursor) : 0;
      const end = start + this.pageSize;
      const page: UnitPage = create(UnitPageSchema, {
        items: all.slice(start, end).map((u) =>
          create(UnitSchema, {
            id: u.id,
            mediaId: args.mediaId,
            title: u.title ?? `Unit ${u.id}`,
            ...(u.number === undefined ? {} : { number: u.number }),
            ...(u.publishedAt === undefined ? {} : { publishedAt: timestampFromMs(u.publishedAt) }),
          }),
        ),
        nextCursor: end < all.length ? String(end) : '',
      });
      return page as never;
    } finally {
      this.inFlight -= 1;
      this.inFlightBySource.set(call.sourceId, (this.inFlightBySource.get(call.sourceId) ?? 1) - 1);
    }
  }

  private async getMedia(sourceId: string, mediaId: string): Promise<never> {
    await new Promise((resolve) => setImmediate(resolve));
    const key = `${sourceId}/${mediaId}`;
    const failure = this.failing.get(key);
    if (failure) throw new PluginCallError('source-error', sourceId, failure, { tag: 'network', val: failure });
    const media = this.media.get(key);
    if (!media) throw new PluginCallError('source-error', sourceId, `not found: ${mediaId}`, { tag: 'not-found' });
    return create(MediaSchema, {
      sourceId,
      id: mediaId,
      title: media.title,
      kind: media.kind ?? MediaKind.MANGA,
      coverUrl: media.coverUrl ?? '',
    }) as never;
  }
}
