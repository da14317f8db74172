import { Binary, type Collection, MongoClient } from 'mongodb';
import type { CachedMedia, CachedUnit, MediaCacheStore } from './media-cache-store.js';

interface MediaCacheDoc {
  /** sourceId and mediaId joined by a NUL, which neither may contain */
  _id: string;
  sourceId: string;
  mediaId: string;
  media?: Binary;
  units: CachedUnit[];
  fetchedAt: number;
  freshUntil: number;
}

function keyOf(sourceId: string, mediaId: string): string {
  return `${sourceId}\u0000${mediaId}`;
}

function toEntry(doc: MediaCacheDoc): CachedMedia {
  return {
    sourceId: doc.sourceId,
    mediaId: doc.mediaId,
    ...(doc.media ? { media: new Uint8Array(doc.media.buffer) } : {}),
    // documents carry no undefined fields: rebuild each unit without the absent ones
    units: doc.units.map((u) => ({
      unitId: u.unitId,
      title: u.title,
      ...(u.number === undefined || u.number === null ? {} : { number: u.number }),
      ...(u.group === undefined || u.group === null ? {} : { group: u.group }),
      ...(u.publishedAt === undefined || u.publishedAt === null ? {} : { publishedAt: u.publishedAt }),
      firstSeenAt: u.firstSeenAt,
    })),
    fetchedAt: doc.fetchedAt,
    freshUntil: doc.freshUntil,
  };
}

/** The media cache in MongoDB, one document per (source, media), replaced whole by each refresh. */
export class MongoMediaCacheStore implements MediaCacheStore {
  private constructor(
    private readonly client: MongoClient,
    private readonly entries: Collection<MediaCacheDoc>,
  ) {}

  static async connect(url: string, database = 'awasm'): Promise<MongoMediaCacheStore> {
    const client = new MongoClient(url, { writeConcern: { w: 'majority' }, serverSelectionTimeoutMS: 10_000 });
    await client.connect();
    return new MongoMediaCacheStore(client, client.db(database).collection<MediaCacheDoc>('media_cache'));
  }

  async get(sourceId: string, mediaId: string): Promise<CachedMedia | undefined> {
    const doc = await this.entries.findOne({ _id: keyOf(sourceId, mediaId) });
    return doc ? toEntry(doc) : undefined;
  }

  async put(entry: CachedMedia): Promise<void> {
    const doc: MediaCacheDoc = {
      _id: keyOf(entry.sourceId, entry.mediaId),
      sourceId: entry.sourceId,
      mediaId: entry.mediaId,
      ...(entry.media ? { media: new Binary(entry.media) } : {}),
      units: entry.units,
      fetchedAt: entry.fetchedAt,
      freshUntil: entry.freshUntil,
    };
    await this.entries.replaceOne({ _id: doc._id }, doc, { upsert: true });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
