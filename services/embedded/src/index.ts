export { type EmbeddedServer, startEmbeddedServer } from './embedded.js';
