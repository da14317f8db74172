import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './login-throttle.js';

function refusal(run: () => void): ConnectError | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return ConnectError.from(error);
  }
}

describe('LoginThrottle', () => {
  it('refuses after five failures, naming the wait, then allows again after it', () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < 4; i++) throttle.recordFailure('alice');
    expect(refusal(() => throttle.check('alice'))).toBeUndefined();
    throttle.recordFailure('alice');
    const error = refusal(() => throttle.check('alice'));
    expect(error?.code).toBe(Code.ResourceExhausted);
    expect(error?.rawMessage).toContain('try again in 30 s');
    expect(refusal(() => throttle.check('bob'))).toBeUndefined();
    now += 30_000;
    expect(refusal(() => throttle.check('alice'))).toBeUndefined();
  });

  it('grows the delay with each lockout', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < 5; i++) throttle.recordFailure('alice');
    now += 30_000;
    for (let i = 0; i < 5; i++) throttle.recordFailure('alice');
    expect(refusal(() => throttle.check('alice'))?.rawMessage).toContain('try again in 60 s');
  });

  it('throttles per remote address across user names', () => {
    const throttle = new LoginThrottle(() => 0);
    for (let i = 0; i < 5; i++) throttle.recordFailure(`user${i}`, '10.0.0.1');
    expect(refusal(() => throttle.check('someone', '10.0.0.1'))?.rawMessage).toContain('address 10.0.0.1');
    expect(refusal(() => throttle.check('someone', '10.0.0.2'))).toBeUndefined();
  });

  it('forgets failures outside the window and on success', () => {
    let now = 0;
    const throttle = new LoginThrottle(() => now);
    for (let i = 0; i < 4; i++) throttle.recordFailure('alice');
    now += 15 * 60_000;
    throttle.recordFailure('alice');
    expect(refusal(() => throttle.check('alice'))).toBeUndefined();
    for (let i = 0; i < 3; i++) throttle.recordFailure('alice');
    throttle.recordSuccess('alice');
    throttle.recordFailure('alice');
    expect(refusal(() => throttle.check('alice'))).toBeUndefined();
  });
});
