export { loadOrCreateCursorSecret } from './cursor.js';
export { type RunnerView, ServerMetrics } from './metrics.js';
export { compareVersions, PluginManager, type PluginView } from './plugin-manager.js';
export { registerPluginService } from './plugin-service.js';
export {
  GrpcRepository,
  openRepository,
  probeRepository,
  type RemoteRepository,
  StaticRepository,
} from './remote-repository.js';
export { RepositoryManager } from './repositories.js';
export { registerRepositoryService } from './repository-service.js';
export { createServer, type ServerOptions } from './server.js';
export { type HealthLookup, toSourceHealth } from './source-health.js';
export { registerSourceService } from './source-service.js';
