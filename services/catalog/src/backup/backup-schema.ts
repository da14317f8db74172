import { LIBRARY_STATUSES } from '../library/library-store.js';
import {
  BACKUP_FORMAT,
  BACKUP_LIMITS,
  BACKUP_MEDIA_KINDS,
  BACKUP_ORPHAN_REASONS,
  BACKUP_VERSION,
} from './backup-format.js';

/** Where the generated schema is committed, relative to the repository root. */
export const BACKUP_SCHEMA_PATH = 'schemas/backup.schema.json';

const id = { type: 'string', minLength: 1, maxLength: BACKUP_LIMITS.maxIdLength };
const sourceItemId = { type: 'string', minLength: 1, maxLength: BACKUP_LIMITS.maxSourceItemIdLength };
const time = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const nonNegative = { type: 'number', minimum: 0 };
const text = (maxLength: number) => ({ type: 'string', maxLength });
const nonBlank = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength, pattern: '\\S' });

/**
 * A JSON Schema (draft 2020-12) of the awasm backup, generated from the constants validateBackup
 * checks against and committed at BACKUP_SCHEMA_PATH; a test keeps the two in agreement. What a
 * schema cannot say (duplicate ids, names and (sourceId, mediaId) pairs, category ids that no
 * category defines, the nesting and size caps) only validateBackup checks; it stays the authority.
 */
export function backupJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: `aWASM backup (format "${BACKUP_FORMAT}", version ${BACKUP_VERSION})`,
    description:
      'One user’s library. Generated from services/catalog/src/backup/backup-schema.ts; do not edit by hand (pnpm --filter @awasm/catalog gen:schema). Documented in docs/backup-format.md.',
    type: 'object',
    additionalProperties: false,
    required: ['format', 'version', 'exportedAt', 'categories', 'entries'],
    properties: {
      format: { const: BACKUP_FORMAT },
      version: { const: BACKUP_VERSION },
      exportedAt: { ...time, description: 'unix ms of the export' },
      categories: { type: 'array', maxItems: BACKUP_LIMITS.maxCategories, items: { $ref: '#/$defs/category' } },
      entries: { type: 'array', maxItems: BACKUP_LIMITS.maxEntries, items: { $ref: '#/$defs/entry' } },
    },
    $defs: {
      category: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'name', 'position'],
        properties: {
          id: { ...id, description: 'unique in the file; entries name their categories by it' },
          name: {
            ...nonBlank(BACKUP_LIMITS.maxCategoryNameLength),
            description: 'unique, compared ignoring case, spacing and Unicode compatibility forms',
          },
          position: { ...time, description: '0-based order of the user’s categories' },
        },
      },
      entry: {
        type: 'object',
        additionalProperties: false,
        required: [
          'id',
          'sourceId',
          'mediaId',
          'sourceName',
          'title',
          'kind',
          'status',
          'favourite',
          'notes',
          'categoryIds',
          'addedAt',
          'progress',
          'history',
        ],
        properties: {
          id: { ...id, description: 'unique in the file' },
          sourceId: { ...id, description: 'the plugin id; (sourceId, mediaId) is unique in the file' },
          mediaId: { ...sourceItemId, description: 'the work’s id at the source' },
          sourceName: text(BACKUP_LIMITS.maxTitleLength),
          title: text(BACKUP_LIMITS.maxTitleLength),
          kind: { enum: [...BACKUP_MEDIA_KINDS] },
          coverUrl: text(BACKUP_LIMITS.maxUrlLength),
          status: { enum: [...LIBRARY_STATUSES] },
          favourite: { type: 'boolean' },
          notes: text(BACKUP_LIMITS.maxNotesLength),
          categoryIds: {
            type: 'array',
            maxItems: BACKUP_LIMITS.maxCategoriesPerEntry,
            uniqueItems: true,
            items: { ...id, description: 'the id of a category of this file' },
          },
          addedAt: time,
          workId: { ...id, description: 'entries with the same workId are one work read on several sources' },
          orphaned: { $ref: '#/$defs/orphaned' },
          progress: {
            type: 'array',
            maxItems: BACKUP_LIMITS.maxProgressPerEntry,
            items: { $ref: '#/$defs/progress' },
          },
          history: {
            type: 'array',
            maxItems: BACKUP_LIMITS.maxHistoryPerEntry,
            items: { $ref: '#/$defs/history' },
          },
        },
      },
      orphaned: {
        type: 'object',
        additionalProperties: false,
        required: ['reason'],
        properties: {
          reason: { enum: [...BACKUP_ORPHAN_REASONS] },
          detail: text(BACKUP_LIMITS.maxTitleLength),
        },
      },
      progress: {
        type: 'object',
        additionalProperties: false,
        required: ['unitId', 'read', 'position', 'total', 'positionAt', 'readAt'],
        properties: {
          unitId: { ...sourceItemId, description: 'unique within the entry' },
          unitNumber: { type: 'number' },
          unitTitle: text(BACKUP_LIMITS.maxTitleLength),
          read: { type: 'boolean' },
          position: { ...nonNegative, description: 'page, or seconds for video and audio' },
          total: { ...nonNegative, description: 'pages or seconds; 0 when unknown' },
          positionAt: { ...time, description: 'client time (unix ms) the position came from' },
          readAt: { ...time, description: 'client time (unix ms) the read flag came from; 0 when nothing set it' },
        },
      },
      history: {
        type: 'object',
        additionalProperties: false,
        required: ['unitId', 'openedAt', 'durationMs'],
        properties: {
          unitId: sourceItemId,
          openedAt: time,
          durationMs: { ...time, maximum: BACKUP_LIMITS.maxHistoryDurationMs },
        },
      },
    },
  };
}

/** The schema file's exact text. */
export function backupJsonSchemaText(): string {
  return `${JSON.stringify(backupJsonSchema(), null, 2)}\n`;
}
