/**
 * Who is calling, found once per call by the server's authenticator and put into the call's context
 * values, so a service asks `callerOf(context)` instead of reading credentials itself.
 */
import { timingSafeEqual } from 'node:crypto';
import { type ContextValues, createContextKey, type Interceptor } from '@connectrpc/connect';

/** The caller of one call: the operator (holding the admin token) or anyone else. */
export interface Caller {
  readonly role: 'admin' | 'anonymous';
}

export const ANONYMOUS: Caller = Object.freeze({ role: 'anonymous' });
const ADMIN: Caller = Object.freeze({ role: 'admin' });

const callerKey = createContextKey<Caller>(ANONYMOUS, { description: 'who is calling' });

/** Finds the caller from a request's headers; never throws (an unknown caller is ANONYMOUS). */
export type Authenticator = (header: Headers) => Caller;

/** The interceptor that runs the authenticator and records its caller for the handlers. */
export function authenticate(authenticator: Authenticator): Interceptor {
  return (next) => (request) => {
    request.contextValues.set(callerKey, authenticator(request.header));
    return next(request);
  };
}

/** The caller the authenticator recorded, or ANONYMOUS when no authenticator ran. */
export function callerOf(context: { readonly values: ContextValues }): Caller {
  return context.values.get(callerKey);
}

/** The operator is whoever sends `authorization: Bearer <adminToken>`; without a token nobody is. */
export function adminBearer(adminToken: string | undefined): Authenticator {
  const wanted = Buffer.from(adminToken ?? '');
  return (header) => {
    if (!adminToken) return ANONYMOUS;
    const match = /^Bearer (\S+)$/.exec(header.get('authorization') ?? '');
    const given = Buffer.from(match?.[1] ?? '');
    return match && given.length === wanted.length && timingSafeEqual(given, wanted) ? ADMIN : ANONYMOUS;
  };
}
