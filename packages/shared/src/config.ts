import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { type CatalogConfig, catalogSection } from './config/catalog.js';
import { type GatewayConfig, gatewaySection } from './config/gateway.js';
import { type RegistryConfig, registrySection } from './config/registry.js';
import { type RunnerConfig, type RunnerPoolConfig, runnerSection } from './config/runner.js';
import type { ConfigSection } from './config/section.js';
import { ConfigError, checkLogLevel, nonEmptyString } from './config/values.js';

export type { CatalogConfig } from './config/catalog.js';
export { DEFAULT_PORT, type GatewayConfig } from './config/gateway.js';
export type { RegistryConfig } from './config/registry.js';
export { parseConnectTo, parseRateLimits, type RunnerConfig, type RunnerPoolConfig } from './config/runner.js';
export { ConfigError } from './config/values.js';

/**
 * Server configuration: defaults, then the config file, then environment variables, then flags.
 * What the whole process shares sits at the top; each service reads its own validated section.
 */
export interface ServerConfig {
  /** SQLite database, package folder and compile cache live here */
  dataDir: string;
  logLevel: string;
  gateway: GatewayConfig;
  runner: RunnerConfig;
  catalog: CatalogConfig;
  registry: RegistryConfig;
}

type Sections = Pick<ServerConfig, 'gateway' | 'runner' | 'catalog' | 'registry'>;

/** The process-wide keys: where the data lives and how much is logged. */
type ProcessConfig = Pick<ServerConfig, 'dataDir' | 'logLevel'>;

const processSection: ConfigSection<ProcessConfig> = {
  fileKeys: ['data_dir', 'log_level'],
  defaults: () => ({ dataDir: defaultDataDir(), logLevel: 'info' }),
  fromFile(config, key, value) {
    if (key === 'data_dir') config.dataDir = resolve(nonEmptyString(key, value));
    else config.logLevel = checkLogLevel(key, value);
  },
  fromEnv(config, env) {
    if (env.AWASM_DATA_DIR) config.dataDir = resolve(env.AWASM_DATA_DIR);
    if (env.AWASM_LOG_LEVEL) config.logLevel = checkLogLevel('AWASM_LOG_LEVEL', env.AWASM_LOG_LEVEL);
  },
};

export function defaultDataDir(): string {
  return join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'awasm');
}

/** What a caller (the CLI's flags, a test) sets last; a section's settings left out keep their value. */
export interface ConfigOverrides extends Partial<ProcessConfig> {
  gateway?: Partial<GatewayConfig>;
  /** connectTo adds to the file's and the environment's, pool settings replace one by one */
  runner?: Partial<Omit<RunnerConfig, 'pool'>> & { pool?: RunnerPoolConfig };
  catalog?: Partial<CatalogConfig>;
  registry?: Partial<RegistryConfig>;
}

export interface LoadConfigOptions {
  /** path of a TOML config file; AWASM_CONFIG when absent */
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: ConfigOverrides;
}

/** Keeps the defined values of `from` only. */
function defined<T extends object>(from: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(from ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function applyOverrides(config: ServerConfig, overrides: ConfigOverrides): void {
  const { gateway, runner, catalog, registry, ...top } = overrides;
  Object.assign(config, defined(top));
  Object.assign(config.gateway, defined(gateway));
  Object.assign(config.catalog, defined(catalog));
  Object.assign(config.registry, defined(registry));
  const { connectTo, pool, ...rest } = runner ?? {};
  Object.assign(config.runner, defined(rest));
  if (connectTo) Object.assign(config.runner.connectTo, connectTo);
  if (pool) {
    const circuitBreaker = { ...config.runner.pool.circuitBreaker, ...pool.circuitBreaker };
    config.runner.pool = { ...config.runner.pool, ...pool };
    if (Object.keys(circuitBreaker).length > 0) config.runner.pool.circuitBreaker = circuitBreaker;
  }
}

export function loadConfig(options: LoadConfigOptions = {}): ServerConfig {
  const env = options.env ?? process.env;
  const processConfig = processSection.defaults();
  const sections: Sections = {
    gateway: gatewaySection.defaults(),
    runner: runnerSection.defaults(),
    catalog: catalogSection.defaults(),
    registry: registrySection.defaults(),
  };
  // each file key goes to the one section that owns it; environment variables are read in this order
  const readers: SectionReader[] = [
    bind(gatewaySection, sections.gateway),
    bind(processSection, processConfig),
    bind(runnerSection, sections.runner),
    bind(catalogSection, sections.catalog),
    bind(registrySection, sections.registry),
  ];
  const owners = new Map(readers.flatMap((reader) => reader.fileKeys.map((key) => [key, reader] as const)));
  const file = options.file ?? env.AWASM_CONFIG;
  if (file) {
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError('file', `cannot read ${file}: ${(error as Error).message.split('\n')[0]}`);
    }
    for (const [key, value] of Object.entries(doc)) {
      const owner = owners.get(key);
      if (!owner) throw new ConfigError(key, `unknown key in ${file} (allowed: ${[...owners.keys()].join(', ')})`);
      owner.fromFile(key, value, file);
    }
  }
  for (const reader of readers) reader.fromEnv(env);
  const config: ServerConfig = { ...processConfig, ...sections };
  applyOverrides(config, options.overrides ?? {});
  return config;
}

/** A section bound to its part of the config being loaded. */
interface SectionReader {
  fileKeys: readonly string[];
  fromFile(key: string, value: unknown, file: string): void;
  fromEnv(env: NodeJS.ProcessEnv): void;
}

function bind<T>(section: ConfigSection<T>, config: T): SectionReader {
  return {
    fileKeys: section.fileKeys,
    fromFile: (key: string, value: unknown, file: string) => section.fromFile(config, key, value, file),
    fromEnv: (env: NodeJS.ProcessEnv) => section.fromEnv(config, env),
  };
}
