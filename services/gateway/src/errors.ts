import { PluginCallError } from '@awasm/plugin-runner';
import { type SourceError, SourceErrorSchema } from '@awasm/shared/gen/awasm/v1/source_error_pb.js';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { PluginOutputError } from './convert.js';

/** The most of any client-supplied text an error message repeats. */
export const MAX_ECHO_CHARS = 200;
/** The most of a plugin's own error text (a source-error payload) a message or detail repeats. */
export const MAX_PLUGIN_TEXT_CHARS = 500;
/** The most of a runner's message (which may quote plugin text) an error repeats. */
export const MAX_RUNNER_MESSAGE_CHARS = 1000;

/**
 * Text from a request or a plugin as an error message may repeat it: at most MAX_ECHO_CHARS, with
 * an ellipsis, so no input can make a grpc-message (a header) or a detail unboundedly large.
 */
export function echo(text: string, max = MAX_ECHO_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/** The plugin's typed error as the API's SourceError detail, and the gRPC status that fits it. */
function describeSourceError(sourceId: string, tag: string, val: unknown): { code: Code; detail: SourceError } {
  // the plugin's own text is cut here too: the gateway does not rely on the runner's cap
  const text = typeof val === 'string' ? echo(val, MAX_PLUGIN_TEXT_CHARS) : '';
  const detail: MessageInitShape<typeof SourceErrorSchema> & { message: string } = { sourceId, message: '' };
  let code: Code;
  switch (tag) {
    case 'network':
      code = Code.Unavailable;
      detail.message = `source '${sourceId}' could not reach its site: ${text}`;
      detail.kind = { case: 'network', value: { detail: text } };
      break;
    case 'rate-limited': {
      code = Code.ResourceExhausted;
      const retryAfter = typeof val === 'number' ? val : undefined;
      detail.message = `source '${sourceId}' is rate limited${retryAfter === undefined ? '' : `; retry after ${retryAfter} s`}`;
      detail.kind = { case: 'rateLimited', value: retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter } };
      break;
    }
    case 'challenge':
      code = Code.FailedPrecondition;
      detail.message = `source '${sourceId}' needs a bot check passed in a browser at ${text}`;
      detail.kind = { case: 'challenge', value: { url: text } };
      break;
    case 'auth-required':
      code = Code.Unauthenticated;
      detail.message = `source '${sourceId}' needs you to sign in`;
      detail.kind = { case: 'authRequired', value: {} };
      break;
    case 'not-found':
      code = Code.NotFound;
      detail.message = `source '${sourceId}' has no such item`;
      detail.kind = { case: 'notFound', value: {} };
      break;
    case 'parse':
      code = Code.Internal;
      detail.message = `source '${sourceId}' could not understand its site's answer: ${text}`;
      detail.kind = { case: 'parse', value: { detail: text } };
      break;
    case 'unsupported':
      code = Code.Unimplemented;
      detail.message = `source '${sourceId}' does not support this operation`;
      detail.kind = { case: 'unsupported', value: {} };
      break;
    case 'domain-moved':
      code = Code.FailedPrecondition;
      detail.message = `source '${sourceId}' moved to ${text}`;
      detail.kind = { case: 'domainMoved', value: { newBase: text } };
      break;
    default:
      code = Code.Internal;
      detail.message = `source '${sourceId}' failed: ${text || echo(tag)}`;
      detail.kind = { case: 'internal', value: { detail: text || echo(tag) } };
  }
  return { code, detail: create(SourceErrorSchema, detail) };
}

/** Maps anything a plugin call can throw to a ConnectError with a real status code. */
export function toConnectError(rawSourceId: string, error: unknown): ConnectError {
  const sourceId = echo(rawSourceId);
  if (error instanceof ConnectError) return error;
  if (error instanceof PluginCallError) {
    // the caller went away or cancelled: not the source's failure (a string compare, since the
    // runner's kind union gains 'cancelled' with its cancellation support)
    if ((error.kind as string) === 'cancelled') {
      return new ConnectError(
        `source '${sourceId}': ${echo(error.message, MAX_RUNNER_MESSAGE_CHARS)}`,
        Code.Canceled,
        undefined,
        undefined,
        error,
      );
    }
    switch (error.kind) {
      case 'source-error': {
        const { tag, val } = error.sourceError ?? { tag: 'internal', val: error.message };
        const { code, detail } = describeSourceError(sourceId, tag, val);
        return new ConnectError(detail.message, code, undefined, [{ desc: SourceErrorSchema, value: detail }], error);
      }
      case 'deadline-exceeded':
        return new ConnectError(
          `source '${sourceId}': ${echo(error.message, MAX_RUNNER_MESSAGE_CHARS)}`,
          Code.DeadlineExceeded,
          undefined,
          undefined,
          error,
        );
      case 'not-loaded':
        return new ConnectError(
          `source '${sourceId}' is not loaded: ${echo(error.message, MAX_RUNNER_MESSAGE_CHARS)}`,
          Code.Unavailable,
          undefined,
          undefined,
          error,
        );
      case 'unavailable':
        // the source's circuit is open: the message says why and when it is retried
        return new ConnectError(
          echo(error.message, MAX_RUNNER_MESSAGE_CHARS),
          Code.Unavailable,
          undefined,
          undefined,
          error,
        );
      case 'refused':
        return new ConnectError(
          `source '${sourceId}': ${echo(error.message, MAX_RUNNER_MESSAGE_CHARS)}`,
          Code.InvalidArgument,
          undefined,
          undefined,
          error,
        );
      default:
        return new ConnectError(
          `source '${sourceId}' crashed: ${echo(error.message, MAX_RUNNER_MESSAGE_CHARS)}`,
          Code.Internal,
          undefined,
          undefined,
          error,
        );
    }
  }
  if (error instanceof PluginOutputError) {
    return new ConnectError(
      `source '${sourceId}': ${echo(error.message, MAX_RUNNER_MESSAGE_CHARS)}`,
      Code.Internal,
      undefined,
      undefined,
      error,
    );
  }
  return new ConnectError(
    `source '${sourceId}' failed: ${echo(String((error as Error)?.message), MAX_RUNNER_MESSAGE_CHARS)}`,
    Code.Internal,
    undefined,
    undefined,
    error,
  );
}
