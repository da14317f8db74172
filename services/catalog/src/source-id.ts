import { ID_PATTERN } from '@awasm/shared';
import { Code, ConnectError } from '@connectrpc/connect';

/** Longest part of a refused id quoted back in the error. */
const MAX_QUOTED_ID = 64;

/** A source id is a plugin id (the manifest's rule), checked before anything looks it up or echoes it. */
export function requireSourceId(field: string, value: string): string {
  if (value === '') throw new ConnectError(`${field} must not be empty`, Code.InvalidArgument);
  if (!ID_PATTERN.test(value)) {
    const quoted =
      value.length <= MAX_QUOTED_ID ? value : `${value.slice(0, MAX_QUOTED_ID)}… (${value.length} characters)`;
    throw new ConnectError(
      `${field} '${quoted}' must be 2-64 lowercase letters, digits and dashes (${value.length} characters given)`,
      Code.InvalidArgument,
    );
  }
  return value;
}
