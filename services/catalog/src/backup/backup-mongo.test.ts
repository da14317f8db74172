import { afterAll, beforeAll } from 'vitest';
import { type FerretDb, startFerretDb } from '../../../../test/support/ferretdb.js';
import { MongoLibraryStore } from '../library/mongo-library-store.js';
import { backupContract } from './backup.contract.js';

let server: FerretDb;
beforeAll(async () => {
  server = await startFerretDb();
});
afterAll(async () => {
  await server?.stop();
});

// one database per case, so cases do not see each other's libraries
backupContract('MongoDB wire (FerretDB)', (name) => MongoLibraryStore.connect(server.url, `awasm-${name}`));
