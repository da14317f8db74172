export {
  buildDemoComponent,
  demoComponentPath,
  demoManifestPath,
  demoPluginSourcePath,
  readDemoManifest,
} from './build.js';
export type { FixtureCatalog, FixtureMedia, FixtureUnit } from './fixture-catalog.js';
export { fixtureDir, loadCatalog } from './fixture-catalog.js';
export type { FixtureSite, FixtureSiteOptions } from './fixture-site.js';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, startFixtureSite } from './fixture-site.js';

/** The name the plugin's default base_url uses; the server maps it to the fixture site's port. */
export const DEMO_SITE_HOST = 'demo-library.awasm.test';
export const DEMO_SITE_BASE_URL = `http://${DEMO_SITE_HOST}`;
