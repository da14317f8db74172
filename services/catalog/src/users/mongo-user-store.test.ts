import { afterAll, beforeAll } from 'vitest';
import { type FerretDb, startFerretDb } from '../../../../test/support/ferretdb.js';
import { MongoUserStore } from './mongo-user-store.js';
import { userStoreContract } from './user-store.contract.js';

let server: FerretDb;
beforeAll(async () => {
  server = await startFerretDb();
});
afterAll(async () => {
  await server?.stop();
});

// One database per contract case, so cases do not see each other's users.
userStoreContract('MongoDB wire (FerretDB)', (name) => MongoUserStore.connect(server.url, `awasm-users-${name}`));
