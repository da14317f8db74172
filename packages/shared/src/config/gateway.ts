import type { ConfigSection } from './section.js';
import { nonEmptyString, parsePort } from './values.js';

export const DEFAULT_PORT = 7600;

/** Where the server listens for clients (gRPC, gRPC-Web and Connect on one port). */
export interface GatewayConfig {
  host: string;
  port: number;
}

export const gatewaySection: ConfigSection<GatewayConfig> = {
  fileKeys: ['host', 'port'],
  defaults: () => ({ host: '127.0.0.1', port: DEFAULT_PORT }),
  fromFile(config, key, value) {
    if (key === 'host') config.host = nonEmptyString(key, value);
    else config.port = parsePort(key, value);
  },
  fromEnv(config, env) {
    if (env.AWASM_HOST) config.host = env.AWASM_HOST;
    if (env.AWASM_PORT) config.port = parsePort('AWASM_PORT', env.AWASM_PORT);
  },
};
