import { PluginCallError } from '@awasm/runner-api';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, verdictOf } from './circuit-breaker.js';
import { type Clock, checkRateOverrides, HostScheduler, parseRetryAfter } from './host-scheduler.js';

/** A clock that moves only when told to; sleepers wake in order as it passes their time. */
function fakeClock(start = 1_000_000): Clock & { advance(ms: number): Promise<void>; sleepers: number } {
  let now = start;
  const sleepers: Array<{ at: number; wake: () => void }> = [];
  return {
    now: () => now,
    sleep(ms) {
      return new Promise<void>((resolve) => {
        if (ms <= 0) resolve();
        else sleepers.push({ at: now + ms, wake: resolve });
      });
    },
    get sleepers() {
      return sleepers.length;
    },
    async advance(ms) {
      now += ms;
      sleepers.sort((a, b) => a.at - b.at);
      while (sleepers.length > 0 && (sleepers[0] as { at: number }).at <= now) sleepers.shift()?.wake();
      await new Promise((r) => setImmediate(r));
    },
  };
}

const target = { scheme: 'https', host: 'site.example', port: 443 };

describe('HostScheduler', () => {
  it('delays requests past the burst and refuses one that cannot start before the deadline', async () => {
    const clock = fakeClock();
    const source = new HostScheduler({ clock }).forSource('s', 1);
    const deadline = clock.now() + 1500;
    expect(await source.admit(target, deadline)).toEqual({ ok: true, waitedMs: 0 });
    const second = source.admit(target, deadline);
    await new Promise((r) => setImmediate(r));
    expect(clock.sleepers).toBe(1);
    await clock.advance(1000);
    expect(await second).toEqual({ ok: true, waitedMs: 1000 });
    // the third slot is at +2 s, after the deadline: refused at once, nothing waits
    const third = await source.admit(target, deadline);
    expect(third).toMatchObject({ ok: false, retryAfterSeconds: 1 });
    expect(third.ok ? '' : third.reason).toMatch(/rate limited: the next request to site.example may start in 1 s/);
    expect(clock.sleepers).toBe(0);
    expect(source.stats).toEqual({ admitted: 2, delayed: 1, refused: 1, holds: 0 });
  });

  it('keeps sources and hosts apart', async () => {
    const clock = fakeClock();
    const scheduler = new HostScheduler({ clock });
    const a = scheduler.forSource('a', 0.1);
    const b = scheduler.forSource('b', 0.1);
    const now = clock.now();
    expect((await a.admit(target, now)).ok).toBe(true);
    expect((await a.admit(target, now)).ok).toBe(false);
    expect((await a.admit({ ...target, host: 'other.example' }, now)).ok).toBe(true);
    expect((await b.admit(target, now)).ok).toBe(true);
  });

  it('leaves a source without a rate of its own unlimited unless the operator sets one', async () => {
    const clock = fakeClock();
    const free = new HostScheduler({ clock }).forSource('s', undefined);
    for (let i = 0; i < 100; i++) expect(await free.admit(target, clock.now())).toEqual({ ok: true, waitedMs: 0 });
    const capped = new HostScheduler({ clock, overrides: { '*': 0.1 } }).forSource('s', undefined);
    expect((await capped.admit(target, clock.now())).ok).toBe(true);
    expect((await capped.admit(target, clock.now())).ok).toBe(false);
    // Retry-After still holds an unlimited host
    await free.observe(target, 429, '5');
    expect(await free.admit(target, clock.now())).toMatchObject({ ok: false, retryAfterSeconds: 5 });
  });

  it('applies operator overrides by host, then "*", then the manifest rate', () => {
    const scheduler = new HostScheduler({ overrides: { 'slow.example': 0.5, '*': 50 } });
    expect(scheduler.forSource('s', 10).rateFor('slow.example')).toBe(0.5);
    expect(scheduler.forSource('s', 10).rateFor('any.example')).toBe(50);
    expect(new HostScheduler({ overrides: { 'slow.example': 0.5 } }).rateFor('any.example', 10)).toBe(10);
    expect(() => checkRateOverrides({ 'a.example': 0 })).toThrow(/'a.example' must be 0.1 to 1000/);
    expect(() => checkRateOverrides({ 'A B': 1 })).toThrow(/lowercase host name/);
  });

  it('honours Retry-After on 429 and 503 only, capped at the maximum', async () => {
    const clock = fakeClock();
    const scheduler = new HostScheduler({ clock, maxRetryAfterSeconds: 600 });
    const source = scheduler.forSource('s', 100);
    expect(await source.observe(target, 200, '30')).toBeUndefined();
    expect(await source.observe(target, 500, '30')).toBeUndefined();
    expect(await source.observe(target, 429, 'soon')).toBeUndefined();
    expect(await source.observe(target, 429, '30')).toBe(clock.now() + 30_000);
    const held = await source.admit(target, clock.now() + 10_000);
    expect(held).toMatchObject({ ok: false, retryAfterSeconds: 30 });
    await source.observe(target, 503, '86400');
    const capped = await source.admit(target, clock.now() + 10_000);
    expect(capped).toMatchObject({ ok: false, retryAfterSeconds: 600 });
    // a request allowed to wait that long is held until then
    const waiting = source.admit(target, clock.now() + 700_000);
    await new Promise((r) => setImmediate(r));
    expect(clock.sleepers).toBe(1);
    await clock.advance(600_000);
    expect(await waiting).toEqual({ ok: true, waitedMs: 600_000 });
    expect(source.stats.holds).toBe(2);
  });

  it('parses Retry-After as seconds or an HTTP-date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(now + 120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(now + 60_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(now);
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('tomorrow', now)).toBeUndefined();
  });
});

describe('CircuitBreaker', () => {
  it('refuses options out of range, naming the option', () => {
    const make = (options: ConstructorParameters<typeof CircuitBreaker>[2]) => () =>
      new CircuitBreaker('s', () => 0, options);
    expect(make({ failureThreshold: 0 })).toThrow(
      'circuitBreaker.failureThreshold must be an integer of at least 1, not 0',
    );
    expect(make({ failureThreshold: 2.5 })).toThrow(RangeError);
    expect(make({ openMs: -1 })).toThrow('circuitBreaker.openMs must be a finite number of ms, 0 or more, not -1');
    expect(make({ maxOpenMs: Number.NaN })).toThrow('circuitBreaker.maxOpenMs must be a finite number of ms');
    expect(make({ failureThreshold: 1, openMs: 0, maxOpenMs: 0 })).not.toThrow();
  });

  const network = new PluginCallError('source-error', 's', 'failed', { tag: 'network', val: 'connection refused' });

  it('classifies outcomes: network, parse, traps and running timeouts fail; answers succeed; the rest are neutral', () => {
    expect(verdictOf(undefined, true)).toEqual({ kind: 'success' });
    expect(verdictOf(network, true)).toEqual({ kind: 'failure', reason: 'network error: connection refused' });
    expect(verdictOf(new PluginCallError('trap', 's', 'boom'), true).kind).toBe('failure');
    expect(verdictOf(new PluginCallError('deadline-exceeded', 's', 'late'), true).kind).toBe('failure');
    expect(verdictOf(new PluginCallError('deadline-exceeded', 's', 'queued'), false).kind).toBe('neutral');
    expect(verdictOf(new PluginCallError('source-error', 's', 'x', { tag: 'not-found' }), true).kind).toBe('success');
    expect(verdictOf(new PluginCallError('source-error', 's', 'x', { tag: 'rate-limited', val: 5 }), true).kind).toBe(
      'neutral',
    );
    expect(verdictOf(new PluginCallError('refused', 's', 'too big'), false).kind).toBe('neutral');
    const long = verdictOf(
      new PluginCallError('source-error', 's', 'x', { tag: 'parse', val: 'y'.repeat(5000) }),
      true,
    );
    expect(long.kind === 'failure' && long.reason.length).toBeLessThan(400);
  });

  it('opens after the threshold, fails fast, lets one probe through after the cool-down, and backs off', () => {
    let now = 0;
    const breaker = new CircuitBreaker('s', () => now, { failureThreshold: 3, openMs: 1000, maxOpenMs: 3000 });
    const fail = () => breaker.record(verdictOf(network, true), false);
    fail();
    fail();
    breaker.record({ kind: 'success' }, false);
    expect(breaker.health()).toMatchObject({ state: 'healthy', consecutiveFailures: 0 });
    fail();
    fail();
    now = 10;
    fail();
    expect(breaker.health()).toMatchObject({ state: 'unhealthy', since: 10, retryAt: 1010 });
    expect(breaker.health().reason).toBe('3 failures in a row, the last: network error: connection refused');
    const refused = breaker.admit();
    expect(refused.ok).toBe(false);
    expect(refused.ok ? '' : refused.message).toMatch(
      /^source 's' is unhealthy since 1970-01-01T00:00:00.010Z \(3 failures .*\); retrying in 1 s$/,
    );

    now = 1010;
    expect(breaker.health().state).toBe('probing');
    const probe = breaker.admit();
    expect(probe).toEqual({ ok: true, probe: true });
    expect(breaker.admit().ok).toBe(false); // one probe at a time
    breaker.record(verdictOf(new PluginCallError('trap', 's', 'crashed'), true), true);
    expect(breaker.health()).toMatchObject({ state: 'unhealthy', since: 10, retryAt: 3010 });
    expect(breaker.health().reason).toBe('the probe call failed: trap: crashed');

    now = 3010;
    const second = breaker.admit();
    expect(second).toEqual({ ok: true, probe: true });
    // a neutral outcome releases the probe without deciding
    breaker.record({ kind: 'neutral' }, true);
    expect(breaker.admit()).toEqual({ ok: true, probe: true });
    now = 3500;
    breaker.record({ kind: 'success' }, true);
    expect(breaker.health()).toEqual({ state: 'healthy', reason: '', since: 3500, consecutiveFailures: 0 });
    expect(breaker.admit()).toEqual({ ok: true, probe: false });
  });
});
