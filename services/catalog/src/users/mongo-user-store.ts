import { type Collection, MongoClient, MongoServerError } from 'mongodb';
import type { ApiKeyRecord, UserRecord, UserRole, UserStore } from './user-store.js';

interface UserDoc {
  _id: string;
  name: string;
  role: UserRole;
  passwordHash?: string;
  createdAt: Date;
}

interface KeyDoc {
  _id: string;
  userId: string;
  name: string;
  keyHash: string;
  createdAt: Date;
  lastUsedAt?: Date;
  revoked: boolean;
}

function toUser({ _id, ...rest }: UserDoc): UserRecord {
  return { id: _id, ...rest };
}

function toKey({ _id, ...rest }: KeyDoc): ApiKeyRecord {
  return { id: _id, ...rest };
}

/** Users and API keys in MongoDB: one document per user and per key, unique indexes on name and hash. */
export class MongoUserStore implements UserStore {
  private constructor(
    private readonly client: MongoClient,
    private readonly users: Collection<UserDoc>,
    private readonly keys: Collection<KeyDoc>,
  ) {}

  static async connect(url: string, database = 'awasm'): Promise<MongoUserStore> {
    const client = new MongoClient(url, { writeConcern: { w: 'majority' }, serverSelectionTimeoutMS: 10_000 });
    await client.connect();
    const db = client.db(database);
    const users = db.collection<UserDoc>('users');
    const keys = db.collection<KeyDoc>('api_keys');
    await users.createIndex({ name: 1 }, { unique: true });
    await keys.createIndex({ keyHash: 1 }, { unique: true });
    await keys.createIndex({ userId: 1, createdAt: 1 });
    return new MongoUserStore(client, users, keys);
  }

  async addUser(user: UserRecord): Promise<boolean> {
    const { id, ...rest } = user;
    try {
      await this.users.insertOne({ _id: id, ...rest });
      return true;
    } catch (error) {
      if (error instanceof MongoServerError && error.code === 11000) return false;
      throw error;
    }
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const doc = await this.users.findOne({ _id: id });
    return doc ? toUser(doc) : undefined;
  }

  async getUserByName(name: string): Promise<UserRecord | undefined> {
    const doc = await this.users.findOne({ name });
    return doc ? toUser(doc) : undefined;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.users.find().sort({ name: 1 }).toArray()).map(toUser);
  }

  async countUsers(): Promise<number> {
    return this.users.countDocuments();
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<boolean> {
    return (await this.users.updateOne({ _id: id }, { $set: { passwordHash } })).matchedCount > 0;
  }

  async removeUser(id: string): Promise<boolean> {
    // keys first: a crash in between leaves a user without keys, never keys without a user
    await this.keys.deleteMany({ userId: id });
    return (await this.users.deleteOne({ _id: id })).deletedCount > 0;
  }

  async addKey(key: ApiKeyRecord): Promise<void> {
    const { id, ...rest } = key;
    await this.keys.insertOne({ _id: id, ...rest });
  }

  async getKey(id: string): Promise<ApiKeyRecord | undefined> {
    const doc = await this.keys.findOne({ _id: id });
    return doc ? toKey(doc) : undefined;
  }

  async getKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const doc = await this.keys.findOne({ keyHash });
    return doc ? toKey(doc) : undefined;
  }

  async listKeys(userId: string): Promise<ApiKeyRecord[]> {
    return (await this.keys.find({ userId }).sort({ createdAt: 1, _id: 1 }).toArray()).map(toKey);
  }

  async revokeKey(id: string): Promise<boolean> {
    return (await this.keys.updateOne({ _id: id }, { $set: { revoked: true } })).matchedCount > 0;
  }

  async revokeKeysOf(userId: string): Promise<number> {
    return (await this.keys.updateMany({ userId, revoked: false }, { $set: { revoked: true } })).modifiedCount;
  }

  async recordKeyUse(id: string, at: Date): Promise<void> {
    await this.keys.updateOne({ _id: id }, { $set: { lastUsedAt: at } });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
