/** The most of any client-supplied text an error message repeats. */
export const MAX_ECHO_CHARS = 200;

/**
 * Text from a request or a plugin as an error message may repeat it: at most MAX_ECHO_CHARS, with
 * an ellipsis, so no input can make a grpc-message (a header) or a detail unboundedly large.
 */
export function echo(text: string, max = MAX_ECHO_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}
