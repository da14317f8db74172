export { EXIT } from './exit-codes.js';
export { main } from './main.js';
export { buildDemoPackage } from './serve.js';
