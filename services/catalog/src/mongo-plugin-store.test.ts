import { afterAll, beforeAll } from 'vitest';
import { type FerretDb, startFerretDb } from '../../../test/support/ferretdb.js';
import { MongoPluginStore } from './mongo-plugin-store.js';
import { pluginStoreContract } from './plugin-store.contract.js';

let server: FerretDb;
beforeAll(async () => {
  server = await startFerretDb();
});
afterAll(async () => {
  await server?.stop();
});

// One database per contract case, so cases do not see each other's plugins.
pluginStoreContract('MongoDB wire (FerretDB)', (name) => MongoPluginStore.connect(server.url, `awasm-${name}`));
