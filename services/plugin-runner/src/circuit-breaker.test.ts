import { PluginCallError } from '@awasm/runner-api';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, verdictOf } from './circuit-breaker.js';

const late = new PluginCallError('deadline-exceeded', 's', 'late');
const network = new PluginCallError('source-error', 's', 'x', { tag: 'network', val: 'reset' });

describe('verdictOf: only failures that are the source own count', () => {
  it('is neutral for a cancelled call and for any failure after the caller cut the call short', () => {
    expect(verdictOf(new PluginCallError('cancelled', 's', 'gone'), true)).toEqual({ kind: 'neutral' });
    expect(verdictOf(late, true, true)).toEqual({ kind: 'neutral' });
    expect(verdictOf(network, true, true)).toEqual({ kind: 'neutral' });
    expect(verdictOf(new PluginCallError('trap', 's', 'cut'), true, true)).toEqual({ kind: 'neutral' });
  });

  it('still counts the source own failures under its own timeout', () => {
    expect(verdictOf(late, true, false).kind).toBe('failure');
    expect(verdictOf(network, true).kind).toBe('failure');
    expect(verdictOf(new PluginCallError('trap', 's', 'boom'), true).kind).toBe('failure');
  });

  it('keeps a source healthy through many client-caused failures, opens on its own ones', () => {
    const breaker = new CircuitBreaker('s', () => 0, { failureThreshold: 5 });
    for (let i = 0; i < 20; i++) {
      breaker.record(verdictOf(late, true, true), false);
      breaker.record(verdictOf(new PluginCallError('cancelled', 's', 'gone'), true), false);
    }
    expect(breaker.health()).toMatchObject({ state: 'healthy', consecutiveFailures: 0 });
    for (let i = 0; i < 5; i++) breaker.record(verdictOf(late, true, false), false);
    expect(breaker.health().state).toBe('unhealthy');
  });
});
