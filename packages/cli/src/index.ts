export { EXIT, main } from './main.js';
export { buildDemoPackage } from './serve.js';
