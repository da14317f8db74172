import type { ConfigSection } from './section.js';
import { parseBool } from './values.js';

/** How the catalog takes plugin packages. */
export interface CatalogConfig {
  /**
   * accept plugin packages without a signature on PluginService.Install (on: the embedded default,
   * since only the operator installs local files; off: every package must be signed by a key the
   * registry trusts for its plugin id). A signature that is present is always verified.
   */
  allowUnsignedPackages: boolean;
}

export const catalogSection: ConfigSection<CatalogConfig> = {
  fileKeys: ['allow_unsigned_packages'],
  defaults: () => ({ allowUnsignedPackages: true }),
  fromFile(config, key, value) {
    config.allowUnsignedPackages = parseBool(key, value);
  },
  fromEnv(config, env) {
    if (env.AWASM_ALLOW_UNSIGNED_PACKAGES) {
      config.allowUnsignedPackages = parseBool('AWASM_ALLOW_UNSIGNED_PACKAGES', env.AWASM_ALLOW_UNSIGNED_PACKAGES);
    }
  },
};
