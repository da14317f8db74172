import type { ConfigSection } from './section.js';
import { checkToken, parseBool } from './values.js';

/** The registry this server hosts, and its operator. */
export interface RegistryConfig {
  /**
   * let the registry accept components importing wasi:filesystem/types and /preopens (which the
   * runner gives no preopens, so they reach nothing). Off by default; componentize-js (JavaScript
   * plugins) always imports both, so a registry that takes JavaScript plugins turns it on.
   */
  allowFilesystemImports: boolean;
  /** bearer token for the registry's operator calls (key management, yank); unset: those calls are refused */
  adminToken?: string;
}

export const registrySection: ConfigSection<RegistryConfig> = {
  fileKeys: ['admin_token', 'registry_allow_filesystem_imports'],
  defaults: () => ({ allowFilesystemImports: false }),
  fromFile(config, key, value) {
    if (key === 'admin_token') config.adminToken = checkToken(key, value);
    else config.allowFilesystemImports = parseBool(key, value);
  },
  fromEnv(config, env) {
    if (env.AWASM_REGISTRY_ALLOW_FILESYSTEM_IMPORTS) {
      config.allowFilesystemImports = parseBool(
        'AWASM_REGISTRY_ALLOW_FILESYSTEM_IMPORTS',
        env.AWASM_REGISTRY_ALLOW_FILESYSTEM_IMPORTS,
      );
    }
    if (env.AWASM_ADMIN_TOKEN) config.adminToken = checkToken('AWASM_ADMIN_TOKEN', env.AWASM_ADMIN_TOKEN);
  },
};
