import { createHash } from 'node:crypto';
import { sha256Hex } from '@awasm/shared';
import { type Collection, type Db, GridFSBucket, MongoClient, MongoServerError } from 'mongodb';
import { checkNewVersion, type RegistryIndexStore, type TrustedKey, type VersionRecord } from './index-store.js';
import { assertDigest, PackageIntegrityError, type PackageStore } from './package-store.js';

/** The distributed registry's storage: one client, the index and the packages in one database. */
export class MongoRegistryStorage {
  private constructor(
    private readonly client: MongoClient,
    readonly db: Db,
    readonly index: MongoIndexStore,
    readonly packages: GridFsPackageStore,
  ) {}

  static async connect(url: string, database = 'awasm-registry'): Promise<MongoRegistryStorage> {
    const client = new MongoClient(url, { writeConcern: { w: 'majority' }, serverSelectionTimeoutMS: 10_000 });
    await client.connect();
    const db = client.db(database);
    return new MongoRegistryStorage(client, db, new MongoIndexStore(db), new GridFsPackageStore(db));
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** All published versions of one plugin in one document, changed by compare-and-set on `rev`. */
interface PluginDoc {
  _id: string;
  rev: number;
  versions: VersionRecord[];
}

type KeyDoc = Omit<TrustedKey, 'keyId'> & { _id: string };

const MAX_ATTEMPTS = 50;

/**
 * RegistryIndexStore in MongoDB. A plugin's versions live in one document, so the version rules
 * (checkNewVersion) and the write are atomic per plugin without transactions: a writer that lost a
 * race sees `rev` moved on and tries again against the new state.
 */
export class MongoIndexStore implements RegistryIndexStore {
  private readonly plugins: Collection<PluginDoc>;
  private readonly trusted: Collection<KeyDoc>;

  constructor(db: Db) {
    this.plugins = db.collection<PluginDoc>('registry_plugins');
    this.trusted = db.collection<KeyDoc>('registry_keys');
  }

  /** Applies `change` to the plugin's current versions until it wins the compare-and-set. */
  private async update<T>(
    pluginId: string,
    change: (versions: VersionRecord[]) => { result: T; versions?: VersionRecord[] },
  ): Promise<T> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const doc = await this.plugins.findOne({ _id: pluginId });
      const { result, versions } = change(structuredClone(doc?.versions ?? []));
      if (!versions) return result;
      try {
        if (!doc) {
          await this.plugins.insertOne({ _id: pluginId, rev: 1, versions });
          return result;
        }
        const { matchedCount } = await this.plugins.updateOne(
          { _id: pluginId, rev: doc.rev },
          { $set: { versions, rev: doc.rev + 1 } },
        );
        if (matchedCount === 1) return result;
      } catch (error) {
        // another writer inserted the plugin's first version at the same time
        if (!(error instanceof MongoServerError && error.code === 11000)) throw error;
      }
    }
    throw new Error(`index of plugin '${pluginId}' is changing too fast; gave up after ${MAX_ATTEMPTS} attempts`);
  }

  async versions(): Promise<VersionRecord[]> {
    const docs = await this.plugins.find().sort({ _id: 1 }).toArray();
    return docs.flatMap((d) => d.versions);
  }

  async version(pluginId: string, version: string): Promise<VersionRecord | undefined> {
    const doc = await this.plugins.findOne({ _id: pluginId });
    return doc?.versions.find((v) => v.version === version);
  }

  async byDigest(packageSha256: string): Promise<VersionRecord | undefined> {
    const doc = await this.plugins.findOne({ 'versions.packageSha256': packageSha256 });
    return doc?.versions.find((v) => v.packageSha256 === packageSha256);
  }

  addVersion(record: VersionRecord): Promise<VersionRecord> {
    return this.update(record.pluginId, (versions) => {
      const same = checkNewVersion(versions, record);
      return same ? { result: same } : { result: record, versions: [...versions, record] };
    });
  }

  setYanked(pluginId: string, version: string, yanked: boolean, reason?: string): Promise<VersionRecord | undefined> {
    return this.update(pluginId, (versions) => {
      const record = versions.find((v) => v.version === version);
      if (!record) return { result: undefined };
      record.yanked = yanked;
      if (yanked && reason) record.yankReason = reason;
      else delete record.yankReason;
      return { result: record, versions };
    });
  }

  async keys(): Promise<TrustedKey[]> {
    return (await this.trusted.find().sort({ _id: 1 }).toArray()).map(({ _id, ...key }) => ({ keyId: _id, ...key }));
  }

  async key(keyId: string): Promise<TrustedKey | undefined> {
    const doc = await this.trusted.findOne({ _id: keyId });
    if (!doc) return undefined;
    const { _id, ...key } = doc;
    return { keyId: _id, ...key };
  }

  async putKey(key: TrustedKey): Promise<TrustedKey> {
    const { keyId, ...rest } = key;
    await this.trusted.replaceOne({ _id: keyId }, rest, { upsert: true });
    return key;
  }

  async removeKey(keyId: string): Promise<boolean> {
    return (await this.trusted.deleteOne({ _id: keyId })).deletedCount > 0;
  }
}

/**
 * PackageStore in GridFS: each package is a GridFS file named by its sha256, written once; a read
 * hashes the bytes again and refuses them if they no longer match their name.
 */
export class GridFsPackageStore implements PackageStore {
  private readonly bucket: GridFSBucket;

  constructor(db: Db) {
    this.bucket = new GridFSBucket(db, { bucketName: 'packages' });
  }

  async put(bytes: Uint8Array): Promise<string> {
    const digest = sha256Hex(bytes);
    if (await this.bucket.find({ filename: digest }).hasNext()) return digest;
    await new Promise<void>((resolve, reject) => {
      const upload = this.bucket.openUploadStream(digest);
      upload.once('finish', () => resolve());
      upload.once('error', reject);
      upload.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    });
    return digest;
  }

  async get(digest: string): Promise<Uint8Array | undefined> {
    assertDigest(digest);
    const file = await this.bucket.find({ filename: digest }).sort({ uploadDate: 1 }).limit(1).next();
    if (!file) return undefined;
    const chunks: Buffer[] = [];
    const hash = createHash('sha256');
    for await (const chunk of this.bucket.openDownloadStream(file._id)) {
      chunks.push(chunk as Buffer);
      hash.update(chunk as Buffer);
    }
    const actual = hash.digest('hex');
    if (actual !== digest) throw new PackageIntegrityError(digest, actual);
    return new Uint8Array(Buffer.concat(chunks));
  }

  async delete(digest: string): Promise<void> {
    assertDigest(digest);
    for (const file of await this.bucket.find({ filename: digest }).toArray()) await this.bucket.delete(file._id);
  }
}
