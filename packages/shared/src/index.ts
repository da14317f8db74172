export * from './config.js';
export * from './logger.js';
export * from './manifest.js';
export * from './manifest-schema.js';
export * from './media-kinds.js';
export * from './package-file.js';
export * from './signing.js';
export * from './static-index.js';
