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
    expect(config.rateLimits).toEqual({ 'slow.example.test': 0.5, 'fast.test': 100, '*': 5 });
    expect(loadConfig({ env: {} }).rateLimits).toEqual({});
  });

  it('layers defaults, file, env and overrides', () => {
    const file = fileWith('port = 7700\nlog_level = "debug"\n[connect_to]\n"a.test:80" = "127.0.0.1:9000"\n');
    const config = loadConfig({
      file,
      env: { AWASM_PORT: '7800', AWASM_CONNECT_TO: 'b.test:443=127.0.0.1:9001' },
      overrides: { host: '0.0.0.0' },
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 7800,
      logLevel: 'debug',
      connectTo: { 'a.test:80': '127.0.0.1:9000', 'b.test:443': '127.0.0.1:9001' },
      allowPrivateAddresses: false,
    });
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
    ['rate limit out of range', { file: '[rate_limits]\n"a.test" = 5000' }, 'rate_limits.a.test'],
    ['rate limit not a number', { file: '[rate_limits]\n"a.test" = "fast"' }, 'rate_limits.a.test'],
    ['rate limits not a table', { file: 'rate_limits = 3' }, 'rate_limits'],
    ['bad rate limit host', { env: { AWASM_RATE_LIMITS: 'a b=1' } }, 'AWASM_RATE_LIMITS'],
    ['bad rate limit pair', { env: { AWASM_RATE_LIMITS: 'a.test' } }, 'AWASM_RATE_LIMITS'],
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
