import { type Collection, type Filter, MongoClient } from 'mongodb';
import {
  decodeFeedCursor,
  encodeFeedCursor,
  type FeedItem,
  type FeedPage,
  type FeedQuery,
  type FeedStore,
  feedItemId,
  type NewFeedItem,
} from './feed-store.js';

interface FeedDoc {
  /** feedItemId of (user, source, media, unit): a second insert of the same unit is the same document */
  _id: string;
  userId: string;
  sourceId: string;
  mediaId: string;
  entryId: string;
  unitId: string;
  unitTitle: string;
  unitNumber?: number;
  foundAt: number;
  read: boolean;
}

function toItem(doc: FeedDoc): FeedItem {
  const { _id, unitNumber, ...rest } = doc;
  return { id: _id, ...rest, ...(unitNumber === undefined || unitNumber === null ? {} : { unitNumber }) };
}

/** Feeds in MongoDB, one document per item; every write touches one document. */
export class MongoFeedStore implements FeedStore {
  private constructor(
    private readonly client: MongoClient,
    private readonly items: Collection<FeedDoc>,
  ) {}

  static async connect(url: string, database = 'awasm'): Promise<MongoFeedStore> {
    const client = new MongoClient(url, { writeConcern: { w: 'majority' }, serverSelectionTimeoutMS: 10_000 });
    await client.connect();
    const items = client.db(database).collection<FeedDoc>('feed_items');
    await items.createIndex({ userId: 1, foundAt: -1, _id: -1 });
    return new MongoFeedStore(client, items);
  }

  async add(items: NewFeedItem[]): Promise<number> {
    let added = 0;
    for (const item of items) {
      const { unitNumber, ...rest } = item;
      const doc: FeedDoc = {
        _id: feedItemId(item),
        ...rest,
        ...(unitNumber === undefined ? {} : { unitNumber }),
        read: false,
      };
      // an idempotent upsert: an existing item (maybe read already) is left as it is
      const result = await this.items.updateOne({ _id: doc._id }, { $setOnInsert: doc }, { upsert: true });
      added += result.upsertedCount;
    }
    return added;
  }

  async list(userId: string, query: FeedQuery): Promise<FeedPage> {
    const after = query.cursor === undefined ? undefined : decodeFeedCursor(query.cursor);
    const filter: Filter<FeedDoc> = { userId };
    if (query.unreadOnly) filter.read = false;
    if (after) {
      filter.$or = [{ foundAt: { $lt: after.foundAt } }, { foundAt: after.foundAt, _id: { $lt: after.id } }];
    }
    const docs = await this.items
      .find(filter)
      .sort({ foundAt: -1, _id: -1 })
      .limit(query.limit + 1)
      .toArray();
    const items = docs.slice(0, query.limit).map(toItem);
    const last = items.at(-1);
    return docs.length > query.limit && last ? { items, nextCursor: encodeFeedCursor(last) } : { items };
  }

  async markRead(userId: string, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return (await this.items.updateMany({ userId, _id: { $in: ids }, read: false }, { $set: { read: true } }))
      .modifiedCount;
  }

  async markAllRead(userId: string): Promise<number> {
    return (await this.items.updateMany({ userId, read: false }, { $set: { read: true } })).modifiedCount;
  }

  async removeUser(userId: string): Promise<number> {
    return (await this.items.deleteMany({ userId })).deletedCount;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
