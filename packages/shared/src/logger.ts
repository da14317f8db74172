import { pino } from 'pino';

export type Logger = pino.Logger;

/** Structured JSON logs on stderr, so stdout stays free for CLI output. */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    { level: options.level ?? process.env.AWASM_LOG_LEVEL ?? 'info', name: options.name ?? 'awasm' },
    pino.destination(2),
  );
}
