import { afterAll, beforeAll } from 'vitest';
import { type FerretDb, startFerretDb } from '../../../test/support/ferretdb.js';
import { MongoRepositoryStore } from './mongo-repository-store.js';
import { repositoryStoreContract } from './repository-store.contract.js';

let server: FerretDb;
beforeAll(async () => {
  server = await startFerretDb();
});
afterAll(async () => {
  await server?.stop();
});

// One database per contract case, so cases do not see each other's repositories.
repositoryStoreContract('MongoDB wire (FerretDB)', (name) =>
  MongoRepositoryStore.connect(server.url, `awasm-repos-${name}`),
);
