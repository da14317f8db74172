import { ConnectError } from '@connectrpc/connect';

/** Awaits a call that must fail and returns its error as a ConnectError; throws if the call succeeded. */
export async function failureOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('call succeeded');
}
