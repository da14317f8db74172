export type { BuildJsComponentOptions, BuiltComponent } from './build.js';
export { buildJsComponent, defaultComponentCacheDir, defaultWitDir } from './build.js';
