import { CatalogDatabase } from '../catalog-database.js';
import { CATALOG_MIGRATIONS, type Migration } from '../catalog-migrations.js';
import { UPDATES_MIGRATION } from './updates-migration.js';

/**
 * A catalog database with the updates tables, for tests on a branch where the migrations before
 * UPDATES_MIGRATION's id (the library's) are not in CATALOG_MIGRATIONS: each missing id gets an
 * empty migration, so the ledger's order check holds.
 */
export function openUpdatesTestDatabase(path: string): CatalogDatabase {
  const migrations: Migration[] = [...CATALOG_MIGRATIONS];
  if (!migrations.some((m) => m.id === UPDATES_MIGRATION.id)) {
    for (let id = migrations.length + 1; id < UPDATES_MIGRATION.id; id++) {
      migrations.push({ id, name: `reserved-${id}`, up: () => {} });
    }
    migrations.push(UPDATES_MIGRATION);
  }
  return CatalogDatabase.open(path, migrations);
}
