/**
 * One service's part of the server configuration: the top-level file keys it owns, its defaults,
 * and how its file keys and environment variables are validated into it.
 */
export interface ConfigSection<T> {
  /** the top-level keys of the config file this section reads */
  readonly fileKeys: readonly string[];
  defaults(): T;
  /** Validates one of `fileKeys` from `file` into `config`. */
  fromFile(config: T, key: string, value: unknown, file: string): void;
  /** Validates this section's AWASM_* variables into `config`. */
  fromEnv(config: T, env: NodeJS.ProcessEnv): void;
}
