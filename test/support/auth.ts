/**
 * API keys for tests. Every server a test starts makes its first admin and, run as `awasm serve`,
 * saves that admin's key in the credentials file of AWASM_CONFIG_DIR; a test gives each server
 * and CLI its own temporary config folder (never the real ~/.config) and reads the key back here.
 */
import { join } from 'node:path';
import { readCredentials, saveCredentials } from '@awasm/shared';
import type { Interceptor } from '@connectrpc/connect';
import { tempDir } from './index.js';

/** Call options sending an API key (or the admin token) as `authorization: Bearer`. */
export function bearer(key: string): { headers: { authorization: string } } {
  return { headers: { authorization: `Bearer ${key}` } };
}

/** A Connect client interceptor sending the key on every call that has no authorization of its own. */
export function withApiKey(key: string): Interceptor {
  return (next) => (request) => {
    if (!request.header.has('authorization')) request.header.set('authorization', `Bearer ${key}`);
    return next(request);
  };
}

/**
 * The key `awasm serve` saved for `url` on its first run, in `configDir` (by default this test
 * file's own AWASM_CONFIG_DIR, see isolated-config.ts); throws naming the file when there is none.
 */
export function savedAdminKey(url: string, configDir = process.env.AWASM_CONFIG_DIR): string {
  if (!configDir) throw new Error('AWASM_CONFIG_DIR is not set: vitest.config.ts sets it for every test file');
  const file = join(configDir, 'credentials.json');
  const key = readCredentials(file).servers[url.replace(/\/+$/, '')]?.key;
  if (!key) throw new Error(`${file} holds no key for ${url}: did the server start with this AWASM_CONFIG_DIR?`);
  return key;
}

/** A temporary AWASM_CONFIG_DIR for the servers and CLI runs of one test. */
export interface ConfigDir {
  path: string;
  /** `{ AWASM_CONFIG_DIR: path }`, to spread into a process's environment */
  env: { AWASM_CONFIG_DIR: string };
  /** The key `awasm serve` saved for `url` on its first run; throws naming the file when there is none. */
  savedKey(url: string): string;
  /**
   * After a restart on the same data (another port; the admin exists, so no new key is saved),
   * saves the key of `fromUrl` for `toUrl` too, as `awasm login` on the new URL would.
   */
  carryOver(fromUrl: string, toUrl: string): void;
  remove(): Promise<void>;
}

export async function configDir(prefix = 'config'): Promise<ConfigDir> {
  const dir = await tempDir(prefix);
  return {
    path: dir.path,
    env: { AWASM_CONFIG_DIR: dir.path },
    savedKey: (url) => savedAdminKey(url, dir.path),
    carryOver(fromUrl, toUrl) {
      const credentials = readCredentials(join(dir.path, 'credentials.json')).servers[fromUrl.replace(/\/+$/, '')];
      if (!credentials) throw new Error(`no key saved for ${fromUrl} in ${dir.path}`);
      saveCredentials([toUrl], credentials, join(dir.path, 'credentials.json'));
    },
    remove: dir.remove,
  };
}

/** An admin user, for in-process servers whose tests are about something else than access. */
export const TEST_ADMIN = Object.freeze({ role: 'admin', userId: 'test-admin', userName: 'test-admin' } as const);
