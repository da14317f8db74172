import type Database from 'better-sqlite3';
import type { InstalledPlugin, PluginStore } from './plugin-store.js';
import { openSqlite } from './sqlite.js';

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

/** Schema migrations, applied in order; PRAGMA user_version records how many ran. */
const MIGRATIONS = [
  `CREATE TABLE plugins (
     id TEXT PRIMARY KEY,
     version TEXT NOT NULL,
     manifest_toml TEXT NOT NULL,
     package_sha256 TEXT NOT NULL,
     component_sha256 TEXT NOT NULL,
     enabled INTEGER NOT NULL DEFAULT 1,
     settings_json TEXT NOT NULL DEFAULT '{}',
     installed_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   )`,
];

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

export class SqlitePluginStore implements PluginStore {
  private readonly db: Database.Database;

  /** `path` is a file (created with its folder if missing) or ":memory:". */
  constructor(path: string) {
    this.db = openSqlite(path);
    const applied = this.db.pragma('user_version', { simple: true }) as number;
    this.db.transaction(() => {
      for (const sql of MIGRATIONS.slice(applied)) this.db.exec(sql);
      this.db.pragma(`user_version = ${MIGRATIONS.length}`);
    })();
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

  async close(): Promise<void> {
    this.db.close();
  }
}
