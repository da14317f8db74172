export { type EmbeddedServer, startEmbeddedServer } from './embedded.js';
export { PluginManager, type PluginView } from './plugin-manager.js';
export { registerPluginService } from './plugin-service.js';
export { registerSourceService } from './source-service.js';
