import { afterAll, beforeAll } from 'vitest';
import { type FerretDb, startFerretDb } from '../../../test/support/ferretdb.js';
import { indexStoreContract } from './index-store.contract.js';
import { MongoRegistryStorage } from './mongo-registry.js';
import { packageStoreContract } from './package-store.contract.js';

let server: FerretDb;
const opened: MongoRegistryStorage[] = [];
let n = 0;

beforeAll(async () => {
  server = await startFerretDb();
});
afterAll(async () => {
  for (const storage of opened) await storage.close();
  await server?.stop();
});

async function fresh(): Promise<MongoRegistryStorage> {
  const storage = await MongoRegistryStorage.connect(server.url, `awasm-registry-${n++}`);
  opened.push(storage);
  return storage;
}

indexStoreContract('MongoDB wire (FerretDB)', async () => (await fresh()).index);

let shared: MongoRegistryStorage | undefined;
packageStoreContract(
  'GridFS (FerretDB)',
  async () => {
    shared ??= await fresh();
    return shared.packages;
  },
  // Rewrites the stored chunks behind the store's back, as a tampered database would.
  async (digest, bytes) => {
    const db = (shared as MongoRegistryStorage).db;
    const file = await db.collection('packages.files').findOne({ filename: digest });
    await db
      .collection('packages.chunks')
      .updateOne({ files_id: file?._id, n: 0 }, { $set: { data: Buffer.from(bytes) } });
  },
);
