import type { HandlerContext } from '@connectrpc/connect';
import type { RequireUser } from './updates/update-service.js';

export type { RequireUser } from './updates/update-service.js';

/**
 * The caller as packages/server/src/auth.ts's requireAdmin gives it: a user with the admin role, or
 * the operator's admin token (no user id). UNAUTHENTICATED without a key, PERMISSION_DENIED for a
 * member; `what` names the refused action.
 */
export type RequireAdmin = (
  context: HandlerContext,
  what: string,
) => { readonly role: 'admin' | 'member' | 'anonymous'; readonly userId?: string; readonly userName?: string };

/**
 * The caller checks of @awasm/server's auth.ts, injected into the catalog's handlers because the
 * catalog does not depend on the server package.
 */
export interface AccessChecks {
  requireUser: RequireUser;
  requireAdmin: RequireAdmin;
}
