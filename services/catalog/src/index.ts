export { CatalogDatabase, type CatalogDatabaseSource } from './catalog-database.js';
export { MongoPluginStore } from './mongo-plugin-store.js';
export { MongoRepositoryStore } from './mongo-repository-store.js';
export type { InstalledPlugin, PluginStore } from './plugin-store.js';
export type { RepositoryRecord, RepositoryStore } from './repository-store.js';
export { SqlitePluginStore } from './sqlite-plugin-store.js';
export { SqliteRepositoryStore } from './sqlite-repository-store.js';
