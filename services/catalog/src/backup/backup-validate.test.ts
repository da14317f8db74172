import { afterEach, describe, expect, it, vi } from 'vitest';
import { BACKUP_LIMITS, type BackupEntry, BackupFormatError } from './backup-format.js';
import { checkNesting, parseBackupJson, validateBackup } from './backup-validate.js';
import { badBackups, edited, sampleBackup, semanticallyBadBackups } from './testing/sample-backup.js';

const encode = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BackupFormatError);
    return (error as Error).message;
  }
  throw new Error('expected a BackupFormatError');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('validateBackup', () => {
  it('accepts the sample and returns an equal copy', () => {
    const doc = sampleBackup();
    const valid = validateBackup(structuredClone(doc));
    expect(valid).toEqual(doc);
    expect(parseBackupJson(encode(doc))).toEqual(doc);
  });

  it('copies only the format’s fields, so nothing else reaches the store', () => {
    const valid = validateBackup(sampleBackup());
    expect(Object.keys(valid.entries[1] ?? {}).sort()).toEqual(
      [
        'addedAt',
        'categoryIds',
        'favourite',
        'history',
        'id',
        'kind',
        'mediaId',
        'notes',
        'orphaned',
        'progress',
        'sourceId',
        'sourceName',
        'status',
        'title',
        'workId',
      ].sort(),
    );
  });

  it.each([...badBackups(), ...semanticallyBadBackups()])('refuses %s, naming the field', (_name, value, error) => {
    expect(refusal(() => validateBackup(value))).toBe(error);
  });

  it('tells (source, media) pairs apart whatever characters their ids hold', () => {
    const doc = sampleBackup();
    const [first, second] = doc.entries as [BackupEntry, BackupEntry];
    Object.assign(first, { sourceId: 'a\u0000b', mediaId: 'c' });
    Object.assign(second, { sourceId: 'a', mediaId: 'b\u0000c' });
    expect(validateBackup(doc).entries).toHaveLength(2);
  });

  it('counts characters as code points, as JSON Schema does', () => {
    const title = '狼🐺'.repeat(BACKUP_LIMITS.maxTitleLength / 2);
    expect(title.length).toBeGreaterThan(BACKUP_LIMITS.maxTitleLength);
    expect(validateBackup(edited(sampleBackup(), ['entries', 0, 'title'], title)).entries[0]?.title).toBe(title);
    expect(refusal(() => validateBackup(edited(sampleBackup(), ['entries', 0, 'title'], `${title}x`)))).toBe(
      'entries[0].title: must be at most 1000 characters, got 1001',
    );
  });

  it('refuses an unknown field named __proto__ rather than merging it', () => {
    const text = JSON.stringify(sampleBackup()).replace('"format"', '"__proto__":{"polluted":true},"format"');
    expect(refusal(() => parseBackupJson(encode(text)))).toBe('__proto__: unknown field');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses more entries or progress rows than the caps before looking at any of them', () => {
    const entries = new Array(BACKUP_LIMITS.maxEntries + 1).fill(null);
    expect(refusal(() => validateBackup(edited(sampleBackup(), ['entries'], entries)))).toBe(
      'entries: more than 100000 entries (100001)',
    );
    const rows = new Array(BACKUP_LIMITS.maxProgressPerEntry + 1).fill(null);
    expect(refusal(() => validateBackup(edited(sampleBackup(), ['entries', 1, 'progress'], rows)))).toBe(
      'entries[1].progress: more than 20000 progress rows (20001)',
    );
  });
});

describe('parseBackupJson', () => {
  it('refuses a file over the size cap before decoding it', () => {
    const decode = vi.spyOn(TextDecoder.prototype, 'decode');
    expect(refusal(() => parseBackupJson(new Uint8Array(BACKUP_LIMITS.maxBytes + 1)))).toBe(
      'backup: 67108865 bytes exceeds the cap of 67108864 bytes',
    );
    expect(decode).not.toHaveBeenCalled();
  });

  it('refuses deep nesting from the raw text, never reaching JSON.parse', () => {
    const parse = vi.spyOn(JSON, 'parse');
    expect(refusal(() => parseBackupJson(encode('['.repeat(100_000))))).toBe(
      'backup: nested deeper than 5 levels (at character 5)',
    );
    const deepInEntry = JSON.stringify(edited(sampleBackup(), ['entries', 0, 'notes'], [[[]]]));
    expect(refusal(() => parseBackupJson(encode(deepInEntry)))).toMatch(/^backup: nested deeper than 5 levels/);
    expect(parse).not.toHaveBeenCalled();
  });

  it('does not count brackets inside strings, escaped quotes among them', () => {
    expect(() => checkNesting('{"a":"[[[[[[\\"[[[[[[","b":[]}', 2)).not.toThrow();
    expect(() => checkNesting('{"a":"\\\\","b":[[]]}', 2)).toThrow('nested deeper than 2 levels');
  });

  it('refuses text that is not UTF-8 or not JSON, and numbers JSON.parse makes infinite', () => {
    expect(refusal(() => parseBackupJson(new Uint8Array([0x7b, 0xff, 0x7d])))).toBe('backup: not UTF-8 text');
    expect(refusal(() => parseBackupJson(encode('{"format": ')))).toMatch(/^backup: not valid JSON \(.+\)$/);
    const infinite = JSON.stringify(sampleBackup()).replace('"position":20', '"position":1e999');
    expect(refusal(() => parseBackupJson(encode(infinite)))).toBe(
      'entries[0].progress[0].position: must be a finite number >= 0, got Infinity',
    );
  });
});
