export { type EmbeddedServer, startEmbeddedServer } from './embedded.js';
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
export { type HealthLookup, toSourceHealth } from './source-health.js';
export { registerSourceService } from './source-service.js';
