import { SourceErrorSchema } from '@awasm/shared/gen/awasm/v1/source_error_pb.js';
import { Code, ConnectError } from '@connectrpc/connect';
import { CommanderError } from 'commander';
import type { Output } from './output.js';
import { UsageError } from './usage.js';

/** Exit codes: 0 ok, 1 the server refused or failed the request, 2 bad usage, 3 server unreachable. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

/** Explains a failed call in one line; details from the plugin's typed error when there are any. */
function describeError(error: ConnectError): string {
  const [detail] = error.findDetails(SourceErrorSchema);
  const kind = detail?.kind.case ? ` [${detail.kind.case}]` : '';
  return `${Code[error.code]}${kind}: ${error.rawMessage}`;
}

/** Prints why a command failed (commander has printed its own usage errors already) and picks its exit code. */
export function reportFailure(error: unknown, output: Output, server: string): number {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof UsageError) {
    output.err(`error: ${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof ConnectError) {
    // Only a failure to reach this server, not an UNAVAILABLE the server answered with (say, a
    // repository it could not reach): those come with the server's grpc-status.
    const fromServer = error.cause === undefined && error.metadata.has('grpc-status');
    if (
      error.code === Code.Unavailable &&
      !fromServer &&
      /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|connect/i.test(String(error.cause ?? error.rawMessage))
    ) {
      output.err(
        `error: cannot reach the awasm server at ${server} (${error.rawMessage}); is \`awasm serve\` running?`,
      );
      return EXIT.unreachable;
    }
    output.err(`error: ${describeError(error)}`);
    if (error.code === Code.Unauthenticated) {
      output.err(
        `hint: run \`awasm login\` to save an API key for ${server}, or pass one with --api-key or AWASM_API_KEY`,
      );
    }
    return EXIT.failed;
  }
  output.err(`error: ${(error as Error).message}`);
  return EXIT.failed;
}
