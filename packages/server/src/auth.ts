/**
 * Who is calling, found once per call by the server's authenticator and put into the call's context
 * values, so a service asks `callerOf(context)` (or `requireUser` / `requireAdmin`) instead of
 * reading credentials itself.
 */
import { timingSafeEqual } from 'node:crypto';
import { Code, ConnectError, type ContextValues, createContextKey, type Interceptor } from '@connectrpc/connect';

/** What a user may do: admins also install plugins and manage repositories and users. */
export type Role = 'admin' | 'member';

/**
 * The caller of one call. A user has a `userId`; the operator holding the registry's admin token is
 * an admin without one; anyone else is anonymous.
 */
export interface Caller {
  readonly role: Role | 'anonymous';
  readonly userId?: string;
  readonly userName?: string;
}

/** A caller that is a user of this server. */
export interface UserCaller extends Caller {
  readonly role: Role;
  readonly userId: string;
  readonly userName: string;
}

export const ANONYMOUS: Caller = Object.freeze({ role: 'anonymous' });
const OPERATOR: Caller = Object.freeze({ role: 'admin' });

const callerKey = createContextKey<Caller>(ANONYMOUS, { description: 'who is calling' });

/**
 * Finds the caller from a request's headers. It never throws for bad credentials (an unknown
 * caller is ANONYMOUS); it may be async, for an authenticator that looks a key up in a store.
 */
export type Authenticator = (header: Headers) => Caller | Promise<Caller>;

/** The interceptor that runs the authenticator and records its caller for the handlers. */
export function authenticate(authenticator: Authenticator): Interceptor {
  return (next) => async (request) => {
    request.contextValues.set(callerKey, await authenticator(request.header));
    return next(request);
  };
}

/** The caller the authenticator recorded, or ANONYMOUS when no authenticator ran. */
export function callerOf(context: { readonly values: ContextValues }): Caller {
  return context.values.get(callerKey);
}

const NEEDS_KEY =
  'this call needs an API key: send `authorization: Bearer <key>` (`awasm login` stores one for the CLI)';

/** The user making this call; UNAUTHENTICATED when the call carries no valid key. */
export function requireUser(context: { readonly values: ContextValues }): UserCaller {
  const caller = callerOf(context);
  if (caller.role === 'anonymous' || caller.userId === undefined)
    throw new ConnectError(NEEDS_KEY, Code.Unauthenticated);
  return caller as UserCaller;
}

/**
 * An admin caller (a user with the admin role, or the operator's admin token): UNAUTHENTICATED
 * without a key, PERMISSION_DENIED for a member. `what` names the refused action in the message.
 */
export function requireAdmin(context: { readonly values: ContextValues }, what: string): Caller {
  const caller = callerOf(context);
  if (caller.role === 'anonymous') throw new ConnectError(NEEDS_KEY, Code.Unauthenticated);
  if (caller.role !== 'admin') {
    throw new ConnectError(
      `${what} needs an admin; ${caller.userName ?? 'this user'} is a member`,
      Code.PermissionDenied,
    );
  }
  return caller;
}

const remoteAddressKey = createContextKey<string | undefined>(undefined, { description: 'the peer address' });

/** Context values carrying the caller's network address (set by createServer for every call). */
export function withRemoteAddress(values: ContextValues, address: string | undefined): ContextValues {
  values.set(remoteAddressKey, address);
  return values;
}

/** The address the call came from (the TCP peer, not a header a client could set); undefined in-process. */
export function remoteAddressOf(context: { readonly values: ContextValues }): string | undefined {
  return context.values.get(remoteAddressKey);
}

/** The operator is whoever sends `authorization: Bearer <adminToken>`; without a token nobody is. */
export function adminBearer(adminToken: string | undefined): Authenticator {
  const wanted = Buffer.from(adminToken ?? '');
  return (header) => {
    if (!adminToken) return ANONYMOUS;
    const match = /^Bearer (\S+)$/.exec(header.get('authorization') ?? '');
    const given = Buffer.from(match?.[1] ?? '');
    return match && given.length === wanted.length && timingSafeEqual(given, wanted) ? OPERATOR : ANONYMOUS;
  };
}
