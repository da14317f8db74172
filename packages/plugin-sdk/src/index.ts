export { buildJsComponent, defaultComponentCacheDir, defaultWitDir } from './build.js';
export type { BuildJsComponentOptions, BuiltComponent } from './build.js';
