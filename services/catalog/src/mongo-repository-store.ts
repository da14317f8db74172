import { type Collection, MongoClient, MongoServerError } from 'mongodb';
import type { RepositoryRecord, RepositoryStore } from './repository-store.js';

interface RepositoryDoc {
  _id: string;
  url: string;
  kind: 'grpc' | 'static';
  trustedKeyIds: string[];
  addedAt: Date;
}

function toRecord(doc: RepositoryDoc): RepositoryRecord {
  const { _id, ...rest } = doc;
  return { name: _id, ...rest, trustedKeyIds: [...rest.trustedKeyIds] };
}

/** Repositories in MongoDB (or any MongoDB-wire server), one document per repository keyed by name. */
export class MongoRepositoryStore implements RepositoryStore {
  private constructor(
    private readonly client: MongoClient,
    private readonly repositories: Collection<RepositoryDoc>,
  ) {}

  static async connect(url: string, database = 'awasm'): Promise<MongoRepositoryStore> {
    const client = new MongoClient(url, { writeConcern: { w: 'majority' }, serverSelectionTimeoutMS: 10_000 });
    await client.connect();
    return new MongoRepositoryStore(client, client.db(database).collection<RepositoryDoc>('repositories'));
  }

  async list(): Promise<RepositoryRecord[]> {
    return (await this.repositories.find().sort({ _id: 1 }).toArray()).map(toRecord);
  }

  async get(name: string): Promise<RepositoryRecord | undefined> {
    const doc = await this.repositories.findOne({ _id: name });
    return doc ? toRecord(doc) : undefined;
  }

  async add(r: RepositoryRecord): Promise<boolean> {
    try {
      await this.repositories.insertOne({
        _id: r.name,
        url: r.url,
        kind: r.kind,
        trustedKeyIds: [...r.trustedKeyIds],
        addedAt: r.addedAt,
      });
      return true;
    } catch (error) {
      if (error instanceof MongoServerError && error.code === 11000) return false;
      throw error;
    }
  }

  async setTrustedKeys(name: string, keyIds: string[]): Promise<RepositoryRecord | undefined> {
    await this.repositories.updateOne({ _id: name }, { $set: { trustedKeyIds: [...keyIds] } });
    return this.get(name);
  }

  async remove(name: string): Promise<boolean> {
    return (await this.repositories.deleteOne({ _id: name })).deletedCount > 0;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
