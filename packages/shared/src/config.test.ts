import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'awasm-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function fileWith(text: string): string {
  const path = join(dir, `awasm-${files++}.toml`);
  writeFileSync(path, text);
  return path;
}

describe('loadConfig', () => {
  it('reads rate limit overrides from the file and the environment', () => {
    const file = fileWith('[rate_limits]\n"Slow.Example.test" = 0.5\n"*" = 20\n');
    const config = loadConfig({ file, env: { AWASM_RATE_LIMITS: 'fast.test=100, *=5' } });
    expect(config.runner.rateLimits).toEqual({ 'slow.example.test': 0.5, 'fast.test': 100, '*': 5 });
    expect(loadConfig({ env: {} }).runner.rateLimits).toEqual({});
  });

  it('reads runner pool settings from the [runner] table and the environment', () => {
    const file = fileWith(
      [
        '[runner]',
        'instances_per_source = 2',
        'max_instances = 8',
        'memory_budget_mb = 1024',
        'recycle_after_calls = 500',
        'idle_timeout_ms = 10000',
        'max_table_entries = 50000',
        'spare_workers = 0',
        'spin_wait_us = 0',
        'breaker_failure_threshold = 3',
        'breaker_open_ms = 1000',
        'breaker_max_open_ms = 60000',
        '',
      ].join('\n'),
    );
    expect(loadConfig({ file, env: {} }).runner.pool).toEqual({
      instancesPerSource: 2,
      maxInstances: 8,
      memoryBudgetMb: 1024,
      recycleAfterCalls: 500,
      idleTimeoutMs: 10_000,
      maxTableEntries: 50_000,
      spareWorkers: 0,
      spinWaitMicros: 0,
      circuitBreaker: { failureThreshold: 3, openMs: 1000, maxOpenMs: 60_000 },
    });
    const config = loadConfig({
      file,
      env: {
        AWASM_RUNNER_MAX_INSTANCES: '32',
        AWASM_RUNNER_MEMORY_BUDGET_MB: '4096',
        AWASM_RUNNER_SPARE_WORKERS: '2',
        AWASM_RUNNER_SPIN_WAIT_US: '500',
        AWASM_RUNNER_BREAKER_OPEN_MS: '5000',
      },
    });
    const overridden = loadConfig({
      file,
      env: {},
      overrides: { runner: { pool: { circuitBreaker: { openMs: 7 } } } },
    });
    expect(overridden.runner.pool.circuitBreaker).toEqual({ failureThreshold: 3, openMs: 7, maxOpenMs: 60_000 });
    expect(config.runner.pool).toMatchObject({
      instancesPerSource: 2,
      maxInstances: 32,
      memoryBudgetMb: 4096,
      spareWorkers: 2,
      spinWaitMicros: 500,
      circuitBreaker: { failureThreshold: 3, openMs: 5000, maxOpenMs: 60_000 },
    });
  });

  it('leaves runner settings nobody set absent, so the runner keeps its defaults', () => {
    expect(loadConfig({ env: {} }).runner.pool).toEqual({});
    const config = loadConfig({
      file: fileWith('[runner]\nmax_instances = 4\n'),
      env: { AWASM_RUNNER_IDLE_TIMEOUT_MS: '100' },
    });
    expect(config.runner.pool).toEqual({ maxInstances: 4, idleTimeoutMs: 100 });
    expect(Object.keys(config.runner.pool)).not.toContain('circuitBreaker');
    expect(loadConfig({ env: { AWASM_RUNNER_BREAKER_FAILURE_THRESHOLD: '2' } }).runner.pool).toEqual({
      circuitBreaker: { failureThreshold: 2 },
    });
  });

  it('says what a bad runner setting must be', () => {
    expect(() => loadConfig({ file: fileWith('[runner]\nmax_instances = "x"\n'), env: {} })).toThrow(
      "config 'runner.max_instances': must be a whole number from 1 to 2147483647, got 'x'",
    );
    expect(() => loadConfig({ env: { AWASM_RUNNER_MEMORY_BUDGET_MB: '2GiB' } })).toThrow(
      "config 'AWASM_RUNNER_MEMORY_BUDGET_MB': must be a whole number from 1 to 2147483647, got '2GiB'",
    );
    expect(() => loadConfig({ file: fileWith('[runner]\nmemory_budget_mb = 0\n'), env: {} })).toThrow(
      "config 'runner.memory_budget_mb': must be a whole number from 1 to 2147483647, got '0'",
    );
    expect(() => loadConfig({ env: { AWASM_RUNNER_SPARE_WORKERS: '17' } })).toThrow(
      "config 'AWASM_RUNNER_SPARE_WORKERS': must be a whole number from 0 to 16, got '17'",
    );
    expect(() => loadConfig({ file: fileWith('[runner]\nmax_instance = 4\n'), env: {} })).toThrow(
      /^config 'runner\.max_instance': unknown key in .* \(allowed: instances_per_source, max_instances, /,
    );
  });

  it('layers defaults, file, env and overrides', () => {
    const file = fileWith('port = 7700\nlog_level = "debug"\n[connect_to]\n"a.test:80" = "127.0.0.1:9000"\n');
    const config = loadConfig({
      file,
      env: { AWASM_PORT: '7800', AWASM_CONNECT_TO: 'b.test:443=127.0.0.1:9001' },
      overrides: { gateway: { host: '0.0.0.0' } },
    });
    expect(config).toMatchObject({
      gateway: { host: '0.0.0.0', port: 7800 },
      logLevel: 'debug',
      runner: {
        connectTo: { 'a.test:80': '127.0.0.1:9000', 'b.test:443': '127.0.0.1:9001' },
        allowPrivateAddresses: false,
      },
    });
  });

  it("puts each service's keys into its own section", () => {
    const file = fileWith(
      [
        'host = "0.0.0.0"',
        'data_dir = "data"',
        'allow_unsigned_packages = false',
        'update_interval = "90m"',
        'update_parallel_sources = 2',
        'admin_token = "file-admin-token-0123"',
        'registry_allow_filesystem_imports = true',
        'allow_private_addresses = true',
        '',
      ].join('\n'),
    );
    const config = loadConfig({ file, env: { AWASM_ADMIN_TOKEN: 'env-admin-token-01234' } });
    expect(config.gateway).toEqual({ host: '0.0.0.0', port: 7600 });
    expect(config.catalog).toEqual({
      allowUnsignedPackages: false,
      updateIntervalMs: 90 * 60_000,
      updateParallelSources: 2,
    });
    expect(
      loadConfig({ env: { AWASM_UPDATE_INTERVAL: '1d', AWASM_UPDATE_PARALLEL_SOURCES: '8' } }).catalog,
    ).toMatchObject({
      updateIntervalMs: 86_400_000,
      updateParallelSources: 8,
    });
    expect(config.registry).toEqual({ allowFilesystemImports: true, adminToken: 'env-admin-token-01234' });
    expect(config.runner).toEqual({ pool: {}, connectTo: {}, allowPrivateAddresses: true, rateLimits: {} });
    expect(config.dataDir).toMatch(/[/\\]data$/);
    expect(loadConfig({ env: {} })).toMatchObject({
      gateway: { host: '127.0.0.1', port: 7600 },
      logLevel: 'info',
      catalog: { allowUnsignedPackages: true, updateIntervalMs: 12 * 3_600_000, updateParallelSources: 4 },
      registry: { allowFilesystemImports: false },
    });
    expect(loadConfig({ env: {} }).registry).not.toHaveProperty('adminToken');
  });

  it('lists every file key of every section when a key is unknown', () => {
    expect(() => loadConfig({ file: fileWith('prot = 1\n'), env: {} })).toThrow(
      /^config 'prot': unknown key in .* \(allowed: host, port, data_dir, log_level, connect_to, allow_private_addresses, rate_limits, runner, allow_unsigned_packages, update_interval, update_parallel_sources, admin_token, registry_allow_filesystem_imports\)$/,
    );
  });

  it.each([
    ['unknown file key', { file: 'prot = 1' }, 'prot'],
    ['bad port in file', { file: 'port = "x"' }, 'port'],
    ['bad env port', { env: { AWASM_PORT: '99999' } }, 'AWASM_PORT'],
    ['bad log level', { env: { AWASM_LOG_LEVEL: 'loud' } }, 'AWASM_LOG_LEVEL'],
    ['bad connect-to', { env: { AWASM_CONNECT_TO: 'a.test=b' } }, 'AWASM_CONNECT_TO'],
    [
      'bad registry filesystem flag',
      { env: { AWASM_REGISTRY_ALLOW_FILESYSTEM_IMPORTS: 'perhaps' } },
      'AWASM_REGISTRY_ALLOW_FILESYSTEM_IMPORTS',
    ],
    ['short admin token', { env: { AWASM_ADMIN_TOKEN: 'short' } }, 'AWASM_ADMIN_TOKEN'],
    ['bad unsigned flag', { file: 'allow_unsigned_packages = "maybe"' }, 'allow_unsigned_packages'],
    ['update interval without a unit', { file: 'update_interval = "12"' }, 'update_interval'],
    ['update interval a number', { file: 'update_interval = 12' }, 'update_interval'],
    ['update interval too short', { file: 'update_interval = "30s"' }, 'update_interval'],
    ['bad env update interval', { env: { AWASM_UPDATE_INTERVAL: 'often' } }, 'AWASM_UPDATE_INTERVAL'],
    ['zero parallel sources', { file: 'update_parallel_sources = 0' }, 'update_parallel_sources'],
    ['bad env parallel sources', { env: { AWASM_UPDATE_PARALLEL_SOURCES: 'four' } }, 'AWASM_UPDATE_PARALLEL_SOURCES'],
    ['rate limit out of range', { file: '[rate_limits]\n"a.test" = 5000' }, 'rate_limits.a.test'],
    ['rate limit not a number', { file: '[rate_limits]\n"a.test" = "fast"' }, 'rate_limits.a.test'],
    ['rate limits not a table', { file: 'rate_limits = 3' }, 'rate_limits'],
    ['bad rate limit host', { env: { AWASM_RATE_LIMITS: 'a b=1' } }, 'AWASM_RATE_LIMITS'],
    ['bad rate limit pair', { env: { AWASM_RATE_LIMITS: 'a.test' } }, 'AWASM_RATE_LIMITS'],
    ['unknown runner key', { file: '[runner]\nmax_instance = 4' }, 'runner.max_instance'],
    ['runner key in the wrong case', { file: '[runner]\nMax_Instances = 4' }, 'runner.Max_Instances'],
    ['runner key from the prototype', { file: '[runner]\ntoString = 4' }, 'runner.toString'],
    ['runner not a table', { file: 'runner = 4' }, 'runner'],
    ['runner table of arrays', { file: 'runner = [1]' }, 'runner'],
    ['runner setting not a number', { file: '[runner]\nmax_instances = "many"' }, 'runner.max_instances'],
    ['runner setting not whole', { file: '[runner]\ninstances_per_source = 1.5' }, 'runner.instances_per_source'],
    ['runner setting zero', { file: '[runner]\nrecycle_after_calls = 0' }, 'runner.recycle_after_calls'],
    ['runner setting negative', { file: '[runner]\nidle_timeout_ms = -1' }, 'runner.idle_timeout_ms'],
    ['runner setting a boolean', { file: '[runner]\nmax_table_entries = true' }, 'runner.max_table_entries'],
    ['runner setting too large', { file: '[runner]\nbreaker_open_ms = 2147483648' }, 'runner.breaker_open_ms'],
    ['too many spare workers', { file: '[runner]\nspare_workers = 17' }, 'runner.spare_workers'],
    ['negative spare workers', { file: '[runner]\nspare_workers = -1' }, 'runner.spare_workers'],
    ['too long a spin wait', { file: '[runner]\nspin_wait_us = 2001' }, 'runner.spin_wait_us'],
    ['runner subtable', { file: '[runner.breaker]\nopen_ms = 1' }, 'runner.breaker'],
    ['bad env runner setting', { env: { AWASM_RUNNER_MAX_INSTANCES: 'lots' } }, 'AWASM_RUNNER_MAX_INSTANCES'],
    [
      'zero env runner setting',
      { env: { AWASM_RUNNER_INSTANCES_PER_SOURCE: '0' } },
      'AWASM_RUNNER_INSTANCES_PER_SOURCE',
    ],
    [
      'signed env runner setting',
      { env: { AWASM_RUNNER_BREAKER_FAILURE_THRESHOLD: '+3' } },
      'AWASM_RUNNER_BREAKER_FAILURE_THRESHOLD',
    ],
  ])('names the key on %s', (_name, input, key) => {
    const options = 'file' in input ? { file: fileWith(input.file as string), env: {} } : { env: input.env };
    try {
      loadConfig(options);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).key).toBe(key);
    }
  });
});
