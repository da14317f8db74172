import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configDirectory, credentialsPath, readCredentials, saveCredentials, savedKeyFor } from './credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'awasm-credentials-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('credentials', () => {
  it('picks AWASM_CONFIG_DIR, then XDG_CONFIG_HOME/awasm, then ~/.config/awasm', () => {
    expect(configDirectory({ AWASM_CONFIG_DIR: '/a', XDG_CONFIG_HOME: '/x' })).toBe('/a');
    expect(configDirectory({ XDG_CONFIG_HOME: '/x' })).toBe('/x/awasm');
    expect(configDirectory({})).toMatch(/\.config\/awasm$/);
    expect(credentialsPath({ AWASM_CONFIG_DIR: '/a' })).toBe('/a/credentials.json');
  });

  it('saves keys per server with private permissions and keeps other servers', () => {
    const path = join(dir, 'nested', 'credentials.json');
    expect(readCredentials(path)).toEqual({ servers: {} });
    saveCredentials(['http://127.0.0.1:1/', 'http://localhost:2'], { key: 'k1', user: 'admin' }, path);
    saveCredentials(['http://other:3'], { key: 'k2' }, path);
    expect(savedKeyFor('http://127.0.0.1:1', path)).toEqual({ key: 'k1', user: 'admin' });
    expect(savedKeyFor('http://localhost:2/', path)?.key).toBe('k1');
    expect(savedKeyFor('http://other:3', path)?.key).toBe('k2');
    expect(savedKeyFor('http://unknown', path)).toBeUndefined();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
  });

  it('names a malformed file', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{"servers": []}');
    expect(() => readCredentials(path)).toThrow(/bad\.json is not a credentials file/);
  });
});
