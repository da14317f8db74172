import { afterAll, beforeAll } from 'vitest';
import { type FerretDb, startFerretDb } from '../../../../test/support/ferretdb.js';
import { libraryStoreContract } from './library-store.contract.js';
import { MongoLibraryStore } from './mongo-library-store.js';

let server: FerretDb;
beforeAll(async () => {
  server = await startFerretDb();
});
afterAll(async () => {
  await server?.stop();
});

// One database per contract case, so cases do not see each other's libraries.
libraryStoreContract('MongoDB wire (FerretDB)', (name) =>
  MongoLibraryStore.connect(server.url, `awasm-library-${name}`),
);
