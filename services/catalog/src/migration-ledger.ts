import type Database from 'better-sqlite3';
import type { Migration } from './catalog-migrations.js';

interface LedgerRow {
  id: number;
  name: string;
}

/** Refuses a list whose ids are not 1, 2, 3, … in order, so a gap or a reordering fails at start. */
function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, index) => {
    if (m.id !== index + 1) throw new Error(`migration '${m.name}' has id ${m.id}, expected ${index + 1}`);
  });
}

/**
 * Brings the database up to `migrations`: each one not yet in the `migrations` table runs (or, when
 * the pre-ledger code already made the change, is only recorded) in its own IMMEDIATE transaction,
 * so a failed one leaves no half-applied schema and two connections opening the file at once apply
 * it once. A ledger that names a migration this code does not know (a newer version wrote the file)
 * is refused instead of being used with a schema this code does not understand.
 */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[]): void {
  checkOrder(migrations);
  db.exec(`CREATE TABLE IF NOT EXISTS migrations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const ledger = db.prepare('SELECT id, name FROM migrations ORDER BY id').all() as LedgerRow[];
  for (const row of ledger) {
    const known = migrations[row.id - 1];
    if (known?.name !== row.name) {
      throw new Error(`the database has migration ${row.id} '${row.name}', which this version does not know`);
    }
  }
  const record = db.prepare('INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)');
  const isApplied = db.prepare('SELECT 1 FROM migrations WHERE id = ?');
  for (const migration of migrations) {
    db.transaction(() => {
      if (isApplied.get(migration.id) !== undefined) return;
      if (!migration.alreadyApplied?.(db)) migration.up(db);
      record.run(migration.id, migration.name, Date.now());
    }).immediate();
  }
}
