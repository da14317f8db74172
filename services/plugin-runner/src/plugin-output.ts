/**
 * Converts the plugin contract's values (as jco hands them over: camelCase records, enums as
 * strings, option as undefined, u64 as bigint) to protobuf messages, on the runner side of the
 * seam. Plugin output is untrusted: every value is checked, and a malformed one is a plugin fault.
 */

import { MAX_PLUGIN_CURSOR_BYTES } from '@awasm/runner-api';
import { PROTO_MEDIA_KINDS } from '@awasm/shared';
import {
  type AssetList,
  AssetListSchema,
  type FilterList,
  FilterListSchema,
  type MediaPage,
  MediaPageSchema,
  type UnitPage,
  UnitPageSchema,
} from '@awasm/shared/gen/awasm/internal/v1/runner_pb.js';
import {
  type Asset,
  AssetKind,
  AssetSchema,
  type Filter,
  FilterKind,
  FilterSchema,
  type Media,
  type MediaKind,
  MediaSchema,
  MediaStatus,
  type Unit,
  UnitKind,
  UnitSchema,
} from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';

export class PluginOutputError extends Error {
  constructor(path: string, problem: string) {
    super(`plugin returned a malformed value at ${path}: ${problem}`);
    this.name = 'PluginOutputError';
  }
}

type Rec = Record<string, unknown>;

function record(value: unknown, path: string): Rec {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new PluginOutputError(path, 'expected a record');
  return value as Rec;
}

function str(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new PluginOutputError(path, 'expected a string');
  return value;
}

function optStr(value: unknown, path: string): string {
  return value === undefined || value === null ? '' : str(value, path);
}

function strList(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) throw new PluginOutputError(path, 'expected a list');
  return value.map((v, i) => str(v, `${path}[${i}]`));
}

function list(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new PluginOutputError(path, 'expected a list');
  return value;
}

function enumOf<T>(table: Record<string, T>, value: unknown, path: string): T {
  const mapped = typeof value === 'string' ? table[value] : undefined;
  if (mapped === undefined) throw new PluginOutputError(path, `unknown value '${String(value)}'`);
  return mapped;
}

/** Plugin output names a kind by string: only the six names map. */
const mediaKinds: Record<string, MediaKind> = PROTO_MEDIA_KINDS;
const mediaStatuses: Record<string, MediaStatus> = {
  unknown: MediaStatus.UNSPECIFIED,
  ongoing: MediaStatus.ONGOING,
  completed: MediaStatus.COMPLETED,
  hiatus: MediaStatus.HIATUS,
  cancelled: MediaStatus.CANCELLED,
};
const unitKinds: Record<string, UnitKind> = {
  chapter: UnitKind.CHAPTER,
  episode: UnitKind.EPISODE,
  volume: UnitKind.VOLUME,
  issue: UnitKind.ISSUE,
  part: UnitKind.PART,
  movie: UnitKind.MOVIE,
};
const assetKinds: Record<string, AssetKind> = {
  page: AssetKind.PAGE,
  stream: AssetKind.STREAM,
  subtitle: AssetKind.SUBTITLE,
  text: AssetKind.TEXT,
  file: AssetKind.FILE,
};
const filterKinds: Record<string, FilterKind> = {
  select: FilterKind.SELECT,
  'multi-select': FilterKind.MULTI_SELECT,
  toggle: FilterKind.TOGGLE,
  text: FilterKind.TEXT,
};

export function toMedia(sourceId: string, value: unknown, path = 'media'): Media {
  const m = record(value, path);
  if (typeof m.nsfw !== 'boolean') throw new PluginOutputError(`${path}.nsfw`, 'expected a bool');
  return create(MediaSchema, {
    sourceId,
    id: str(m.id, `${path}.id`),
    title: str(m.title, `${path}.title`),
    kind: enumOf(mediaKinds, m.kind, `${path}.kind`),
    altTitles: strList(m.altTitles, `${path}.altTitles`),
    description: optStr(m.description, `${path}.description`),
    coverUrl: optStr(m.coverUrl, `${path}.coverUrl`),
    authors: strList(m.authors, `${path}.authors`),
    genres: strList(m.genres, `${path}.genres`),
    status: enumOf(mediaStatuses, m.status, `${path}.status`),
    languages: strList(m.languages, `${path}.languages`),
    nsfw: m.nsfw,
    url: optStr(m.url, `${path}.url`),
  });
}

function optNumber(value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new PluginOutputError(path, 'expected a number');
  return value;
}

export function toUnit(value: unknown, path = 'unit'): Unit {
  const u = record(value, path);
  const unit = create(UnitSchema, {
    id: str(u.id, `${path}.id`),
    mediaId: str(u.mediaId, `${path}.mediaId`),
    kind: enumOf(unitKinds, u.kind, `${path}.kind`),
    title: str(u.title, `${path}.title`),
    language: optStr(u.language, `${path}.language`),
    url: optStr(u.url, `${path}.url`),
  });
  const number = optNumber(u.number, `${path}.number`);
  if (number !== undefined) unit.number = number;
  const group = optNumber(u.group, `${path}.group`);
  if (group !== undefined) unit.group = group;
  if (u.publishedAt !== undefined && u.publishedAt !== null) {
    if (typeof u.publishedAt !== 'bigint') throw new PluginOutputError(`${path}.publishedAt`, 'expected a u64');
    unit.publishedAt = timestampFromMs(Number(u.publishedAt));
  }
  return unit;
}

export function toAsset(value: unknown, path = 'asset'): Asset {
  const a = record(value, path);
  if (typeof a.index !== 'number') throw new PluginOutputError(`${path}.index`, 'expected a u32');
  return create(AssetSchema, {
    kind: enumOf(assetKinds, a.kind, `${path}.kind`),
    index: a.index,
    url: optStr(a.url, `${path}.url`),
    text: optStr(a.text, `${path}.text`),
    mimeType: optStr(a.mimeType, `${path}.mimeType`),
    language: optStr(a.language, `${path}.language`),
    quality: optStr(a.quality, `${path}.quality`),
    headers: list(a.headers, `${path}.headers`).map((h, i) => {
      const header = record(h, `${path}.headers[${i}]`);
      return {
        name: str(header.name, `${path}.headers[${i}].name`),
        value: str(header.value, `${path}.headers[${i}].value`),
      };
    }),
  });
}

export function toFilter(value: unknown, path = 'filter'): Filter {
  const f = record(value, path);
  return create(FilterSchema, {
    id: str(f.id, `${path}.id`),
    label: str(f.label, `${path}.label`),
    kind: enumOf(filterKinds, f.kind, `${path}.kind`),
    options: list(f.options, `${path}.options`).map((o, i) => {
      const option = record(o, `${path}.options[${i}]`);
      return {
        value: str(option.value, `${path}.options[${i}].value`),
        label: str(option.label, `${path}.options[${i}].label`),
      };
    }),
  });
}

function cursorOf(value: unknown, path: string): string {
  const cursor = optStr(value, path);
  const bytes = Buffer.byteLength(cursor, 'utf8');
  if (bytes > MAX_PLUGIN_CURSOR_BYTES) {
    throw new PluginOutputError(path, `${bytes} bytes; at most ${MAX_PLUGIN_CURSOR_BYTES} allowed`);
  }
  return cursor;
}

function page<T>(value: unknown, convert: (item: unknown, path: string) => T, path: string) {
  const p = record(value, path);
  return {
    items: list(p.items, `${path}.items`).map((item, i) => convert(item, `${path}.items[${i}]`)),
    nextCursor: cursorOf(p.nextCursor, `${path}.nextCursor`),
  };
}

/** A search or list result: a page of media of `sourceId`. */
export function toMediaPage(sourceId: string, value: unknown, path: string): MediaPage {
  return create(
    MediaPageSchema,
    page(value, (m, p) => toMedia(sourceId, m, p), path),
  );
}

/** A list-units result. */
export function toUnitPage(value: unknown, path = 'listUnits'): UnitPage {
  return create(UnitPageSchema, page(value, toUnit, path));
}

/** A get-assets result. */
export function toAssetList(value: unknown, path = 'assets'): AssetList {
  return create(AssetListSchema, { assets: list(value, path).map((a, i) => toAsset(a, `${path}[${i}]`)) });
}

/** A filters result. */
export function toFilterList(value: unknown, path = 'filters'): FilterList {
  return create(FilterListSchema, { filters: list(value, path).map((f, i) => toFilter(f, `${path}[${i}]`)) });
}
