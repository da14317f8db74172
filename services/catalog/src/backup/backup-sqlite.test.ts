import { SqliteLibraryStore } from '../library/sqlite-library-store.js';
import { backupContract } from './backup.contract.js';

// a fresh in-memory database per case, which the store owns and closes
backupContract('SQLite', async () => new SqliteLibraryStore(':memory:'));
