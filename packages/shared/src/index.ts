export * from './manifest.js';
export * from './package-file.js';
export * from './logger.js';
export * from './config.js';
