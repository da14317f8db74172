import type { ConfigSection } from './section.js';
import { ConfigError, checkEndpoint, pairs, parseBool, table } from './values.js';

/**
 * Pool settings for the plugin runner (the `[runner]` table), named as its RunnerOptions (and
 * CircuitBreakerOptions) so they can be passed on as they are; only the ones the operator set are present.
 */
export interface RunnerPoolConfig {
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

/** What the plugin runner is given: its pool, and where and how fast plugins may reach the network. */
export interface RunnerConfig {
  /** a setting left out keeps the runner's default */
  pool: RunnerPoolConfig;
  /** "host:port" -> "ip:port": where the host really connects for a plugin's allowed host (like curl --connect-to) */
  connectTo: Record<string, string>;
  /** let plugins reach loopback, private and link-local addresses (off: only connect_to targets may) */
  allowPrivateAddresses: boolean;
  /**
   * Operator overrides of the manifests' `limits.requests_per_second`: host name -> requests per
   * second for every plugin's requests to that host, and "*" for all other hosts.
   */
  rateLimits: Record<string, number>;
}

/** Parses "from=to,from=to" as used by AWASM_CONNECT_TO and --connect-to. */
export function parseConnectTo(key: string, text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs(text)) {
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
  for (const pair of pairs(text)) {
    const [host, rate, ...rest] = pair.split('=');
    if (!host || !rate || rest.length > 0) throw new ConfigError(key, `'${pair}' must be host=requests_per_second`);
    const [name, rps] = checkRate(key, host.trim(), rate.trim());
    out[name] = rps;
  }
  return out;
}

/** Largest runner setting: the longest delay a Node timer takes (longer ones fire at once). */
const MAX_RUNNER_VALUE = 2_147_483_647;
type PoolSetting = Exclude<keyof RunnerPoolConfig, 'circuitBreaker'>;
type BreakerSetting = keyof NonNullable<RunnerPoolConfig['circuitBreaker']>;

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

/** Sets the pool setting `name` (a RUNNER_KEYS key) from `value`; errors name `key`. */
function setPool(pool: RunnerPoolConfig, name: string, key: string, value: unknown): void {
  const spec = RUNNER_KEYS.get(name);
  if (!spec) throw new ConfigError(key, 'unknown key');
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < spec.min || n > spec.max) {
    throw new ConfigError(key, `must be a whole number from ${spec.min} to ${spec.max}, got '${String(value)}'`);
  }
  if ('pool' in spec) pool[spec.pool] = n;
  else pool.circuitBreaker = { ...pool.circuitBreaker, [spec.breaker]: n };
}

export const runnerSection: ConfigSection<RunnerConfig> = {
  fileKeys: ['connect_to', 'allow_private_addresses', 'rate_limits', 'runner'],
  defaults: () => ({ pool: {}, connectTo: {}, allowPrivateAddresses: false, rateLimits: {} }),
  fromFile(config, key, value, file) {
    switch (key) {
      case 'allow_private_addresses':
        config.allowPrivateAddresses = parseBool(key, value);
        break;
      case 'rate_limits':
        for (const [host, rps] of Object.entries(
          table(key, value, 'must be a table of "host" = requests per second'),
        )) {
          const [name, n] = checkRate(`${key}.${host}`, host, rps);
          config.rateLimits[name] = n;
        }
        break;
      case 'runner': {
        const allowed = [...RUNNER_KEYS.keys()].join(', ');
        for (const [name, setting] of Object.entries(table(key, value, `must be a table of ${allowed}`))) {
          if (!RUNNER_KEYS.has(name))
            throw new ConfigError(`${key}.${name}`, `unknown key in ${file} (allowed: ${allowed})`);
          setPool(config.pool, name, `${key}.${name}`, setting);
        }
        break;
      }
      case 'connect_to':
        for (const [from, to] of Object.entries(table(key, value, 'must be a table of "host:port" = "ip:port"'))) {
          if (typeof to !== 'string') throw new ConfigError(`${key}.${from}`, 'must be a string "ip:port"');
          config.connectTo[checkEndpoint(`${key}.${from}`, from)] = checkEndpoint(`${key}.${from}`, to);
        }
        break;
    }
  },
  fromEnv(config, env) {
    if (env.AWASM_CONNECT_TO) Object.assign(config.connectTo, parseConnectTo('AWASM_CONNECT_TO', env.AWASM_CONNECT_TO));
    if (env.AWASM_ALLOW_PRIVATE_ADDRESSES) {
      config.allowPrivateAddresses = parseBool('AWASM_ALLOW_PRIVATE_ADDRESSES', env.AWASM_ALLOW_PRIVATE_ADDRESSES);
    }
    if (env.AWASM_RATE_LIMITS) {
      Object.assign(config.rateLimits, parseRateLimits('AWASM_RATE_LIMITS', env.AWASM_RATE_LIMITS));
    }
    for (const name of RUNNER_KEYS.keys()) {
      const key = `AWASM_RUNNER_${name.toUpperCase()}`;
      if (env[key]) setPool(config.pool, name, key, env[key]);
    }
  },
};
