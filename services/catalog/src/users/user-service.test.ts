import { ListApiKeysResponseSchema, UserRole, UserService } from '@awasm/shared/gen/awasm/v1/user_service_pb.js';
import { toJson } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { afterEach, describe, expect, it } from 'vitest';
import { adminBearer, authenticate, requireAdmin, requireUser } from '../../../../packages/server/src/auth.js';
import { CatalogDatabase } from '../catalog-database.js';
import { hashApiKey } from './api-keys.js';
import { apiKeyAuthenticator, createUserWithKey } from './authenticator.js';
import { LoginThrottle } from './login-throttle.js';
import { hashPassword } from './passwords.js';
import { SqliteUserStore } from './sqlite-user-store.js';
import { MAX_ACTIVE_KEYS_PER_USER, registerUserService } from './user-service.js';

const OPERATOR_TOKEN = 'operator-token-0123456789';

const databases: CatalogDatabase[] = [];
afterEach(() => {
  for (const db of databases.splice(0)) db.close();
});

async function setup() {
  const db = CatalogDatabase.open(':memory:');
  databases.push(db);
  const store = new SqliteUserStore(db);
  const removed: string[] = [];
  let clock = 0;
  const throttle = new LoginThrottle(() => clock);
  const transport = createRouterTransport(
    (router) =>
      registerUserService(router, {
        store,
        throttle,
        requireUser,
        requireAdmin,
        // in-process calls have no peer; the test names one in a header
        remoteAddress: (context) => context.requestHeader.get('x-test-peer') ?? undefined,
        onUserRemoved: (userId) => {
          removed.push(userId);
        },
        now: () => new Date(Date.UTC(2026, 11, 3, 13, 40)),
      }),
    { router: { interceptors: [authenticate(apiKeyAuthenticator(store, adminBearer(OPERATOR_TOKEN)))] } },
  );
  const client = createClient(UserService, transport);
  const before = new Date(Date.UTC(2026, 11, 1));
  const admin = await createUserWithKey(store, { name: 'admin', role: 'admin' }, 'first run', before);
  const member = await createUserWithKey(
    store,
    { name: 'bob', role: 'member', passwordHash: await hashPassword('bobs password') },
    'first key',
    before,
  );
  if (!admin || !member) throw new Error('setup users exist already');
  const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
  return {
    store,
    client,
    removed,
    admin: as(admin.key),
    adminId: admin.user.id,
    bob: as(member.key),
    bobId: member.user.id,
    operator: as(OPERATOR_TOKEN),
    as,
    tick: (ms: number) => {
      clock += ms;
    },
  };
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('call succeeded');
}

describe('UserService.Login', () => {
  it('trades the right password for a new working key; wrong name and wrong password look the same', async () => {
    const t = await setup();
    const wrongPassword = await failure(t.client.login({ name: 'bob', password: 'not bobs' }));
    const wrongName = await failure(t.client.login({ name: 'nobody', password: 'bobs password' }));
    const noPassword = await failure(t.client.login({ name: 'admin', password: 'anything at all' }));
    for (const error of [wrongPassword, wrongName, noPassword]) {
      expect(error.code).toBe(Code.Unauthenticated);
      expect(error.rawMessage).toBe('wrong user name or password');
    }
    const login = await t.client.login({ name: 'bob', password: 'bobs password' });
    expect(login.key).toMatch(/^awk_/);
    expect(login.keyInfo?.name).toBe('login 2026-12-03 13:40');
    expect(login.user?.name).toBe('bob');
    const me = await t.client.whoAmI({}, t.as(login.key));
    expect(me.user?.name).toBe('bob');
    expect(me.role).toBe(UserRole.MEMBER);
  });

  it('checks sizes before hashing, and throttles repeated failures per name and per address', async () => {
    const t = await setup();
    expect((await failure(t.client.login({ name: 'Bob!', password: 'x' }))).rawMessage).toMatch(/^name must be/);
    const huge = await failure(t.client.login({ name: 'bob', password: 'p'.repeat(1025) }));
    expect(huge.code).toBe(Code.InvalidArgument);
    expect(huge.rawMessage).toMatch(/^password is 1025 bytes/);
    expect((await failure(t.client.login({ name: 'bob', password: '' }))).code).toBe(Code.InvalidArgument);

    const peer = { headers: { 'x-test-peer': '192.0.2.7' } };
    for (let i = 0; i < 5; i++) await failure(t.client.login({ name: 'bob', password: `guess ${i}` }, peer));
    const locked = await failure(t.client.login({ name: 'bob', password: 'bobs password' }));
    expect(locked.code).toBe(Code.ResourceExhausted);
    expect(locked.rawMessage).toMatch(/user "bob": try again in 30 s$/);
    // the address is locked out too, for any name
    const fromPeer = await failure(t.client.login({ name: 'admin', password: 'whatever' }, peer));
    expect(fromPeer.rawMessage).toMatch(/address 192\.0\.2\.7: try again in \d+ s$/);
    t.tick(30_000);
    expect((await t.client.login({ name: 'bob', password: 'bobs password' })).key).toMatch(/^awk_/);
  });
});

describe('UserService.WhoAmI', () => {
  it('names the user, says admin for the operator token, and refuses no key', async () => {
    const t = await setup();
    expect((await t.client.whoAmI({}, t.admin)).user?.name).toBe('admin');
    expect((await t.client.whoAmI({}, t.admin)).role).toBe(UserRole.ADMIN);
    const operator = await t.client.whoAmI({}, t.operator);
    expect(operator.user).toBeUndefined();
    expect(operator.role).toBe(UserRole.ADMIN);
    expect((await failure(t.client.whoAmI({}))).code).toBe(Code.Unauthenticated);
    expect((await failure(t.client.whoAmI({}, t.as('awk_unknown')))).code).toBe(Code.Unauthenticated);
  });
});

describe('UserService user management', () => {
  it('an admin (user or operator token) adds users whose first key works; bad fields are named', async () => {
    const t = await setup();
    const carol = await t.client.createUser(
      { name: 'carol', role: UserRole.MEMBER, password: 'carols secret' },
      t.admin,
    );
    expect(carol.user).toMatchObject({ name: 'carol', role: UserRole.MEMBER, hasPassword: true });
    expect((await t.client.whoAmI({}, t.as(carol.key))).user?.id).toBe(carol.user?.id);
    const dave = await t.client.createUser({ name: 'dave', role: UserRole.ADMIN }, t.operator);
    expect(dave.user).toMatchObject({ role: UserRole.ADMIN, hasPassword: false });

    const invalid: [Parameters<typeof t.client.createUser>[0], RegExp][] = [
      [{ name: 'Eve', role: UserRole.MEMBER }, /^name must be 1-64 characters/],
      [{ name: 'e'.repeat(65), role: UserRole.MEMBER }, /^name must be/],
      [{ name: 'eve', role: UserRole.UNSPECIFIED }, /^role must be/],
      [{ name: 'eve', role: UserRole.MEMBER, password: 'short' }, /^password must be at least 8 bytes/],
    ];
    for (const [request, message] of invalid) {
      const error = await failure(t.client.createUser(request, t.admin));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toMatch(message);
    }
    expect((await failure(t.client.createUser({ name: 'carol', role: UserRole.MEMBER }, t.admin))).code).toBe(
      Code.AlreadyExists,
    );
    expect((await t.client.listUsers({}, t.admin)).users.map((u) => u.name)).toEqual(['admin', 'bob', 'carol', 'dave']);
  });

  it('refuses members (PERMISSION_DENIED) and callers without a key (UNAUTHENTICATED)', async () => {
    const t = await setup();
    const calls = [
      (o?: object) => t.client.createUser({ name: 'eve', role: UserRole.MEMBER }, o),
      (o?: object) => t.client.listUsers({}, o),
      (o?: object) => t.client.removeUser({ name: 'admin' }, o),
      (o?: object) => t.client.resetKey({ name: 'admin' }, o),
      (o?: object) => t.client.setPassword({ name: 'admin', newPassword: 'taken over' }, o),
    ];
    for (const call of calls) {
      const denied = await failure(call(t.bob));
      expect(denied.code).toBe(Code.PermissionDenied);
      expect(denied.rawMessage).toMatch(/needs an admin; bob is a member$/);
      expect((await failure(call())).code).toBe(Code.Unauthenticated);
    }
    for (const call of [
      () => t.client.createApiKey({ name: 'x' }),
      () => t.client.listApiKeys({}),
      () => t.client.revokeApiKey({ id: 'x' }),
      () => t.client.setPassword({ newPassword: 'whatever1' }),
    ]) {
      expect((await failure(call())).code).toBe(Code.Unauthenticated);
    }
  });

  it('removes a user, their keys stop working and the hook hears of it; the last admin stays', async () => {
    const t = await setup();
    const last = await failure(t.client.removeUser({ name: 'admin' }, t.admin));
    expect(last.code).toBe(Code.FailedPrecondition);
    expect(last.rawMessage).toMatch(/last admin/);
    expect((await failure(t.client.removeUser({ name: 'nobody' }, t.admin))).code).toBe(Code.NotFound);
    expect((await failure(t.client.removeUser({ name: 'BAD NAME' }, t.admin))).code).toBe(Code.InvalidArgument);

    await t.client.removeUser({ name: 'bob' }, t.admin);
    expect(t.removed).toEqual([t.bobId]);
    expect((await failure(t.client.whoAmI({}, t.bob))).code).toBe(Code.Unauthenticated);
    expect(await t.store.listKeys(t.bobId)).toEqual([]);

    // with a second admin, the first may go
    const second = await t.client.createUser({ name: 'root', role: UserRole.ADMIN }, t.admin);
    await t.client.removeUser({ name: 'admin' }, t.as(second.key));
    expect((await t.client.listUsers({}, t.as(second.key))).users.map((u) => u.name)).toEqual(['root']);
  });

  it("resets a user's keys: all old ones revoked, one new one working", async () => {
    const t = await setup();
    const extra = await t.client.createApiKey({ name: 'phone' }, t.bob);
    const reset = await t.client.resetKey({ name: 'bob' }, t.admin);
    expect(reset.revoked).toBe(2);
    for (const old of [t.bob, t.as(extra.key)]) {
      expect((await failure(t.client.whoAmI({}, old))).code).toBe(Code.Unauthenticated);
    }
    expect((await t.client.whoAmI({}, t.as(reset.key))).user?.name).toBe('bob');
    expect((await failure(t.client.resetKey({ name: 'nobody' }, t.admin))).code).toBe(Code.NotFound);
  });
});

describe('UserService.SetPassword', () => {
  it('changes your own with the old password, and anyone’s as an admin', async () => {
    const t = await setup();
    const wrong = await failure(t.client.setPassword({ oldPassword: 'nope', newPassword: 'new password' }, t.bob));
    expect(wrong.code).toBe(Code.PermissionDenied);
    expect(wrong.rawMessage).toMatch(/^old_password does not match/);
    const missing = await failure(t.client.setPassword({ newPassword: 'new password' }, t.bob));
    expect(missing.rawMessage).toBe('old_password is required');
    const short = await failure(t.client.setPassword({ oldPassword: 'bobs password', newPassword: 'short' }, t.bob));
    expect(short.rawMessage).toMatch(/^new_password must be at least 8 bytes/);

    await t.client.setPassword({ oldPassword: 'bobs password', newPassword: 'bobs new password' }, t.bob);
    expect((await t.client.login({ name: 'bob', password: 'bobs new password' })).user?.name).toBe('bob');
    // naming yourself is the same as leaving the name empty
    await t.client.setPassword({ name: 'bob', oldPassword: 'bobs new password', newPassword: 'third one' }, t.bob);

    // the admin has no password yet: setting the first needs no old one
    await t.client.setPassword({ newPassword: 'admin password' }, t.admin);
    await t.client.setPassword({ name: 'bob', newPassword: 'set by admin' }, t.admin);
    await t.client.setPassword({ name: 'bob', newPassword: 'set by operator' }, t.operator);
    expect((await t.client.login({ name: 'bob', password: 'set by operator' })).user?.name).toBe('bob');
    expect((await t.client.login({ name: 'admin', password: 'admin password' })).user?.name).toBe('admin');
    expect((await failure(t.client.setPassword({ name: 'ghost', newPassword: 'whatever1' }, t.admin))).code).toBe(
      Code.NotFound,
    );
  });
});

describe('UserService API keys', () => {
  it('creates, lists (never the key or its hash) and revokes your own keys', async () => {
    const t = await setup();
    const laptop = await t.client.createApiKey({ name: ' laptop ' }, t.bob);
    expect(laptop.keyInfo?.name).toBe('laptop');
    expect((await t.client.whoAmI({}, t.as(laptop.key))).user?.name).toBe('bob');
    const listed = await t.client.listApiKeys({}, t.bob);
    expect(listed.keys.map((k) => k.name)).toEqual(['first key', 'laptop']);
    const wire = JSON.stringify(toJson(ListApiKeysResponseSchema, listed));
    expect(wire).not.toContain(laptop.key);
    expect(wire).not.toContain(hashApiKey(laptop.key));
    // the first key authenticated these calls, so its use is recorded
    expect(listed.keys[0]?.lastUsedAt).toBeDefined();

    await t.client.revokeApiKey({ id: laptop.keyInfo?.id ?? '' }, t.bob);
    expect((await failure(t.client.whoAmI({}, t.as(laptop.key)))).code).toBe(Code.Unauthenticated);
    expect((await t.client.listApiKeys({}, t.bob)).keys.map((k) => k.revoked)).toEqual([false, true]);
  });

  it("treats another user's key id as unknown and checks names and the per-user cap", async () => {
    const t = await setup();
    const [adminKey] = await t.store.listKeys(t.adminId);
    const other = await failure(t.client.revokeApiKey({ id: adminKey?.id ?? '' }, t.bob));
    expect(other.code).toBe(Code.NotFound);
    expect((await t.store.getKey(adminKey?.id ?? ''))?.revoked).toBe(false);
    expect((await failure(t.client.revokeApiKey({ id: 'x'.repeat(65) }, t.bob))).code).toBe(Code.InvalidArgument);

    for (const name of ['', '   ', 'k'.repeat(65), 'tab\there']) {
      const error = await failure(t.client.createApiKey({ name }, t.bob));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toMatch(/^name /);
    }
    for (let i = 1; i < MAX_ACTIVE_KEYS_PER_USER; i++) await t.client.createApiKey({ name: `key ${i}` }, t.bob);
    const full = await failure(t.client.createApiKey({ name: 'one more' }, t.bob));
    expect(full.code).toBe(Code.ResourceExhausted);
    expect(full.rawMessage).toMatch(/revoke some first$/);
  });
});
