/**
 * Users and API keys with the `awasm` CLI against a real `awasm serve` on port 0, as a family runs
 * it: the first start saves the admin's key for the CLI; the admin adds bob, whose key works for
 * reading and not for installing a plugin; bob logs in on his own machine (his own config folder)
 * and manages his keys; the admin removes bob and bob's keys stop working.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDemoPackage } from '@awasm/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigDir, configDir } from '../support/auth.js';
import { awasm, awasmBin, startProcess, tempDir } from '../support/index.js';

let data: Awaited<ReturnType<typeof tempDir>>;
let server: Awaited<ReturnType<typeof startProcess>>;
let url: string;
let packageFile: string;
/** the admin's machine: `awasm serve` saved the first key here */
let adminConfig: ConfigDir;
/** bob's machine: nothing saved until he logs in */
let bobConfig: ConfigDir;

const asAdmin = (args: string[], input?: string) => awasm(['--server', url, ...args], adminConfig.env, input);
const asBob = (args: string[], input?: string) => awasm(['--server', url, ...args], bobConfig.env, input);

beforeAll(async () => {
  data = await tempDir('users-e2e');
  adminConfig = await configDir('users-admin');
  bobConfig = await configDir('users-bob');
  packageFile = join(data.path, 'demo.awpkg');
  await writeFile(packageFile, await buildDemoPackage());
  server = await startProcess(
    process.execPath,
    [awasmBin, 'serve', '--port', '0', '--data-dir', join(data.path, 'data'), '--log-level', 'warn'],
    /awasm listening on (http:\/\/\S+)/,
    { env: adminConfig.env },
  );
  url = server.match[1] as string;
});

afterAll(async () => {
  await server?.stop();
  await data?.remove();
  await adminConfig?.remove();
  await bobConfig?.remove();
});

describe('users and API keys from the CLI', () => {
  it('the first start saves the admin key the CLI then uses; no key is UNAUTHENTICATED with a hint', async () => {
    const whoami = await asAdmin(['whoami']);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(whoami.stdout.trim()).toBe('admin (admin)');
    expect(server.stdout()).toContain(`API key ${adminConfig.savedKey(url)} (shown only now; saved in`);

    const anonymous = await asBob(['sources']);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain('error: Unauthenticated: this call needs an API key');
    expect(anonymous.stderr).toContain(`hint: run \`awasm login\` to save an API key for ${url}`);
  });

  it('the admin adds bob; bob reads with his key and cannot install a plugin', async () => {
    const added = await asAdmin(['--json', 'user', 'add', 'bob', '--password-stdin'], 'bobs password\n');
    expect(added.code, added.stderr).toBe(0);
    const { key, user } = JSON.parse(added.stdout);
    expect(key).toMatch(/^awk_/);
    expect(user).toMatchObject({ name: 'bob', role: 'USER_ROLE_MEMBER', hasPassword: true });
    const table = await asAdmin(['user', 'add', 'carol']);
    expect(table.stdout).toMatch(/^added member carol; API key \(shown only now\):\nawk_\S+\n$/);

    const list = await asAdmin(['user', 'list']);
    expect(list.stdout).toMatch(
      /^NAME\s+ROLE\s+PASSWORD\s+CREATED\s+ID\nadmin\s+admin\s+no\s.*\nbob\s+member\s+yes\s.*\ncarol\s+member\s+no\s/,
    );

    const withKey = (args: string[]) => asBob(['--api-key', key, ...args]);
    expect((await withKey(['whoami'])).stdout.trim()).toBe('bob (member)');
    const sources = await withKey(['sources']);
    expect(sources.code, sources.stderr).toBe(0);
    const install = await withKey(['plugin', 'install', packageFile]);
    expect(install.code).toBe(1);
    expect(install.stderr).toContain('error: PermissionDenied: installing a plugin needs an admin; bob is a member');
    expect((await withKey(['user', 'list'])).stderr).toContain('PermissionDenied');
    // AWASM_API_KEY works as --api-key does
    const fromEnv = await awasm(['--server', url, 'whoami'], { ...bobConfig.env, AWASM_API_KEY: key });
    expect(fromEnv.stdout.trim()).toBe('bob (member)');
    // the admin can
    const adminInstall = await asAdmin(['plugin', 'install', packageFile]);
    expect(adminInstall.code, adminInstall.stderr).toBe(0);
  });

  it('bob logs in on his machine and makes, lists and revokes his own keys', async () => {
    const wrong = await asBob(['login', '--name', 'bob', '--password-stdin'], 'not it\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('Unauthenticated: wrong user name or password');
    const login = await asBob(['login', '--name', 'bob', '--password-stdin'], 'bobs password\n');
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(
      new RegExp(`^logged in to ${url} as bob; API key 'login \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d' saved\\n$`),
    );
    expect((await asBob(['whoami'])).stdout.trim()).toBe('bob (member)');

    const created = await asBob(['--json', 'key', 'create', 'phone']);
    const phone = JSON.parse(created.stdout) as { key: string; info: { id: string } };
    expect(phone.key).toMatch(/^awk_/);
    const keys = await asBob(['key', 'list']);
    expect(keys.stdout).toMatch(/^ID\s+NAME\s+CREATED\s+LAST USED\s+REVOKED\n/);
    expect(keys.stdout).toMatch(/\sphone\s.*\snever\s+no\n/);
    expect(keys.stdout).not.toContain(phone.key);
    const revoke = await asBob(['key', 'revoke', phone.info.id]);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect((await asBob(['--api-key', phone.key, 'whoami'])).stderr).toContain('Unauthenticated');
    // the admin's key id is not bob's to revoke
    const adminKeys = JSON.parse((await asAdmin(['--json', 'key', 'list'])).stdout) as { id: string }[];
    const other = await asBob(['key', 'revoke', adminKeys[0]?.id ?? '']);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('NotFound');
  });

  it('the admin removes bob and bob’s keys stop working; the last admin stays', async () => {
    const removed = await asAdmin(['user', 'remove', 'bob']);
    expect(removed.code, removed.stderr).toBe(0);
    const after = await asBob(['whoami']);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('Unauthenticated');
    const last = await asAdmin(['user', 'remove', 'admin']);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain('FailedPrecondition');

    const reset = await asAdmin(['user', 'reset-key', 'carol']);
    expect(reset.stdout).toMatch(/^revoked 1 key of carol; new API key \(shown only now\):\nawk_\S+\n$/);
    // carol had keys only; the admin gives her a password and she logs in
    const set = await asAdmin(['user', 'set-password', 'carol', '--password-stdin'], 'carols password\n');
    expect(set.code, set.stderr).toBe(0);
    const login = await asBob(['login', '--name', 'carol', '--password-stdin'], 'carols password\n');
    expect(login.code, login.stderr).toBe(0);
    expect((await asBob(['whoami'])).stdout.trim()).toBe('carol (member)');
  });
});
