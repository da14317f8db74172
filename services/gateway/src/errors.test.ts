import { PluginCallError, type PluginCallErrorKind, sourceErrorMessage } from '@awasm/runner-api';
import { SourceErrorSchema } from '@awasm/shared/gen/awasm/v1/source_error_pb.js';
import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { MAX_ECHO_CHARS, MAX_RUNNER_MESSAGE_CHARS, toConnectError } from './errors.js';

const SOURCE = 'demo-library';

function detailOf(error: ConnectError) {
  const details = error.findDetails(SourceErrorSchema);
  expect(details).toHaveLength(1);
  return details[0];
}

describe('toConnectError: every call error kind', () => {
  const cases: Array<[PluginCallErrorKind, Code, string]> = [
    ['deadline-exceeded', Code.DeadlineExceeded, `source '${SOURCE}': took too long`],
    ['cancelled', Code.Canceled, `source '${SOURCE}': took too long`],
    ['trap', Code.Internal, `source '${SOURCE}' crashed: took too long`],
    ['not-loaded', Code.Unavailable, `source '${SOURCE}' is not loaded: took too long`],
    ['refused', Code.InvalidArgument, 'took too long'],
    ['unavailable', Code.Unavailable, 'took too long'],
    ['malformed-output', Code.Internal, 'took too long'],
  ];
  it.each(cases)('%s is %s', (kind, code, message) => {
    const error = toConnectError(SOURCE, new PluginCallError(kind, SOURCE, 'took too long'));
    expect(error.code).toBe(code);
    expect(error.rawMessage).toBe(message);
    expect(error.findDetails(SourceErrorSchema)).toEqual([]);
  });

  it('passes a ConnectError through and makes anything else INTERNAL', () => {
    const own = new ConnectError('no such source', Code.NotFound);
    expect(toConnectError(SOURCE, own)).toBe(own);
    const other = toConnectError(SOURCE, new Error('boom'));
    expect(other.code).toBe(Code.Internal);
    expect(other.rawMessage).toBe(`source '${SOURCE}' failed: boom`);
  });

  it('never repeats more than the echo limits of a runner message or a source id', () => {
    const long = toConnectError('s'.repeat(5000), new PluginCallError('trap', SOURCE, 'x'.repeat(50_000)));
    expect(long.rawMessage.length).toBeLessThan(MAX_ECHO_CHARS + MAX_RUNNER_MESSAGE_CHARS + 100);
    expect(long.rawMessage).toContain('(50000 characters)');
    expect(long.rawMessage).toContain('(5000 characters)');
  });
});

describe('toConnectError: every source-error tag', () => {
  const cases: Array<[tag: string, val: string | number | undefined, code: Code, detail: object]> = [
    ['network', 'refused', Code.Unavailable, { case: 'network', value: { detail: 'refused' } }],
    ['rate-limited', 30, Code.ResourceExhausted, { case: 'rateLimited', value: { retryAfterSeconds: 30 } }],
    ['rate-limited', undefined, Code.ResourceExhausted, { case: 'rateLimited', value: {} }],
    [
      'challenge',
      'https://x.test/check',
      Code.FailedPrecondition,
      { case: 'challenge', value: { url: 'https://x.test/check' } },
    ],
    ['auth-required', undefined, Code.Unauthenticated, { case: 'authRequired', value: {} }],
    ['not-found', undefined, Code.NotFound, { case: 'notFound', value: {} }],
    ['parse', 'no title', Code.Internal, { case: 'parse', value: { detail: 'no title' } }],
    ['unsupported', undefined, Code.Unimplemented, { case: 'unsupported', value: {} }],
    [
      'domain-moved',
      'https://new.test',
      Code.FailedPrecondition,
      { case: 'domainMoved', value: { newBase: 'https://new.test' } },
    ],
    ['internal', 'it broke', Code.Internal, { case: 'internal', value: { detail: 'it broke' } }],
    ['root-access', undefined, Code.Internal, { case: 'internal', value: { detail: 'root-access' } }],
  ];
  it.each(cases)('%s (%s) is %s with its detail', (tag, val, code, kind) => {
    const variant = val === undefined ? { tag } : { tag, val };
    const message = sourceErrorMessage(SOURCE, variant);
    const error = toConnectError(SOURCE, new PluginCallError('source-error', SOURCE, message, variant));
    expect(error.code).toBe(code);
    expect(error.rawMessage).toBe(message);
    const detail = detailOf(error);
    expect(detail?.sourceId).toBe(SOURCE);
    expect(detail?.message).toBe(message);
    expect(detail?.kind).toMatchObject(kind);
  });

  it('cuts a plugin text in the detail to the plugin text limit', () => {
    const variant = { tag: 'parse', val: 'p'.repeat(10_000) };
    const error = toConnectError(
      SOURCE,
      new PluginCallError('source-error', SOURCE, sourceErrorMessage(SOURCE, variant), variant),
    );
    const kind = detailOf(error)?.kind;
    expect(kind?.case).toBe('parse');
    const detail = kind?.case === 'parse' ? kind.value.detail : '';
    expect(detail).toMatch(/… \(10000 characters\)$/);
    expect(detail.length).toBeLessThan(600);
    expect(error.rawMessage.length).toBeLessThan(MAX_RUNNER_MESSAGE_CHARS + 50);
  });

  it('treats a source error without its variant as internal', () => {
    const error = toConnectError(SOURCE, new PluginCallError('source-error', SOURCE, 'it failed'));
    expect(error.code).toBe(Code.Internal);
    expect(detailOf(error)?.kind).toMatchObject({ case: 'internal', value: { detail: 'it failed' } });
  });
});
