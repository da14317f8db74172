import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BACKUP_SCHEMA_PATH, backupJsonSchemaText } from './backup-schema.js';

// Writes schemas/backup.schema.json from the validator's constants (`pnpm --filter @awasm/catalog gen:schema`).
const target = fileURLToPath(new URL(`../../../../${BACKUP_SCHEMA_PATH}`, import.meta.url));
writeFileSync(target, backupJsonSchemaText());
console.log(`wrote ${target}`);
