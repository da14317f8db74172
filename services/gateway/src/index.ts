export { loadOrCreateCursorSecret } from './cursor.js';
export { type RunnerView, ServerMetrics } from './metrics.js';
export { registerSourceService } from './source-service.js';
