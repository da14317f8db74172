import { expect, describe as group, it } from 'vitest';
import { describe, guestResult, MAX_ERROR_TEXT, MAX_RESULT_BYTES } from './guest-result.mjs';

const noExit = () => undefined;

function api(fns: Record<string, (...args: unknown[]) => unknown>) {
  return fns;
}

function sourceError(tag: string, val?: unknown) {
  return Object.assign(new Error('ComponentError'), { payload: val === undefined ? { tag } : { tag, val } });
}

group('guestResult', () => {
  it('passes a value and its arguments through', () => {
    const result = guestResult(api({ search: (q, c) => ({ items: [q], next: c }) }), 'search', ['x', 'c1'], noExit);
    expect(result).toEqual({ ok: true, value: { items: ['x'], next: 'c1' } });
  });

  it('refuses an operation the guest does not export', () => {
    expect(guestResult(api({}), 'list', [], noExit)).toEqual({
      ok: false,
      error: { kind: 'refused', message: 'unknown operation list' },
    });
  });

  it('traps a result over the lift budget, counting every value, not just bytes', () => {
    const empties = Array.from({ length: MAX_RESULT_BYTES / 32 }, () => '');
    const result = guestResult(api({ list: () => empties }), 'list', [], noExit);
    expect(result).toEqual({
      ok: false,
      error: { kind: 'trap', message: `the plugin returned a result of more than ${MAX_RESULT_BYTES} bytes` },
    });
  });

  it('keeps a short source error and cuts a long message, marking the cut', () => {
    const short = guestResult(
      api({
        get: () => {
          throw sourceError('not-found');
        },
      }),
      'get',
      [],
      noExit,
    );
    expect(short).toEqual({
      ok: false,
      error: { kind: 'source-error', message: 'not-found', sourceError: { tag: 'not-found' } },
    });
    const long = guestResult(
      api({
        get: () => {
          throw sourceError('parse', 'x'.repeat(5000));
        },
      }),
      'get',
      [],
      noExit,
    );
    expect(long.ok).toBe(false);
    const cut = long.ok ? undefined : long.error.sourceError?.val;
    expect(cut).toBe(`${'x'.repeat(MAX_ERROR_TEXT)}… (cut at ${MAX_ERROR_TEXT} characters by the host)`);
  });

  it('traps a URL error over the text cap instead of sending a cut URL', () => {
    const url = `https://a.test/${'p'.repeat(MAX_ERROR_TEXT)}`;
    const result = guestResult(
      api({
        get: () => {
          throw sourceError('challenge', url);
        },
      }),
      'get',
      [],
      noExit,
    );
    expect(result).toEqual({
      ok: false,
      error: {
        kind: 'trap',
        message: `the plugin returned a challenge error with a URL of more than ${MAX_ERROR_TEXT} characters`,
      },
    });
  });

  it('names an exit, and any other throw by its message', () => {
    const exit = guestResult(
      api({
        get: () => {
          throw new Error('exit');
        },
      }),
      'get',
      [],
      () => 'the plugin called exit(3)',
    );
    expect(exit).toEqual({ ok: false, error: { kind: 'trap', message: 'the plugin called exit(3)' } });
    const trap = guestResult(
      api({
        get: () => {
          throw new WebAssembly.RuntimeError('unreachable');
        },
      }),
      'get',
      [],
      noExit,
    );
    expect(trap).toEqual({ ok: false, error: { kind: 'trap', message: 'wasm `unreachable` instruction executed' } });
    expect(describe('plain')).toBe('plain');
  });
});
