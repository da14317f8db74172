export { MongoPluginStore } from './mongo-plugin-store.js';
export type { InstalledPlugin, PluginStore } from './plugin-store.js';
export { SqlitePluginStore } from './sqlite-plugin-store.js';
