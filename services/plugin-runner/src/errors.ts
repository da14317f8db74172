/**
 * deadline-exceeded: the call ran out of time; cancelled: its caller cancelled it (AbortSignal);
 * source-error: the plugin's typed error (or the host's
 * `rate-limited` when a request could not start before the deadline); trap: the instance crashed;
 * not-loaded: no such source; refused: arguments over the limits; unavailable: the source is
 * unhealthy (circuit open) and the call was not attempted.
 */
export type PluginCallErrorKind =
  | 'deadline-exceeded'
  | 'cancelled'
  | 'source-error'
  | 'trap'
  | 'not-loaded'
  | 'refused'
  | 'unavailable';

/** The typed failure of a source call. */
export class PluginCallError extends Error {
  readonly kind: PluginCallErrorKind;
  /** the plugin's own source-error variant, when kind is 'source-error' */
  readonly sourceError?: { tag: string; val?: unknown };
  readonly sourceId: string;

  constructor(
    kind: PluginCallErrorKind,
    sourceId: string,
    message: string,
    sourceError?: { tag: string; val?: unknown },
  ) {
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
