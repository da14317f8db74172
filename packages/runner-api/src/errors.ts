/**
 * deadline-exceeded: the call ran out of time; cancelled: its caller cancelled it (AbortSignal);
 * source-error: the plugin's typed error (or the host's
 * `rate-limited` when a request could not start before the deadline); trap: the instance crashed;
 * not-loaded: no such source; refused: arguments over the limits; unavailable: the source is
 * unhealthy (circuit open) and the call was not attempted; malformed-output: the plugin returned a
 * value that does not fit the contract.
 */
export type PluginCallErrorKind =
  | 'deadline-exceeded'
  | 'cancelled'
  | 'source-error'
  | 'trap'
  | 'not-loaded'
  | 'refused'
  | 'unavailable'
  | 'malformed-output';

/** The plugin contract's source-error variant: its tag and its payload (text, or retry-after seconds). */
export interface SourceErrorVariant {
  tag: string;
  val?: unknown;
}

/** The typed failure of a source call. */
export class PluginCallError extends Error {
  readonly kind: PluginCallErrorKind;
  /** the plugin's own source-error variant, when kind is 'source-error' */
  readonly sourceError?: SourceErrorVariant;
  readonly sourceId: string;

  constructor(kind: PluginCallErrorKind, sourceId: string, message: string, sourceError?: SourceErrorVariant) {
    super(message);
    this.name = 'PluginCallError';
    this.kind = kind;
    this.sourceId = sourceId;
    if (sourceError) this.sourceError = sourceError;
  }

  /** 'DEADLINE_EXCEEDED' for a timeout, in the gateway's status vocabulary */
  get code(): string {
    return this.kind.replace(/-/g, '_').toUpperCase();
  }
}

/** A component or spec the runner will not load; the message names what is wrong. */
export class PluginLoadError extends Error {
  readonly sourceId: string;

  constructor(sourceId: string, message: string, options?: { cause?: unknown }) {
    super(`source '${sourceId}': ${message}`, options);
    this.name = 'PluginLoadError';
    this.sourceId = sourceId;
  }
}

/** The most of a plugin's own error text (a source-error payload) a message repeats. */
export const MAX_PLUGIN_TEXT_CHARS = 500;

/** Text cut to `max` characters with a marker, so no plugin can make a message unboundedly large. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/** The payload text of a source error, cut to MAX_PLUGIN_TEXT_CHARS; '' when it has none. */
export function sourceErrorText(error: SourceErrorVariant): string {
  return typeof error.val === 'string' ? clip(error.val, MAX_PLUGIN_TEXT_CHARS) : '';
}

/** The retry-after seconds of a rate-limited error, when the plugin (or the host) gave one. */
export function retryAfterSeconds(error: SourceErrorVariant): number | undefined {
  return typeof error.val === 'number' && Number.isFinite(error.val) ? error.val : undefined;
}

/** The one message of a source's typed error, as logs and API clients see it. */
export function sourceErrorMessage(sourceId: string, error: SourceErrorVariant): string {
  const text = sourceErrorText(error);
  switch (error.tag) {
    case 'network':
      return `source '${sourceId}' could not reach its site: ${text}`;
    case 'rate-limited': {
      const retryAfter = retryAfterSeconds(error);
      return `source '${sourceId}' is rate limited${retryAfter === undefined ? '' : `; retry after ${retryAfter} s`}`;
    }
    case 'challenge':
      return `source '${sourceId}' needs a bot check passed in a browser at ${text}`;
    case 'auth-required':
      return `source '${sourceId}' needs you to sign in`;
    case 'not-found':
      return `source '${sourceId}' has no such item`;
    case 'parse':
      return `source '${sourceId}' could not understand its site's answer: ${text}`;
    case 'unsupported':
      return `source '${sourceId}' does not support this operation`;
    case 'domain-moved':
      return `source '${sourceId}' moved to ${text}`;
    default:
      return `source '${sourceId}' failed: ${text || clip(error.tag, 200)}`;
  }
}
