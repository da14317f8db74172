export interface FerretDb {
  /** a mongodb:// URL for the driver */
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts FerretDB (a MongoDB-wire server) on a free loopback port with its own SQLite folder, and
 * resolves once it listens. Built by scripts/install-tools.sh; nothing here assumes a running server.
 */
export function startFerretDb(): Promise<FerretDb>;
