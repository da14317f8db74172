import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { BackupFormatError } from './backup-format.js';

/** A 64-bit integer: a number when it is a safe integer, its decimal string otherwise. */
export type Int64 = number | string;

export interface TachibkChapter {
  url: string;
  name: string;
  scanlator?: string;
  read: boolean;
  bookmark: boolean;
  lastPageRead: Int64;
  dateFetch: Int64;
  dateUpload: Int64;
  chapterNumber: number;
}

export interface TachibkHistory {
  url: string;
  /** Unix ms. */
  lastRead: Int64;
  readDuration: Int64;
}

export interface TachibkManga {
  /** Mihon source id, a decimal string because it exceeds 2^53. */
  source: string;
  url: string;
  title: string;
  artist?: string;
  author?: string;
  description?: string;
  genres: string[];
  status: number;
  thumbnailUrl?: string;
  /** Unix ms. */
  dateAdded: Int64;
  chapters: TachibkChapter[];
  /** The `order` values of the categories the entry belongs to. */
  categories: Int64[];
  favorite: boolean;
  history: TachibkHistory[];
}

export interface TachibkCategory {
  name: string;
  order: Int64;
}

export interface TachibkSource {
  name: string;
  /** Decimal string, as for `TachibkManga.source`. */
  sourceId: string;
}

export interface TachibkBackup {
  mangas: TachibkManga[];
  categories: TachibkCategory[];
  sources: TachibkSource[];
}

export interface TachibkLimits {
  /** Cap on the inflated (or uncompressed) protobuf, in bytes. */
  maxInflatedBytes: number;
  maxMangas: number;
  maxChaptersPerManga: number;
  maxHistoryPerManga: number;
  maxGenresPerManga: number;
  /** Category references of one entry and categories of the backup alike. */
  maxCategories: number;
  maxSources: number;
  /** UTF-8 bytes of a text field (title, description, names, …). */
  maxTextBytes: number;
  /** UTF-8 bytes of a url field. */
  maxUrlBytes: number;
  /** Depth of nested groups in unknown fields; Mihon writes none. */
  maxGroupDepth: number;
}

export const defaultTachibkLimits: Readonly<TachibkLimits> = Object.freeze({
  maxInflatedBytes: 64 * 1024 * 1024,
  maxMangas: 100_000,
  maxChaptersPerManga: 50_000,
  maxHistoryPerManga: 50_000,
  maxGenresPerManga: 1_000,
  maxCategories: 10_000,
  maxSources: 10_000,
  maxTextBytes: 64 * 1024,
  maxUrlBytes: 4 * 1024,
  maxGroupDepth: 8,
});

export { BackupFormatError };

const wireTypeNames: Record<number, string> = {
  [WireType.Varint]: 'varint',
  [WireType.Bit64]: 'fixed64',
  [WireType.LengthDelimited]: 'length-delimited',
  [WireType.StartGroup]: 'start-group',
  [WireType.EndGroup]: 'end-group',
  [WireType.Bit32]: 'fixed32',
};

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const gunzipAsync = promisify(gunzip);

/**
 * Decodes a Mihon/Tachiyomi `.tachibk`: the gzip of a protobuf `Backup`. Inflating runs off the
 * event loop and stops at `maxInflatedBytes`, so a gzip bomb costs at most the cap.
 */
export async function decodeTachibk(bytes: Uint8Array, limits: Partial<TachibkLimits> = {}): Promise<TachibkBackup> {
  const resolved: TachibkLimits = { ...defaultTachibkLimits, ...limits };
  return new Decoder(await inflate(bytes, resolved.maxInflatedBytes), resolved).backup();
}

async function inflate(bytes: Uint8Array, cap: number): Promise<Uint8Array> {
  // a JSON backup or any other file is named as such, not reported as a broken protobuf
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw new BackupFormatError('backup: not a .tachibk (gzip) file');
  }
  try {
    return await gunzipAsync(bytes, { maxOutputLength: cap });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new BackupFormatError(`backup: inflated size exceeds the cap of ${cap} bytes`);
    }
    throw new BackupFormatError(`backup: not a valid gzip stream (${(error as Error).message})`);
  }
}

function int64(value: bigint | string): Int64 {
  const text = String(value);
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

class Decoder {
  private readonly r: BinaryReader;

  constructor(
    private readonly buf: Uint8Array,
    private readonly limits: TachibkLimits,
  ) {
    this.r = new BinaryReader(buf);
  }

  backup(): TachibkBackup {
    const out: TachibkBackup = { mangas: [], categories: [], sources: [] };
    const end = this.r.len;
    this.message(end, 'backup', (field, wt) => {
      switch (field) {
        case 1:
          return this.element(wt, 'backupManga', end, out.mangas, this.limits.maxMangas, 'mangas', (e, p) =>
            this.manga(e, p),
          );
        case 2:
          return this.element(
            wt,
            'backupCategories',
            end,
            out.categories,
            this.limits.maxCategories,
            'categories',
            (e, p) => this.category(e, p),
          );
        case 101:
          return this.element(wt, 'backupSources', end, out.sources, this.limits.maxSources, 'sources', (e, p) =>
            this.source(e, p),
          );
        default:
          return false;
      }
    });
    return out;
  }

  private manga(end: number, path: string): TachibkManga {
    const m: TachibkManga = {
      source: '0',
      url: '',
      title: '',
      genres: [],
      status: 0,
      dateAdded: 0,
      chapters: [],
      categories: [],
      favorite: true,
      history: [],
    };
    this.message(end, path, (field, wt) => {
      const at = (name: string) => `${path}.${name}`;
      switch (field) {
        case 1:
          m.source = String(this.varint(wt, at('source'), end, () => this.r.int64()));
          return true;
        case 2:
          m.url = this.string(wt, at('url'), end, this.limits.maxUrlBytes);
          return true;
        case 3:
          m.title = this.string(wt, at('title'), end, this.limits.maxTextBytes);
          return true;
        case 4:
          m.artist = this.string(wt, at('artist'), end, this.limits.maxTextBytes);
          return true;
        case 5:
          m.author = this.string(wt, at('author'), end, this.limits.maxTextBytes);
          return true;
        case 6:
          m.description = this.string(wt, at('description'), end, this.limits.maxTextBytes);
          return true;
        case 7: {
          const p = `${at('genre')}[${m.genres.length}]`;
          this.room(m.genres, this.limits.maxGenresPerManga, 'genres', p);
          m.genres.push(this.string(wt, p, end, this.limits.maxTextBytes));
          return true;
        }
        case 8:
          m.status = this.varint(wt, at('status'), end, () => this.r.int32());
          return true;
        case 9:
          m.thumbnailUrl = this.string(wt, at('thumbnailUrl'), end, this.limits.maxUrlBytes);
          return true;
        case 13:
          m.dateAdded = int64(this.varint(wt, at('dateAdded'), end, () => this.r.int64()));
          return true;
        case 16:
          return this.element(
            wt,
            at('chapters'),
            end,
            m.chapters,
            this.limits.maxChaptersPerManga,
            'chapters',
            (e, p) => this.chapter(e, p),
          );
        case 17:
          this.repeatedVarint(wt, at('categories'), end, m.categories, this.limits.maxCategories, () =>
            int64(this.r.int64()),
          );
          return true;
        case 18:
          // tracking is not imported, but it must still be a message
          this.expect(wt, WireType.LengthDelimited, at('tracking'));
          this.delimited(at('tracking'), end);
          return true;
        case 100:
          m.favorite = this.varint(wt, at('favorite'), end, () => this.r.bool());
          return true;
        case 104:
          return this.element(
            wt,
            at('history'),
            end,
            m.history,
            this.limits.maxHistoryPerManga,
            'history entries',
            (e, p) => this.history(e, p),
          );
        default:
          return false;
      }
    });
    return m;
  }

  private chapter(end: number, path: string): TachibkChapter {
    const c: TachibkChapter = {
      url: '',
      name: '',
      read: false,
      bookmark: false,
      lastPageRead: 0,
      dateFetch: 0,
      dateUpload: 0,
      chapterNumber: 0,
    };
    this.message(end, path, (field, wt) => {
      const at = (name: string) => `${path}.${name}`;
      switch (field) {
        case 1:
          c.url = this.string(wt, at('url'), end, this.limits.maxUrlBytes);
          return true;
        case 2:
          c.name = this.string(wt, at('name'), end, this.limits.maxTextBytes);
          return true;
        case 3:
          c.scanlator = this.string(wt, at('scanlator'), end, this.limits.maxTextBytes);
          return true;
        case 4:
          c.read = this.varint(wt, at('read'), end, () => this.r.bool());
          return true;
        case 5:
          c.bookmark = this.varint(wt, at('bookmark'), end, () => this.r.bool());
          return true;
        case 6:
          c.lastPageRead = int64(this.varint(wt, at('lastPageRead'), end, () => this.r.int64()));
          return true;
        case 7:
          c.dateFetch = int64(this.varint(wt, at('dateFetch'), end, () => this.r.int64()));
          return true;
        case 8:
          c.dateUpload = int64(this.varint(wt, at('dateUpload'), end, () => this.r.int64()));
          return true;
        case 9:
          this.expect(wt, WireType.Bit32, at('chapterNumber'));
          this.need(4, at('chapterNumber'), end);
          c.chapterNumber = this.r.float();
          return true;
        default:
          return false;
      }
    });
    return c;
  }

  private category(end: number, path: string): TachibkCategory {
    const c: TachibkCategory = { name: '', order: 0 };
    this.message(end, path, (field, wt) => {
      if (field === 1) c.name = this.string(wt, `${path}.name`, end, this.limits.maxTextBytes);
      else if (field === 2) c.order = int64(this.varint(wt, `${path}.order`, end, () => this.r.int64()));
      else return false;
      return true;
    });
    return c;
  }

  private history(end: number, path: string): TachibkHistory {
    const h: TachibkHistory = { url: '', lastRead: 0, readDuration: 0 };
    this.message(end, path, (field, wt) => {
      if (field === 1) h.url = this.string(wt, `${path}.url`, end, this.limits.maxUrlBytes);
      else if (field === 2) h.lastRead = int64(this.varint(wt, `${path}.lastRead`, end, () => this.r.int64()));
      else if (field === 3) h.readDuration = int64(this.varint(wt, `${path}.readDuration`, end, () => this.r.int64()));
      else return false;
      return true;
    });
    return h;
  }

  private source(end: number, path: string): TachibkSource {
    const s: TachibkSource = { name: '', sourceId: '0' };
    this.message(end, path, (field, wt) => {
      if (field === 1) s.name = this.string(wt, `${path}.name`, end, this.limits.maxTextBytes);
      else if (field === 2) s.sourceId = String(this.varint(wt, `${path}.sourceId`, end, () => this.r.int64()));
      else return false;
      return true;
    });
    return s;
  }

  /** Reads fields up to `end`; `known` returns false for a field it does not know, which is skipped. */
  private message(end: number, path: string, known: (field: number, wt: WireType) => boolean): void {
    while (this.r.pos < end) {
      const [field, wt] = this.tag(path, end);
      if (!known(field, wt)) this.skip(field, wt, `${path}.<${field}>`, end, 0);
    }
  }

  private tag(path: string, end: number): [number, WireType] {
    let tag: [number, WireType];
    try {
      tag = this.r.tag();
    } catch (error) {
      throw new BackupFormatError(`${path}: ${(error as Error).message}`);
    }
    if (this.r.pos > end) throw new BackupFormatError(`${path}: truncated`);
    if (tag[1] === WireType.EndGroup) throw new BackupFormatError(`${path}.<${tag[0]}>: end-group without a group`);
    return tag;
  }

  private skip(field: number, wt: WireType, path: string, end: number, depth: number): void {
    switch (wt) {
      case WireType.Varint:
        this.varint(wt, path, end, () => this.r.uint64());
        return;
      case WireType.Bit64:
        this.need(8, path, end);
        this.r.pos += 8;
        return;
      case WireType.Bit32:
        this.need(4, path, end);
        this.r.pos += 4;
        return;
      case WireType.LengthDelimited:
        this.delimited(path, end);
        return;
      case WireType.StartGroup:
        if (depth >= this.limits.maxGroupDepth) {
          throw new BackupFormatError(`${path}: groups nested deeper than ${this.limits.maxGroupDepth}`);
        }
        for (;;) {
          if (this.r.pos >= end) throw new BackupFormatError(`${path}: truncated`);
          let tag: [number, WireType];
          try {
            tag = this.r.tag();
          } catch (error) {
            throw new BackupFormatError(`${path}: ${(error as Error).message}`);
          }
          if (this.r.pos > end) throw new BackupFormatError(`${path}: truncated`);
          const [inner, innerWt] = tag;
          if (innerWt === WireType.EndGroup) {
            if (inner !== field) throw new BackupFormatError(`${path}: end-group ${inner} does not match`);
            return;
          }
          this.skip(inner, innerWt, `${path}.<${inner}>`, end, depth + 1);
        }
      default:
        throw new BackupFormatError(`${path}: unexpected ${wireTypeNames[wt] ?? `wire type ${wt}`}`);
    }
  }

  /** One element of a repeated message field, counted against its limit before it is decoded. */
  private element<T>(
    wt: WireType,
    path: string,
    end: number,
    list: T[],
    limit: number,
    what: string,
    decode: (elementEnd: number, elementPath: string) => T,
  ): true {
    const elementPath = `${path}[${list.length}]`;
    this.expect(wt, WireType.LengthDelimited, elementPath);
    this.room(list, limit, what, elementPath);
    const len = this.length(elementPath, end);
    list.push(decode(this.r.pos + len, elementPath));
    return true;
  }

  private room(list: unknown[], limit: number, what: string, path: string): void {
    if (list.length >= limit) throw new BackupFormatError(`${path}: more than ${limit} ${what}`);
  }

  private expect(wt: WireType, want: WireType, path: string): void {
    if (wt !== want) {
      throw new BackupFormatError(`${path}: wrong wire type ${wireTypeNames[wt]}, expected ${wireTypeNames[want]}`);
    }
  }

  private need(n: number, path: string, end: number): void {
    if (end - this.r.pos < n) throw new BackupFormatError(`${path}: truncated`);
  }

  private varint<T>(wt: WireType, path: string, end: number, read: () => T): T {
    this.expect(wt, WireType.Varint, path);
    return this.scalar(path, end, read);
  }

  private scalar<T>(path: string, end: number, read: () => T): T {
    // every varint needs at least one byte; the reader would read past the end otherwise
    if (this.r.pos >= end) throw new BackupFormatError(`${path}: truncated`);
    let value: T;
    try {
      value = read();
    } catch (error) {
      throw new BackupFormatError(`${path}: ${(error as Error).message}`);
    }
    if (this.r.pos > end) throw new BackupFormatError(`${path}: truncated`);
    return value;
  }

  /** Reads a length prefix and checks it against the bytes left before anything is read. */
  private length(path: string, end: number): number {
    const len = this.scalar(path, end, () => this.r.uint32());
    if (len > end - this.r.pos) throw new BackupFormatError(`${path}: truncated`);
    return len;
  }

  private delimited(path: string, end: number): Uint8Array {
    const len = this.length(path, end);
    const start = this.r.pos;
    this.r.pos += len;
    return this.buf.subarray(start, start + len);
  }

  private string(wt: WireType, path: string, end: number, maxBytes: number): string {
    this.expect(wt, WireType.LengthDelimited, path);
    const len = this.length(path, end);
    if (len > maxBytes) throw new BackupFormatError(`${path}: string of ${len} bytes exceeds the limit of ${maxBytes}`);
    const start = this.r.pos;
    this.r.pos += len;
    try {
      return utf8.decode(this.buf.subarray(start, start + len));
    } catch {
      throw new BackupFormatError(`${path}: invalid UTF-8`);
    }
  }

  /** A repeated varint field, packed or not. */
  private repeatedVarint<T>(wt: WireType, path: string, end: number, list: T[], limit: number, read: () => T): void {
    if (wt === WireType.Varint) {
      const p = `${path}[${list.length}]`;
      this.room(list, limit, 'entries', p);
      list.push(this.scalar(p, end, read));
      return;
    }
    this.expect(wt, WireType.LengthDelimited, path);
    const len = this.length(path, end);
    const packedEnd = this.r.pos + len;
    while (this.r.pos < packedEnd) {
      const p = `${path}[${list.length}]`;
      this.room(list, limit, 'entries', p);
      list.push(this.scalar(p, packedEnd, read));
    }
  }
}
