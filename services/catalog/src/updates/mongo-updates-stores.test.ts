import { afterAll, beforeAll } from 'vitest';
import { type FerretDb, startFerretDb } from '../../../../test/support/ferretdb.js';
import { feedStoreContract } from './feed-store.contract.js';
import { mediaCacheStoreContract } from './media-cache-store.contract.js';
import { MongoFeedStore } from './mongo-feed-store.js';
import { MongoMediaCacheStore } from './mongo-media-cache-store.js';

let server: FerretDb;
beforeAll(async () => {
  server = await startFerretDb();
});
afterAll(async () => {
  await server?.stop();
});

// One database per contract case, so cases do not see each other's data.
mediaCacheStoreContract('MongoDB wire (FerretDB)', (name) =>
  MongoMediaCacheStore.connect(server.url, `awasm-cache-${name}`),
);
feedStoreContract('MongoDB wire (FerretDB)', (name) => MongoFeedStore.connect(server.url, `awasm-feed-${name}`));
