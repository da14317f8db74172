import { afterAll } from 'vitest';
import { CatalogDatabase } from '../catalog-database.js';
import { feedStoreContract } from './feed-store.contract.js';
import { mediaCacheStoreContract } from './media-cache-store.contract.js';
import { SqliteFeedStore } from './sqlite-feed-store.js';
import { SqliteMediaCacheStore } from './sqlite-media-cache-store.js';

const databases = new Map<string, CatalogDatabase>();
function database(name: string) {
  const db = CatalogDatabase.open(':memory:');
  databases.set(name, db);
  return db;
}
afterAll(() => {
  for (const db of databases.values()) db.close();
});

mediaCacheStoreContract('SQLite', async (name) => new SqliteMediaCacheStore(database(`cache-${name}`)));
feedStoreContract('SQLite', async (name) => new SqliteFeedStore(database(`feed-${name}`)));
