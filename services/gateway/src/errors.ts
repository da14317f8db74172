import { PluginCallError, retryAfterSeconds, type SourceErrorVariant, sourceErrorText } from '@awasm/runner-api';
import { echo } from '@awasm/server';
import { type SourceError, SourceErrorSchema } from '@awasm/shared/gen/awasm/v1/source_error_pb.js';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';

export { MAX_ECHO_CHARS } from '@awasm/server';

/** The most of a runner's message (which may quote plugin text) an error repeats. */
export const MAX_RUNNER_MESSAGE_CHARS = 1000;

type SourceErrorKind = SourceError['kind'];

/** The gRPC status of each source-error tag, and its SourceError detail variant. */
function sourceErrorStatus(variant: SourceErrorVariant): { code: Code; kind: SourceErrorKind } {
  // the plugin's own text is cut on the runner side; it is cut here too, not relying on that
  const text = sourceErrorText(variant);
  switch (variant.tag) {
    case 'network':
      return { code: Code.Unavailable, kind: { case: 'network', value: { detail: text } } as SourceErrorKind };
    case 'rate-limited': {
      const retryAfter = retryAfterSeconds(variant);
      const value = retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter };
      return { code: Code.ResourceExhausted, kind: { case: 'rateLimited', value } as SourceErrorKind };
    }
    case 'challenge':
      return { code: Code.FailedPrecondition, kind: { case: 'challenge', value: { url: text } } as SourceErrorKind };
    case 'auth-required':
      return { code: Code.Unauthenticated, kind: { case: 'authRequired', value: {} } as SourceErrorKind };
    case 'not-found':
      return { code: Code.NotFound, kind: { case: 'notFound', value: {} } as SourceErrorKind };
    case 'parse':
      return { code: Code.Internal, kind: { case: 'parse', value: { detail: text } } as SourceErrorKind };
    case 'unsupported':
      return { code: Code.Unimplemented, kind: { case: 'unsupported', value: {} } as SourceErrorKind };
    case 'domain-moved':
      return {
        code: Code.FailedPrecondition,
        kind: { case: 'domainMoved', value: { newBase: text } } as SourceErrorKind,
      };
    default:
      return {
        code: Code.Internal,
        kind: { case: 'internal', value: { detail: text || echo(variant.tag) } } as SourceErrorKind,
      };
  }
}

/** The gRPC status of every other kind of failed call, and whether its message gets the source as prefix. */
const CALL_STATUS: Record<Exclude<PluginCallError['kind'], 'source-error'>, { code: Code; prefix?: string }> = {
  // the caller went away or cancelled: not the source's failure
  cancelled: { code: Code.Canceled, prefix: '' },
  'deadline-exceeded': { code: Code.DeadlineExceeded, prefix: '' },
  'not-loaded': { code: Code.Unavailable, prefix: ' is not loaded' },
  // the source's circuit is open: the message says why and when it is retried
  unavailable: { code: Code.Unavailable },
  // the message names the field, as the gateway's own refusals do
  refused: { code: Code.InvalidArgument },
  // the runner's message names the source and the field
  'malformed-output': { code: Code.Internal },
  trap: { code: Code.Internal, prefix: ' crashed' },
};

/** Maps anything a SourceRunner call can reject with to a ConnectError with a real status code. */
export function toConnectError(rawSourceId: string, error: unknown): ConnectError {
  const sourceId = echo(rawSourceId);
  if (error instanceof ConnectError) return error;
  if (error instanceof PluginCallError) {
    const message = echo(error.message, MAX_RUNNER_MESSAGE_CHARS);
    if (error.kind === 'source-error') {
      const variant = error.sourceError ?? { tag: 'internal', val: error.message };
      const { code, kind } = sourceErrorStatus(variant);
      const detail = create(SourceErrorSchema, { sourceId, message, kind });
      return new ConnectError(message, code, undefined, [{ desc: SourceErrorSchema, value: detail }], error);
    }
    const { code, prefix } = CALL_STATUS[error.kind] ?? CALL_STATUS.trap;
    const text = prefix === undefined ? message : `source '${sourceId}'${prefix}: ${message}`;
    return new ConnectError(text, code, undefined, undefined, error);
  }
  return new ConnectError(
    `source '${sourceId}' failed: ${echo(String((error as Error)?.message), MAX_RUNNER_MESSAGE_CHARS)}`,
    Code.Internal,
    undefined,
    undefined,
    error,
  );
}
