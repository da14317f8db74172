/** A plugin repository the server installs from. */
export interface RepositoryRecord {
  /** local name, unique */
  name: string;
  /** base URL (an aWASM server, or a static repository's folder) */
  url: string;
  kind: 'grpc' | 'static';
  /** publisher key ids whose packages are accepted from this repository */
  trustedKeyIds: string[];
  addedAt: Date;
}

/**
 * The repositories the server installs plugins from. Embedded mode keeps them in the catalog's
 * SQLite file, distributed mode in MongoDB, behind this interface and the same contract tests.
 */
export interface RepositoryStore {
  /** sorted by name */
  list(): Promise<RepositoryRecord[]>;
  get(name: string): Promise<RepositoryRecord | undefined>;
  /** Adds it; false (and nothing changes) when the name is taken. */
  add(repository: RepositoryRecord): Promise<boolean>;
  /** Replaces the pinned keys; undefined when there is no such repository. */
  setTrustedKeys(name: string, keyIds: string[]): Promise<RepositoryRecord | undefined>;
  /** False when there was no such repository. */
  remove(name: string): Promise<boolean>;
  close(): Promise<void>;
}
