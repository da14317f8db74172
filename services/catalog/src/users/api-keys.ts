import { createHash, randomBytes } from 'node:crypto';

/** Readable prefix of every API key, so a leaked key is recognisable in logs and secret scanners. */
export const API_KEY_PREFIX = 'awk_';

/** A new API key: 32 random bytes, base64url, after the prefix. Shown to its owner once, never stored. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** The sha256 (hex) of a key: the only form in which keys are stored and looked up. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Last-used times are written at most this often per key, so authenticating is not a write per call. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** True when a key last used at `lastUsedAt` (ms, or undefined for never) should have its time rewritten now. */
export function shouldRecordUse(lastUsedAt: number | undefined, now: number): boolean {
  return lastUsedAt === undefined || now - lastUsedAt >= LAST_USED_RESOLUTION_MS;
}
