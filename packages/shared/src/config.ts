import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';

/** Server configuration: defaults, then the config file, then environment variables, then flags. */
export interface ServerConfig {
  host: string;
  port: number;
  /** SQLite database, package folder and compile cache live here */
  dataDir: string;
  logLevel: string;
  /** "host:port" -> "ip:port": where the host really connects for a plugin's allowed host (like curl --connect-to) */
  connectTo: Record<string, string>;
  /** let plugins reach loopback, private and link-local addresses (off: only connect_to targets may) */
  allowPrivateAddresses: boolean;
  /**
   * accept plugin packages without a signature on PluginService.Install (on: the embedded default,
   * since only the operator installs local files; off: every package must be signed by a key the
   * registry trusts for its plugin id). A signature that is present is always verified.
   */
  allowUnsignedPackages: boolean;
  /**
   * let the registry accept components importing wasi:filesystem/types and /preopens (which the
   * runner gives no preopens, so they reach nothing). Off by default; componentize-js (JavaScript
   * plugins) always imports both, so a registry that takes JavaScript plugins turns it on.
   */
  registryAllowFilesystemImports: boolean;
  /** bearer token for the registry's operator calls (key management, yank); unset: those calls are refused */
  adminToken?: string;
  /**
   * Operator overrides of the manifests' `limits.requests_per_second`: host name -> requests per
   * second for every plugin's requests to that host, and "*" for all other hosts.
   */
  rateLimits: Record<string, number>;
  /** the plugin runner's pool settings (the `[runner]` table); a setting left out keeps the runner's default */
  runner: RunnerConfig;
}

/**
 * Pool settings for the plugin runner, named as its RunnerOptions (and CircuitBreakerOptions) so
 * they can be passed on as they are; only the ones the operator set are present.
 */
export interface RunnerConfig {
  instancesPerSource?: number;
  maxInstances?: number;
  memoryBudgetMb?: number;
  recycleAfterCalls?: number;
  idleTimeoutMs?: number;
  maxTableEntries?: number;
  spareWorkers?: number;
  spinWaitMicros?: number;
  circuitBreaker?: { failureThreshold?: number; openMs?: number; maxOpenMs?: number };
}

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`config '${key}': ${problem}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_PORT = 7600;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const FILE_KEYS = new Set([
  'host',
  'port',
  'data_dir',
  'log_level',
  'connect_to',
  'allow_private_addresses',
  'allow_unsigned_packages',
  'admin_token',
  'registry_allow_filesystem_imports',
  'rate_limits',
  'runner',
]);
const ENDPOINT = /^[A-Za-z0-9.-]+:\d{1,5}$/;

export function defaultDataDir(): string {
  return join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'awasm');
}

function parsePort(key: string, value: unknown): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(key, `must be a port number 0-65535, got '${String(value)}'`);
  }
  return n;
}

function parseBool(key: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(key, `must be true or false, got '${String(value)}'`);
}

function checkLogLevel(key: string, value: unknown): string {
  if (typeof value !== 'string' || !LOG_LEVELS.includes(value)) {
    throw new ConfigError(key, `must be one of ${LOG_LEVELS.join(', ')}, got '${String(value)}'`);
  }
  return value;
}

function checkEndpoint(key: string, value: string): string {
  if (!ENDPOINT.test(value)) throw new ConfigError(key, `'${value}' must be host:port`);
  return value.toLowerCase();
}

/** Parses "from=to,from=to" as used by AWASM_CONNECT_TO and --connect-to. */
export function parseConnectTo(key: string, text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [from, to, ...rest] = pair.split('=');
    if (!from || !to || rest.length > 0) throw new ConfigError(key, `'${pair}' must be host:port=ip:port`);
    out[checkEndpoint(key, from)] = checkEndpoint(key, to);
  }
  return out;
}

/** requests_per_second bounds, as in the manifest */
const MIN_RPS = 0.1;
const MAX_RPS = 1000;
const RATE_HOST = /^(\*|[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?)$/;

function checkRate(key: string, host: string, value: unknown): [string, number] {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (!RATE_HOST.test(name)) throw new ConfigError(key, `'${host}' must be a host name or "*"`);
  const n = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !(n >= MIN_RPS && n <= MAX_RPS)) {
    throw new ConfigError(
      key,
      `'${host}' must be ${MIN_RPS} to ${MAX_RPS} requests per second, got '${String(value)}'`,
    );
  }
  return [name, n];
}

/** Parses "host=rps,host=rps" as used by AWASM_RATE_LIMITS ("*" for every other host). */
export function parseRateLimits(key: string, text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [host, rate, ...rest] = pair.split('=');
    if (!host || !rate || rest.length > 0) throw new ConfigError(key, `'${pair}' must be host=requests_per_second`);
    const [name, rps] = checkRate(key, host.trim(), rate.trim());
    out[name] = rps;
  }
  return out;
}

/** Largest runner setting: the longest delay a Node timer takes (longer ones fire at once). */
const MAX_RUNNER_VALUE = 2_147_483_647;
type PoolSetting = Exclude<keyof RunnerConfig, 'circuitBreaker'>;
type BreakerSetting = keyof NonNullable<RunnerConfig['circuitBreaker']>;

/**
 * Keys of the `[runner]` table (AWASM_RUNNER_<KEY> in the environment), what they set and their
 * bounds (the runner's own: at least 1; spare workers 0 to 16; spin wait 0 to 2000 µs).
 */
const RUNNER_KEYS = new Map<
  string,
  { min: number; max: number } & ({ pool: PoolSetting } | { breaker: BreakerSetting })
>([
  ['instances_per_source', { pool: 'instancesPerSource', min: 1, max: MAX_RUNNER_VALUE }],
  ['max_instances', { pool: 'maxInstances', min: 1, max: MAX_RUNNER_VALUE }],
  ['memory_budget_mb', { pool: 'memoryBudgetMb', min: 1, max: MAX_RUNNER_VALUE }],
  ['recycle_after_calls', { pool: 'recycleAfterCalls', min: 1, max: MAX_RUNNER_VALUE }],
  ['idle_timeout_ms', { pool: 'idleTimeoutMs', min: 1, max: MAX_RUNNER_VALUE }],
  ['max_table_entries', { pool: 'maxTableEntries', min: 1, max: MAX_RUNNER_VALUE }],
  ['spare_workers', { pool: 'spareWorkers', min: 0, max: 16 }],
  ['spin_wait_us', { pool: 'spinWaitMicros', min: 0, max: 2000 }],
  ['breaker_failure_threshold', { breaker: 'failureThreshold', min: 1, max: MAX_RUNNER_VALUE }],
  ['breaker_open_ms', { breaker: 'openMs', min: 1, max: MAX_RUNNER_VALUE }],
  ['breaker_max_open_ms', { breaker: 'maxOpenMs', min: 1, max: MAX_RUNNER_VALUE }],
]);

/** Sets the runner setting `name` (a RUNNER_KEYS key) from `value`; errors name `key`. */
function setRunner(runner: RunnerConfig, name: string, key: string, value: unknown): void {
  const spec = RUNNER_KEYS.get(name);
  if (!spec) throw new ConfigError(key, 'unknown key');
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < spec.min || n > spec.max) {
    throw new ConfigError(key, `must be a whole number from ${spec.min} to ${spec.max}, got '${String(value)}'`);
  }
  if ('pool' in spec) runner[spec.pool] = n;
  else runner.circuitBreaker = { ...runner.circuitBreaker, [spec.breaker]: n };
}

function checkToken(key: string, value: unknown): string {
  if (typeof value !== 'string' || value.length < 16 || /\s/.test(value)) {
    throw new ConfigError(key, 'must be a string of at least 16 characters without spaces');
  }
  return value;
}

export interface LoadConfigOptions {
  /** path of a TOML config file; AWASM_CONFIG when absent */
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Partial<ServerConfig>;
}

export function loadConfig(options: LoadConfigOptions = {}): ServerConfig {
  const env = options.env ?? process.env;
  const config: ServerConfig = {
    host: '127.0.0.1',
    port: DEFAULT_PORT,
    dataDir: defaultDataDir(),
    logLevel: 'info',
    connectTo: {},
    allowPrivateAddresses: false,
    allowUnsignedPackages: true,
    registryAllowFilesystemImports: false,
    rateLimits: {},
    runner: {},
  };
  const file = options.file ?? env.AWASM_CONFIG;
  if (file) {
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError('file', `cannot read ${file}: ${(error as Error).message.split('\n')[0]}`);
    }
    for (const [key, value] of Object.entries(doc)) {
      if (!FILE_KEYS.has(key))
        throw new ConfigError(key, `unknown key in ${file} (allowed: ${[...FILE_KEYS].join(', ')})`);
      switch (key) {
        case 'host':
          if (typeof value !== 'string' || !value) throw new ConfigError(key, 'must be a non-empty string');
          config.host = value;
          break;
        case 'port':
          config.port = parsePort(key, value);
          break;
        case 'data_dir':
          if (typeof value !== 'string' || !value) throw new ConfigError(key, 'must be a non-empty string');
          config.dataDir = resolve(value);
          break;
        case 'log_level':
          config.logLevel = checkLogLevel(key, value);
          break;
        case 'allow_private_addresses':
          config.allowPrivateAddresses = parseBool(key, value);
          break;
        case 'allow_unsigned_packages':
          config.allowUnsignedPackages = parseBool(key, value);
          break;
        case 'registry_allow_filesystem_imports':
          config.registryAllowFilesystemImports = parseBool(key, value);
          break;
        case 'admin_token':
          config.adminToken = checkToken(key, value);
          break;
        case 'rate_limits':
          if (typeof value !== 'object' || value === null || Array.isArray(value)) {
            throw new ConfigError(key, 'must be a table of "host" = requests per second');
          }
          for (const [host, rps] of Object.entries(value)) {
            const [name, n] = checkRate(`${key}.${host}`, host, rps);
            config.rateLimits[name] = n;
          }
          break;
        case 'runner':
          if (typeof value !== 'object' || value === null || Array.isArray(value)) {
            throw new ConfigError(key, `must be a table of ${[...RUNNER_KEYS.keys()].join(', ')}`);
          }
          for (const [name, setting] of Object.entries(value)) {
            if (!RUNNER_KEYS.has(name)) {
              throw new ConfigError(
                `${key}.${name}`,
                `unknown key in ${file} (allowed: ${[...RUNNER_KEYS.keys()].join(', ')})`,
              );
            }
            setRunner(config.runner, name, `${key}.${name}`, setting);
          }
          break;
        case 'connect_to':
          if (typeof value !== 'object' || value === null || Array.isArray(value)) {
            throw new ConfigError(key, 'must be a table of "host:port" = "ip:port"');
          }
          for (const [from, to] of Object.entries(value)) {
            if (typeof to !== 'string') throw new ConfigError(`${key}.${from}`, 'must be a string "ip:port"');
            config.connectTo[checkEndpoint(`${key}.${from}`, from)] = checkEndpoint(`${key}.${from}`, to);
          }
          break;
      }
    }
  }
  if (env.AWASM_HOST) config.host = env.AWASM_HOST;
  if (env.AWASM_PORT) config.port = parsePort('AWASM_PORT', env.AWASM_PORT);
  if (env.AWASM_DATA_DIR) config.dataDir = resolve(env.AWASM_DATA_DIR);
  if (env.AWASM_LOG_LEVEL) config.logLevel = checkLogLevel('AWASM_LOG_LEVEL', env.AWASM_LOG_LEVEL);
  if (env.AWASM_CONNECT_TO) Object.assign(config.connectTo, parseConnectTo('AWASM_CONNECT_TO', env.AWASM_CONNECT_TO));
  if (env.AWASM_ALLOW_PRIVATE_ADDRESSES) {
    config.allowPrivateAddresses = parseBool('AWASM_ALLOW_PRIVATE_ADDRESSES', env.AWASM_ALLOW_PRIVATE_ADDRESSES);
  }
  if (env.AWASM_ALLOW_UNSIGNED_PACKAGES) {
    config.allowUnsignedPackages = parseBool('AWASM_ALLOW_UNSIGNED_PACKAGES', env.AWASM_ALLOW_UNSIGNED_PACKAGES);
  }
  if (env.AWASM_REGISTRY_ALLOW_FILESYSTEM_IMPORTS) {
    config.registryAllowFilesystemImports = parseBool(
      'AWASM_REGISTRY_ALLOW_FILESYSTEM_IMPORTS',
      env.AWASM_REGISTRY_ALLOW_FILESYSTEM_IMPORTS,
    );
  }
  if (env.AWASM_ADMIN_TOKEN) config.adminToken = checkToken('AWASM_ADMIN_TOKEN', env.AWASM_ADMIN_TOKEN);
  if (env.AWASM_RATE_LIMITS) {
    Object.assign(config.rateLimits, parseRateLimits('AWASM_RATE_LIMITS', env.AWASM_RATE_LIMITS));
  }
  for (const name of RUNNER_KEYS.keys()) {
    const key = `AWASM_RUNNER_${name.toUpperCase()}`;
    if (env[key]) setRunner(config.runner, name, key, env[key]);
  }
  const { connectTo, runner, ...rest } = options.overrides ?? {};
  Object.assign(config, Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)));
  if (connectTo) Object.assign(config.connectTo, connectTo);
  if (runner) {
    const circuitBreaker = { ...config.runner.circuitBreaker, ...runner.circuitBreaker };
    config.runner = { ...config.runner, ...runner };
    if (Object.keys(circuitBreaker).length > 0) config.runner.circuitBreaker = circuitBreaker;
  }
  return config;
}
