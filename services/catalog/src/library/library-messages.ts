import {
  type Category as CategoryMessage,
  CategorySchema,
  EntrySort,
  type HistoryRecord as HistoryRecordMessage,
  HistoryRecordSchema,
  type LibraryEntry as LibraryEntryMessage,
  LibraryEntrySchema,
  LibraryStatus as LibraryStatusEnum,
  OrphanedSchema,
  OrphanReason as OrphanReasonEnum,
  type UnitProgress as UnitProgressMessage,
  UnitProgressSchema,
} from '@awasm/shared/gen/awasm/v1/library_service_pb.js';
import { MediaKind } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { create } from '@bufbuild/protobuf';
import { durationFromMs, type Timestamp, timestampFromMs } from '@bufbuild/protobuf/wkt';
import type {
  Category,
  HistoryRecord,
  LibraryEntry,
  LibraryMediaKind,
  LibraryStatus,
  OrphanReason,
  EntrySort as StoreEntrySort,
  UnitProgress,
} from './library-store.js';

/** Between the store's lower-case words and the proto enums, both ways. */
const KINDS: [LibraryMediaKind, MediaKind][] = [
  ['manga', MediaKind.MANGA],
  ['anime', MediaKind.ANIME],
  ['comic', MediaKind.COMIC],
  ['book', MediaKind.BOOK],
  ['tv', MediaKind.TV],
  ['movie', MediaKind.MOVIE],
  ['unspecified', MediaKind.UNSPECIFIED],
];
const STATUSES: [LibraryStatus, LibraryStatusEnum][] = [
  ['reading', LibraryStatusEnum.READING],
  ['completed', LibraryStatusEnum.COMPLETED],
  ['on_hold', LibraryStatusEnum.ON_HOLD],
  ['dropped', LibraryStatusEnum.DROPPED],
  ['planned', LibraryStatusEnum.PLANNED],
];
const ORPHAN_REASONS: [OrphanReason, OrphanReasonEnum][] = [
  ['uninstalled', OrphanReasonEnum.UNINSTALLED],
  ['domain_moved', OrphanReasonEnum.DOMAIN_MOVED],
  ['unknown_source', OrphanReasonEnum.UNKNOWN_SOURCE],
];
const SORTS: [StoreEntrySort, EntrySort][] = [
  ['title', EntrySort.UNSPECIFIED],
  ['title', EntrySort.TITLE],
  ['added', EntrySort.ADDED],
  ['last_read', EntrySort.LAST_READ],
  ['last_updated', EntrySort.LAST_UPDATED],
];

const wordOf = <W, E>(pairs: [W, E][], value: E): W | undefined => pairs.find(([, e]) => e === value)?.[0];
const enumOf = <W, E>(pairs: [W, E][], word: W): E | undefined => pairs.find(([w]) => w === word)?.[1];

export const kindWord = (kind: MediaKind): LibraryMediaKind | undefined => wordOf(KINDS, kind);
export const statusWord = (status: LibraryStatusEnum): LibraryStatus | undefined => wordOf(STATUSES, status);
export const sortWord = (sort: EntrySort): StoreEntrySort | undefined => wordOf(SORTS, sort);

/** A time field that is unset when the store has none (or 0, its "never"). */
function time<K extends string>(key: K, ms: number | undefined): Partial<Record<K, Timestamp>> {
  if (ms === undefined || ms === 0) return {};
  return { [key]: timestampFromMs(ms) } as Record<K, Timestamp>;
}

export function toEntryMessage(entry: LibraryEntry): LibraryEntryMessage {
  return create(LibraryEntrySchema, {
    entryId: entry.entryId,
    sourceId: entry.sourceId,
    mediaId: entry.mediaId,
    sourceName: entry.sourceName,
    title: entry.title,
    kind: enumOf(KINDS, entry.kind) ?? MediaKind.UNSPECIFIED,
    coverUrl: entry.coverUrl ?? '',
    status: enumOf(STATUSES, entry.status) ?? LibraryStatusEnum.UNSPECIFIED,
    favourite: entry.favourite,
    notes: entry.notes,
    categoryIds: entry.categoryIds,
    addedAt: timestampFromMs(entry.addedAt),
    updatedAt: timestampFromMs(entry.updatedAt),
    ...time('lastReadAt', entry.lastReadAt),
    unitCount: entry.unitCount,
    readCount: entry.readCount,
    ...time('lastUnitAt', entry.lastUnitAt),
    ...(entry.orphaned
      ? {
          orphaned: create(OrphanedSchema, {
            reason: enumOf(ORPHAN_REASONS, entry.orphaned.reason) ?? OrphanReasonEnum.UNSPECIFIED,
            detail: entry.orphaned.detail ?? '',
          }),
        }
      : {}),
    workId: entry.workId ?? '',
  });
}

export function toCategoryMessage(category: Category): CategoryMessage {
  return create(CategorySchema, { categoryId: category.categoryId, name: category.name, position: category.position });
}

export function toProgressMessage(row: UnitProgress): UnitProgressMessage {
  return create(UnitProgressSchema, {
    unitId: row.unitId,
    ...(row.unitNumber === undefined ? {} : { unitNumber: row.unitNumber }),
    unitTitle: row.unitTitle ?? '',
    read: row.read,
    position: row.position,
    total: row.total,
    ...time('positionAt', row.positionAt),
    ...time('readAt', row.readAt),
    updatedAt: timestampFromMs(row.updatedAt),
  });
}

export function toHistoryMessage(record: HistoryRecord): HistoryRecordMessage {
  return create(HistoryRecordSchema, {
    entryId: record.entryId,
    unitId: record.unitId,
    openedAt: timestampFromMs(record.openedAt),
    duration: durationFromMs(record.durationMs),
  });
}
