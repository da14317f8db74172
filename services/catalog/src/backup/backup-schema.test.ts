import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { BACKUP_SCHEMA_PATH, backupJsonSchemaText } from './backup-schema.js';
import { validateBackup } from './backup-validate.js';
import { badBackups, sampleBackup, semanticallyBadBackups } from './testing/sample-backup.js';

const committed = readFileSync(fileURLToPath(new URL(`../../../../${BACKUP_SCHEMA_PATH}`, import.meta.url)), 'utf8');
const validate = new Ajv2020({ strict: true, allErrors: true }).compile(JSON.parse(committed));

describe('schemas/backup.schema.json', () => {
  it('is the output of backupJsonSchema() (regenerate: pnpm --filter @awasm/catalog gen:schema)', () => {
    expect(JSON.parse(committed)).toEqual(JSON.parse(backupJsonSchemaText()));
  });

  it('accepts the sample, as validateBackup does', () => {
    const doc = sampleBackup();
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(() => validateBackup(doc)).not.toThrow();
  });

  it.each(badBackups())('refuses %s, as validateBackup does', (_name, value) => {
    expect(validate(value)).toBe(false);
    expect(() => validateBackup(value)).toThrow();
  });

  // what no JSON Schema keyword says; docs/backup-format.md lists these as the validator's own rules
  it.each(semanticallyBadBackups())('leaves %s to validateBackup', (_name, value) => {
    expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
    expect(() => validateBackup(value)).toThrow();
  });
});
