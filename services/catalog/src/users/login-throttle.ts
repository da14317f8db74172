import { Code, ConnectError } from '@connectrpc/connect';

/** Failures allowed within the window before attempts are refused. */
const MAX_FAILURES = 5;
/** Failures older than this are forgotten. */
const FAILURE_WINDOW_MS = 15 * 60_000;
/** The first lockout; each further failure while throttled doubles it, up to the maximum. */
const BASE_DELAY_MS = 30_000;
const MAX_DELAY_MS = 60 * 60_000;

interface FailureRecord {
  failures: number[];
  lockouts: number;
  lockedUntil: number;
}

/**
 * Throttles password logins in memory, per user name and per remote address: after five failures
 * within the window, attempts are refused for a delay that grows with each further lockout; a
 * successful login resets the user's and address's records.
 */
export class LoginThrottle {
  private readonly records = new Map<string, FailureRecord>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Throws RESOURCE_EXHAUSTED naming the wait when the name or the address is locked out. */
  check(userName: string, remoteAddress?: string): void {
    const now = this.now();
    for (const key of this.keysOf(userName, remoteAddress)) {
      const record = this.records.get(key);
      if (record && record.lockedUntil > now) {
        const seconds = Math.ceil((record.lockedUntil - now) / 1000);
        throw new ConnectError(
          `too many failed logins for ${key.startsWith('user:') ? `user "${userName}"` : `address ${remoteAddress}`}: try again in ${seconds} s`,
          Code.ResourceExhausted,
        );
      }
    }
  }

  /** Records a failed attempt; the fifth within the window starts a lockout. */
  recordFailure(userName: string, remoteAddress?: string): void {
    const now = this.now();
    for (const key of this.keysOf(userName, remoteAddress)) {
      const record = this.records.get(key) ?? { failures: [], lockouts: 0, lockedUntil: 0 };
      record.failures = record.failures.filter((at) => now - at < FAILURE_WINDOW_MS);
      record.failures.push(now);
      if (record.failures.length >= MAX_FAILURES) {
        record.lockedUntil = now + Math.min(BASE_DELAY_MS * 2 ** record.lockouts, MAX_DELAY_MS);
        record.lockouts += 1;
        record.failures = [];
      }
      this.records.set(key, record);
    }
  }

  /** A successful login forgets the name's and the address's failures. */
  recordSuccess(userName: string, remoteAddress?: string): void {
    for (const key of this.keysOf(userName, remoteAddress)) this.records.delete(key);
  }

  private keysOf(userName: string, remoteAddress?: string): string[] {
    return remoteAddress ? [`user:${userName}`, `address:${remoteAddress}`] : [`user:${userName}`];
  }
}
