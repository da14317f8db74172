import type Database from 'better-sqlite3';
import { type CatalogDatabase, type CatalogDatabaseSource, useCatalogDatabase } from './catalog-database.js';
import type { InstalledPlugin, PluginStore } from './plugin-store.js';

interface Row {
  id: string;
  version: string;
  manifest_toml: string;
  package_sha256: string;
  component_sha256: string;
  enabled: number;
  settings_json: string;
  installed_at: number;
  updated_at: number;
}

function toPlugin(row: Row): InstalledPlugin {
  return {
    id: row.id,
    version: row.version,
    manifestToml: row.manifest_toml,
    packageSha256: row.package_sha256,
    componentSha256: row.component_sha256,
    enabled: row.enabled === 1,
    settings: JSON.parse(row.settings_json) as Record<string, string>,
    installedAt: new Date(row.installed_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** Installed plugins in the `plugins` table of the catalog's SQLite file (see CATALOG_MIGRATIONS). */
export class SqlitePluginStore implements PluginStore {
  private readonly database: CatalogDatabase;
  private readonly ownsDatabase: boolean;
  private readonly db: Database.Database;

  constructor(source: CatalogDatabaseSource) {
    ({ database: this.database, owned: this.ownsDatabase } = useCatalogDatabase(source));
    this.db = this.database.connection;
  }

  private row(id: string): Row | undefined {
    return this.db.prepare('SELECT * FROM plugins WHERE id = ?').get(id) as Row | undefined;
  }

  async list(): Promise<InstalledPlugin[]> {
    return (this.db.prepare('SELECT * FROM plugins ORDER BY id').all() as Row[]).map(toPlugin);
  }

  async get(id: string): Promise<InstalledPlugin | undefined> {
    const row = this.row(id);
    return row && toPlugin(row);
  }

  async putPackage(
    p: Omit<InstalledPlugin, 'settings' | 'enabled' | 'installedAt' | 'updatedAt'>,
  ): Promise<InstalledPlugin> {
    const now = Date.now();
    this.db
      .prepare(
        `INSERT INTO plugins (id, version, manifest_toml, package_sha256, component_sha256, installed_at, updated_at)
         VALUES (@id, @version, @manifestToml, @packageSha256, @componentSha256, @now, @now)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, manifest_toml = excluded.manifest_toml,
           package_sha256 = excluded.package_sha256, component_sha256 = excluded.component_sha256,
           updated_at = excluded.updated_at`,
      )
      .run({ ...p, now });
    return toPlugin(this.row(p.id) as Row);
  }

  async setEnabled(id: string, enabled: boolean): Promise<InstalledPlugin | undefined> {
    this.db.prepare('UPDATE plugins SET enabled = ?, updated_at = ? WHERE id = ?').run(enabled ? 1 : 0, Date.now(), id);
    return this.get(id);
  }

  async setSettings(id: string, settings: Record<string, string>): Promise<InstalledPlugin | undefined> {
    this.db
      .prepare('UPDATE plugins SET settings_json = ?, updated_at = ? WHERE id = ?')
      .run(JSON.stringify(settings), Date.now(), id);
    return this.get(id);
  }

  async remove(id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM plugins WHERE id = ?').run(id).changes > 0;
  }

  /** Closes the database only when this store opened it; a shared one is closed by its owner. */
  async close(): Promise<void> {
    if (this.ownsDatabase) this.database.close();
  }
}
