import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MANIFEST_SCHEMA_PATH, manifestJsonSchemaText } from './manifest-schema.js';

// Writes schemas/manifest.schema.json from the validator's constants (`pnpm --filter @awasm/shared gen:schema`).
const target = fileURLToPath(new URL(`../../../${MANIFEST_SCHEMA_PATH}`, import.meta.url));
writeFileSync(target, manifestJsonSchemaText());
console.log(`wrote ${target}`);
