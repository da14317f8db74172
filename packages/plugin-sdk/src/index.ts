export type { BuildJsComponentOptions, BuiltComponent } from './build.js';
export { buildJsComponent, defaultComponentCacheDir, defaultWitDir } from './build.js';
export type { BuildCComponentOptions, CToolchain } from './build-c.js';
export { buildCComponent, findCToolchain, MissingToolError } from './build-c.js';
