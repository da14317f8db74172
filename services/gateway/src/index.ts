export { loadOrCreateCursorSecret } from './cursor.js';
export { registerSourceService } from './source-service.js';
