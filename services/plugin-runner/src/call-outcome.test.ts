import { PluginCallError } from '@awasm/runner-api';
import { describe, expect, it } from 'vitest';
import { callOutcome } from './call-outcome.js';
import type { WorkerReply } from './source-worker.js';

const ok: WorkerReply = { ok: true, value: { items: [] }, dropped: 0 };
const sourceError: WorkerReply = {
  ok: false,
  error: { kind: 'source-error', message: 'not-found', sourceError: { tag: 'not-found' } },
  dropped: 0,
};
const refused: WorkerReply = { ok: false, error: { kind: 'refused', message: 'request refused' }, dropped: 0 };
const trap: WorkerReply = { ok: false, error: { kind: 'trap', message: 'unreachable' }, dropped: 0 };

function failure(reply: WorkerReply, rateLimited?: number) {
  const outcome = callOutcome('demo', 'search', reply, rateLimited);
  if (outcome.ok) throw new Error('expected a failure');
  expect(outcome.error).toBeInstanceOf(PluginCallError);
  expect(outcome.error.sourceId).toBe('demo');
  return outcome;
}

describe('callOutcome', () => {
  it('passes a value on', () => {
    expect(callOutcome('demo', 'search', ok, undefined)).toEqual({ ok: true, value: { items: [] } });
  });

  it("wraps a source error with the call's name and keeps its variant", () => {
    const outcome = failure(sourceError);
    expect(outcome.error.kind).toBe('source-error');
    expect(outcome.error.message).toBe('demo.search failed: not-found');
    expect(outcome.error.sourceError).toEqual({ tag: 'not-found' });
    expect(outcome).toMatchObject({ counts: 'sourceErrors', trapped: undefined });
  });

  it("passes the host's refusal on as it is, counted nowhere", () => {
    const outcome = failure(refused);
    expect(outcome.error.kind).toBe('refused');
    expect(outcome.error.message).toBe('request refused');
    expect(outcome).toMatchObject({ counts: undefined, trapped: undefined });
  });

  it('marks a trapped instance and counts the trap', () => {
    const outcome = failure(trap);
    expect(outcome.error.kind).toBe('trap');
    expect(outcome.error.message).toBe('demo.search trapped: unreachable');
    expect(outcome).toMatchObject({ counts: 'traps', trapped: 'unreachable' });
  });

  it.each([
    ['a value', ok, undefined],
    ['a source error', sourceError, undefined],
    ['a trap', trap, 'unreachable'],
  ])(
    'answers a rate-limited call with the typed rate-limited error whatever the plugin made of %s',
    (_, reply, trapped) => {
      const outcome = failure(reply, 3);
      expect(outcome.error.kind).toBe('source-error');
      expect(outcome.error.sourceError).toEqual({ tag: 'rate-limited', val: 3 });
      expect(outcome.error.message).toBe(
        'demo.search is rate limited: no request slot before its deadline; retry after 3 s',
      );
      // a trap under a rate limit still retires the instance, counted as the source error it answers
      expect(outcome).toMatchObject({ counts: 'sourceErrors', trapped });
    },
  );

  it('keeps a refusal a refusal when the call was also rate limited', () => {
    expect(failure(refused, 3).error.kind).toBe('refused');
  });
});
