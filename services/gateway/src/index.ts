export { loadOrCreateCursorSecret } from './cursor.js';
export { toConnectError } from './errors.js';
export { registerSourceService } from './source-service.js';
