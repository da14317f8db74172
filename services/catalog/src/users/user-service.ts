import { randomUUID } from 'node:crypto';
import {
  type ApiKey,
  ApiKeySchema,
  type User,
  UserRole as UserRoleMessage,
  UserSchema,
  UserService,
} from '@awasm/shared/gen/awasm/v1/user_service_pb.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import type { AccessChecks } from '../access.js';
import { generateApiKey, hashApiKey } from './api-keys.js';
import { createUserWithKey } from './authenticator.js';
import { LoginThrottle } from './login-throttle.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { type ApiKeyRecord, isValidUserName, type UserRecord, type UserRole, type UserStore } from './user-store.js';

export const MIN_PASSWORD_BYTES = 8;
/** scrypt reads the whole password, so its size is bounded before it is hashed */
export const MAX_PASSWORD_BYTES = 1024;
export const MAX_KEY_NAME_LENGTH = 64;
/** Keys a user may hold at once (revoked keys do not count). */
export const MAX_ACTIVE_KEYS_PER_USER = 100;
export const MAX_USERS = 1000;
const MAX_ID_LENGTH = 64;

const BAD_LOGIN = 'wrong user name or password';

export interface UserServiceDeps extends AccessChecks {
  store: UserStore;
  /** password login throttling; one per server process */
  throttle?: LoginThrottle;
  /** the caller's address, so the throttle also counts failures per address */
  remoteAddress?: (context: HandlerContext) => string | undefined;
  /** called after a user is removed, to remove their data kept elsewhere (their library) */
  onUserRemoved?: (userId: string) => Promise<void> | void;
  now?: () => Date;
}

function toUser(user: UserRecord): User {
  return create(UserSchema, {
    id: user.id,
    name: user.name,
    role: user.role === 'admin' ? UserRoleMessage.ADMIN : UserRoleMessage.MEMBER,
    hasPassword: user.passwordHash !== undefined,
    createdAt: timestampFromDate(user.createdAt),
  });
}

function toApiKey(key: ApiKeyRecord): ApiKey {
  return create(ApiKeySchema, {
    id: key.id,
    name: key.name,
    createdAt: timestampFromDate(key.createdAt),
    ...(key.lastUsedAt === undefined ? {} : { lastUsedAt: timestampFromDate(key.lastUsedAt) }),
    revoked: key.revoked,
  });
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

function checkUserName(field: string, name: string): string {
  if (!isValidUserName(name)) {
    throw invalid(
      `${field} must be 1-64 characters of a-z, 0-9, '.', '_' and '-', got ${JSON.stringify(name.slice(0, 80))}`,
    );
  }
  return name;
}

/** A password of a size scrypt may be given; `minimum` is false for Login, which only checks. */
function checkPassword(field: string, password: string, minimum = true): string {
  const bytes = Buffer.byteLength(password, 'utf8');
  if (bytes > MAX_PASSWORD_BYTES) throw invalid(`${field} is ${bytes} bytes; at most ${MAX_PASSWORD_BYTES}`);
  if (bytes === 0) throw invalid(`${field} is required`);
  if (minimum && bytes < MIN_PASSWORD_BYTES) throw invalid(`${field} must be at least ${MIN_PASSWORD_BYTES} bytes`);
  return password;
}

function checkKeyName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw invalid('name is required: a name for the key, such as "laptop"');
  if (trimmed.length > MAX_KEY_NAME_LENGTH) {
    throw invalid(`name is ${trimmed.length} characters; at most ${MAX_KEY_NAME_LENGTH}`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw invalid('name must not contain control characters');
  return trimmed;
}

function roleOf(role: UserRoleMessage): UserRole {
  if (role === UserRoleMessage.ADMIN) return 'admin';
  if (role === UserRoleMessage.MEMBER) return 'member';
  throw invalid('role must be USER_ROLE_MEMBER or USER_ROLE_ADMIN');
}

/** A key name with the minute it was made, e.g. "login 2026-12-03 13:40". */
function datedName(prefix: string, at: Date): string {
  return `${prefix} ${at.toISOString().slice(0, 16).replace('T', ' ')}`;
}

/** Serves awasm.v1.UserService: login, the caller's own keys, and the admins' user management. */
export function registerUserService(router: ConnectRouter, deps: UserServiceDeps): void {
  const { store } = deps;
  const throttle = deps.throttle ?? new LoginThrottle();
  const now = deps.now ?? (() => new Date());
  // A wrong name costs as much as a wrong password: both run one scrypt, so timing tells neither.
  let dummyHash: Promise<string> | undefined;

  async function userNamed(name: string): Promise<UserRecord> {
    const user = await store.getUserByName(checkUserName('name', name));
    if (!user) throw new ConnectError(`no user named '${name}'`, Code.NotFound);
    return user;
  }

  /** A user, or the operator's admin token (an admin without a user); UNAUTHENTICATED for anyone else. */
  function userOrOperator(context: HandlerContext, what: string): { role: string; userId?: string } {
    try {
      return deps.requireUser(context);
    } catch (error) {
      if (ConnectError.from(error).code !== Code.Unauthenticated) throw error;
      return deps.requireAdmin(context, what);
    }
  }

  async function ownUser(context: HandlerContext): Promise<UserRecord> {
    const { userId } = deps.requireUser(context);
    const user = await store.getUser(userId);
    // the key authenticated a moment ago; its user was removed since
    if (!user) throw new ConnectError('your user was removed', Code.Unauthenticated);
    return user;
  }

  /** Adds a key for the user, under the per-user cap; returns the key (shown once) and its record. */
  async function addKey(user: UserRecord, name: string): Promise<{ key: string; record: ApiKeyRecord }> {
    const active = (await store.listKeys(user.id)).filter((k) => !k.revoked).length;
    if (active >= MAX_ACTIVE_KEYS_PER_USER) {
      throw new ConnectError(
        `${user.name} has ${active} API keys; at most ${MAX_ACTIVE_KEYS_PER_USER}: revoke some first`,
        Code.ResourceExhausted,
      );
    }
    const key = generateApiKey();
    const record: ApiKeyRecord = {
      id: randomUUID(),
      userId: user.id,
      name,
      keyHash: hashApiKey(key),
      createdAt: now(),
      revoked: false,
    };
    await store.addKey(record);
    return { key, record };
  }

  async function checkPasswordOf(user: UserRecord | undefined, password: string): Promise<boolean> {
    if (user?.passwordHash) return verifyPassword(password, user.passwordHash);
    dummyHash ??= hashPassword('not a password of anyone');
    await verifyPassword(password, await dummyHash);
    return false;
  }

  router.service(UserService, {
    async login(request, context) {
      const name = checkUserName('name', request.name);
      const password = checkPassword('password', request.password, false);
      const address = deps.remoteAddress?.(context);
      throttle.check(name, address);
      const user = await store.getUserByName(name);
      if (!user || !(await checkPasswordOf(user, password))) {
        throttle.recordFailure(name, address);
        throw new ConnectError(BAD_LOGIN, Code.Unauthenticated);
      }
      throttle.recordSuccess(name, address);
      const { key, record } = await addKey(user, datedName('login', now()));
      return { key, keyInfo: toApiKey(record), user: toUser(user) };
    },

    async whoAmI(_request, context) {
      const caller = userOrOperator(context, 'WhoAmI');
      const user = caller.userId === undefined ? undefined : await ownUser(context);
      return {
        ...(user ? { user: toUser(user) } : {}),
        role: caller.role === 'admin' ? UserRoleMessage.ADMIN : UserRoleMessage.MEMBER,
      };
    },

    async createUser(request, context) {
      deps.requireAdmin(context, 'adding a user');
      const name = checkUserName('name', request.name);
      const role = roleOf(request.role);
      const password = request.password === undefined ? undefined : checkPassword('password', request.password);
      const count = await store.countUsers();
      if (count >= MAX_USERS) {
        throw new ConnectError(`this server has ${count} users; at most ${MAX_USERS}`, Code.ResourceExhausted);
      }
      const created = await createUserWithKey(
        store,
        { name, role, ...(password === undefined ? {} : { passwordHash: await hashPassword(password) }) },
        'first key',
        now(),
      );
      if (!created) throw new ConnectError(`a user named '${name}' exists already`, Code.AlreadyExists);
      return { user: toUser(created.user), key: created.key };
    },

    async listUsers(_request, context) {
      deps.requireAdmin(context, 'listing users');
      return { users: (await store.listUsers()).map(toUser) };
    },

    async removeUser(request, context) {
      deps.requireAdmin(context, 'removing a user');
      const user = await userNamed(request.name);
      if (user.role === 'admin') {
        const admins = (await store.listUsers()).filter((u) => u.role === 'admin').length;
        if (admins <= 1) {
          throw new ConnectError(
            `'${user.name}' is the last admin; add another admin before removing it`,
            Code.FailedPrecondition,
          );
        }
      }
      // the user loses access first; their data goes after
      if (!(await store.removeUser(user.id))) throw new ConnectError(`no user named '${user.name}'`, Code.NotFound);
      await deps.onUserRemoved?.(user.id);
      return {};
    },

    async resetKey(request, context) {
      deps.requireAdmin(context, "resetting a user's keys");
      const user = await userNamed(request.name);
      const revoked = await store.revokeKeysOf(user.id);
      const { key } = await addKey(user, datedName('reset', now()));
      return { key, revoked };
    },

    async setPassword(request, context) {
      const newPassword = checkPassword('new_password', request.newPassword);
      const caller = userOrOperator(context, "setting another user's password");
      const target = request.name === '' ? await ownUser(context) : await userNamed(request.name);
      if (target.id === caller.userId) {
        // your own: the key alone does not change the password, the old one must be known too
        if (target.passwordHash) {
          const address = deps.remoteAddress?.(context);
          throttle.check(target.name, address);
          const old = checkPassword('old_password', request.oldPassword, false);
          if (!(await verifyPassword(old, target.passwordHash))) {
            throttle.recordFailure(target.name, address);
            throw new ConnectError('old_password does not match your current password', Code.PermissionDenied);
          }
        }
      } else {
        deps.requireAdmin(context, "setting another user's password");
      }
      if (!(await store.setPasswordHash(target.id, await hashPassword(newPassword)))) {
        throw new ConnectError(`no user named '${target.name}'`, Code.NotFound);
      }
      return {};
    },

    async createApiKey(request, context) {
      const user = await ownUser(context);
      const { key, record } = await addKey(user, checkKeyName(request.name));
      return { key, keyInfo: toApiKey(record) };
    },

    async listApiKeys(_request, context) {
      const user = await ownUser(context);
      return { keys: (await store.listKeys(user.id)).map(toApiKey) };
    },

    async revokeApiKey(request, context) {
      const user = await ownUser(context);
      if (request.id.length === 0 || request.id.length > MAX_ID_LENGTH) {
        throw invalid(`id must be a key id from ListApiKeys (1-${MAX_ID_LENGTH} characters)`);
      }
      const key = await store.getKey(request.id);
      // another user's key is as unknown as a key that never was
      if (!key || key.userId !== user.id)
        throw new ConnectError(`you have no key with id '${request.id}'`, Code.NotFound);
      await store.revokeKey(key.id);
      return {};
    },
  });
}
