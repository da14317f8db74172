import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { CatalogDatabase } from './catalog-database.js';
import { CATALOG_MIGRATIONS, type Migration } from './catalog-migrations.js';
import { SqlitePluginStore } from './sqlite-plugin-store.js';
import { SqliteRepositoryStore } from './sqlite-repository-store.js';

const dir = mkdtempSync(join(tmpdir(), 'awasm-catalog-db-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ledger(path: string): { id: number; name: string }[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT id, name FROM migrations ORDER BY id').all() as { id: number; name: string }[];
  } finally {
    db.close();
  }
}

function tables(db: Database.Database): string[] {
  return (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]
  ).map((t) => t.name);
}

/**
 * Writes a catalog.db the way the stores did before the migration ledger: the plugin store counted
 * its one migration in PRAGMA user_version, the repository store created its table when missing.
 * The SQL is copied from that code, so the adoption test opens exactly what a user's data dir holds.
 */
function writeLegacyCatalog(path: string): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE plugins (
     id TEXT PRIMARY KEY,
     version TEXT NOT NULL,
     manifest_toml TEXT NOT NULL,
     package_sha256 TEXT NOT NULL,
     component_sha256 TEXT NOT NULL,
     enabled INTEGER NOT NULL DEFAULT 1,
     settings_json TEXT NOT NULL DEFAULT '{}',
     installed_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   )`);
  db.pragma('user_version = 1');
  db.exec(`CREATE TABLE IF NOT EXISTS repositories (
      name TEXT PRIMARY KEY,
      url TEXT NOT NULL,
      kind TEXT NOT NULL,
      trusted_key_ids TEXT NOT NULL DEFAULT '[]',
      added_at INTEGER NOT NULL
    )`);
  const plugin = db.prepare(
    `INSERT INTO plugins (id, version, manifest_toml, package_sha256, component_sha256, enabled, settings_json, installed_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  plugin.run('demo', '0.1.0', 'id = "demo"', 'a'.repeat(64), 'b'.repeat(64), 1, '{"page_size":"5"}', 1_000, 2_000);
  plugin.run('off', '1.2.3', 'id = "off"', 'c'.repeat(64), 'd'.repeat(64), 0, '{}', 3_000, 4_000);
  const repository = db.prepare(
    'INSERT INTO repositories (name, url, kind, trusted_key_ids, added_at) VALUES (?, ?, ?, ?, ?)',
  );
  repository.run('community', 'http://127.0.0.1:7601', 'grpc', JSON.stringify(['e'.repeat(32)]), 5_000);
  repository.run('static', 'http://127.0.0.1:7602/repo', 'static', '[]', 6_000);
  db.close();
}

const catalogLedger = CATALOG_MIGRATIONS.map(({ id, name }) => ({ id, name }));

describe('CatalogDatabase', () => {
  it('creates a new file with every migration recorded once, in order, and the pragmas set', () => {
    const path = join(dir, 'nested', 'fresh.db');
    const database = CatalogDatabase.open(path);
    expect(tables(database.connection)).toEqual([
      'api_keys',
      'feed_items',
      'library_categories',
      'library_entries',
      'library_entry_categories',
      'library_history',
      'library_progress',
      'media_cache',
      'migrations',
      'plugins',
      'repositories',
      'users',
    ]);
    expect(database.connection.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(database.connection.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(database.connection.pragma('synchronous', { simple: true })).toBe(2);
    expect(database.connection.pragma('busy_timeout', { simple: true })).toBe(5000);
    database.close();
    expect(ledger(path)).toEqual(catalogLedger);
    CatalogDatabase.open(path).close();
    expect(ledger(path)).toEqual(catalogLedger);
  });

  it('adopts a catalog.db written by the stores before the ledger and finds every row', async () => {
    const path = join(dir, 'legacy.db');
    writeLegacyCatalog(path);
    const database = CatalogDatabase.open(path);
    const plugins = new SqlitePluginStore(database);
    const repositories = new SqliteRepositoryStore(database);
    expect(await plugins.list()).toEqual([
      {
        id: 'demo',
        version: '0.1.0',
        manifestToml: 'id = "demo"',
        packageSha256: 'a'.repeat(64),
        componentSha256: 'b'.repeat(64),
        enabled: true,
        settings: { page_size: '5' },
        installedAt: new Date(1_000),
        updatedAt: new Date(2_000),
      },
      {
        id: 'off',
        version: '1.2.3',
        manifestToml: 'id = "off"',
        packageSha256: 'c'.repeat(64),
        componentSha256: 'd'.repeat(64),
        enabled: false,
        settings: {},
        installedAt: new Date(3_000),
        updatedAt: new Date(4_000),
      },
    ]);
    expect(await repositories.list()).toEqual([
      {
        name: 'community',
        url: 'http://127.0.0.1:7601',
        kind: 'grpc',
        trustedKeyIds: ['e'.repeat(32)],
        addedAt: new Date(5_000),
      },
      {
        name: 'static',
        url: 'http://127.0.0.1:7602/repo',
        kind: 'static',
        trustedKeyIds: [],
        addedAt: new Date(6_000),
      },
    ]);
    // the adopted tables still take writes
    await plugins.putPackage({
      id: 'off',
      version: '1.3.0',
      manifestToml: 'id = "off"',
      packageSha256: 'c'.repeat(64),
      componentSha256: 'd'.repeat(64),
    });
    expect(await plugins.get('off')).toMatchObject({ enabled: false, installedAt: new Date(3_000) });
    expect((await plugins.get('off'))?.version).toBe('1.3.0');
    database.close();
    expect(ledger(path)).toEqual(catalogLedger);
  });

  it('adopts a file that only the repository store had opened, creating the plugins table', async () => {
    const path = join(dir, 'repos-only.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE IF NOT EXISTS repositories (
      name TEXT PRIMARY KEY, url TEXT NOT NULL, kind TEXT NOT NULL,
      trusted_key_ids TEXT NOT NULL DEFAULT '[]', added_at INTEGER NOT NULL)`);
    old.prepare('INSERT INTO repositories VALUES (?, ?, ?, ?, ?)').run('r', 'http://127.0.0.1:1', 'static', '[]', 7);
    old.close();
    const database = CatalogDatabase.open(path);
    expect((await new SqliteRepositoryStore(database).list()).map((r) => r.name)).toEqual(['r']);
    expect(await new SqlitePluginStore(database).list()).toEqual([]);
    database.close();
    expect(ledger(path)).toEqual(catalogLedger);
  });

  it('applies only the migrations added since the file was last opened', () => {
    const path = join(dir, 'grow.db');
    CatalogDatabase.open(path).close();
    let runs = 0;
    const next: Migration = {
      id: CATALOG_MIGRATIONS.length + 1,
      name: 'bookmarks',
      up: (db) => {
        runs++;
        db.exec('CREATE TABLE bookmarks (id TEXT PRIMARY KEY)');
      },
    };
    CatalogDatabase.open(path, [...CATALOG_MIGRATIONS, next]).close();
    CatalogDatabase.open(path, [...CATALOG_MIGRATIONS, next]).close();
    expect(runs).toBe(1);
    expect(ledger(path)).toEqual([...catalogLedger, { id: next.id, name: 'bookmarks' }]);
  });

  it('rolls a failing migration back whole, keeps the ones before it, and retries it on the next open', () => {
    const path = join(dir, 'failing.db');
    const broken: Migration = {
      id: CATALOG_MIGRATIONS.length + 1,
      name: 'library',
      up: (db) => {
        db.exec('CREATE TABLE library (id TEXT PRIMARY KEY)');
        throw new Error('disk full');
      },
    };
    expect(() => CatalogDatabase.open(path, [...CATALOG_MIGRATIONS, broken])).toThrow('disk full');
    expect(ledger(path)).toEqual(catalogLedger);
    const after = new Database(path, { readonly: true });
    expect(tables(after)).not.toContain('library');
    after.close();
    const fixed: Migration = { ...broken, up: (db) => db.exec('CREATE TABLE library (id TEXT PRIMARY KEY)') };
    const database = CatalogDatabase.open(path, [...CATALOG_MIGRATIONS, fixed]);
    expect(tables(database.connection)).toContain('library');
    database.close();
  });

  it('refuses a file whose ledger names a migration this version does not know', () => {
    const path = join(dir, 'newer.db');
    CatalogDatabase.open(path, [
      ...CATALOG_MIGRATIONS,
      { id: CATALOG_MIGRATIONS.length + 1, name: 'bookmarks', up: (db) => db.exec('CREATE TABLE bookmarks (id TEXT)') },
    ]).close();
    expect(() => CatalogDatabase.open(path)).toThrow(
      new RegExp(`migration ${CATALOG_MIGRATIONS.length + 1} 'bookmarks', which this version does not know`),
    );
  });

  it('refuses a migration list whose ids are not 1, 2, 3, … in order', () => {
    const [first, second] = CATALOG_MIGRATIONS as [Migration, Migration];
    expect(() => CatalogDatabase.open(':memory:', [second, first])).toThrow(/has id 2, expected 1/);
  });
});
