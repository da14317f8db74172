import { Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { BackupFormatError, decodeTachibk, type TachibkLimits } from './tachibk.js';

const BIG_SOURCE = '7018969093546478934';

type Build = (w: BinaryWriter) => void;

function message(w: BinaryWriter, field: number, build: Build): void {
  w.tag(field, WireType.LengthDelimited).fork();
  build(w);
  w.join();
}

function bytesOf(build: Build): Uint8Array {
  const w = new BinaryWriter();
  build(w);
  return w.finish();
}

/** Unknown fields of every wire type, including a group and the largest field number. */
function unknowns(w: BinaryWriter): void {
  w.tag(536_870_911, WireType.Varint).uint64('18446744073709551615');
  w.tag(9001, WireType.Bit64).fixed64(42);
  w.tag(9002, WireType.Bit32).fixed32(42);
  w.tag(9003, WireType.LengthDelimited).bytes(new Uint8Array([1, 2, 3]));
  w.tag(9004, WireType.StartGroup);
  w.tag(1, WireType.Varint).int32(5);
  w.tag(9004, WireType.EndGroup);
}

function chapter(w: BinaryWriter, url: string, build: Build = () => {}): void {
  message(w, 16, (c) => {
    c.tag(1, WireType.LengthDelimited).string(url);
    c.tag(2, WireType.LengthDelimited).string(`Chapter ${url}`);
    build(c);
  });
}

function fullBackup(): Uint8Array {
  return bytesOf((w) => {
    message(w, 2, (c) => {
      c.tag(1, WireType.LengthDelimited).string('Reading');
      c.tag(2, WireType.Varint).int64(1);
    });
    message(w, 2, (c) => {
      c.tag(1, WireType.LengthDelimited).string('Done');
      c.tag(2, WireType.Varint).int64(2);
      unknowns(c);
    });
    message(w, 1, (m) => {
      m.tag(1, WireType.Varint).int64(BIG_SOURCE);
      m.tag(2, WireType.LengthDelimited).string('/manga/1');
      m.tag(3, WireType.LengthDelimited).string('Ōkami – 狼');
      m.tag(4, WireType.LengthDelimited).string('Artist');
      m.tag(5, WireType.LengthDelimited).string('Author');
      m.tag(6, WireType.LengthDelimited).string('A wolf.');
      m.tag(7, WireType.LengthDelimited).string('Action');
      m.tag(7, WireType.LengthDelimited).string('Drama');
      m.tag(8, WireType.Varint).int32(2);
      m.tag(9, WireType.LengthDelimited).string('https://img.example/1.jpg');
      m.tag(13, WireType.Varint).int64(1_700_000_000_000);
      chapter(m, '/c/1', (c) => {
        c.tag(3, WireType.LengthDelimited).string('Group');
        c.tag(4, WireType.Varint).bool(true);
        c.tag(6, WireType.Varint).int64(17);
        c.tag(7, WireType.Varint).int64(1_700_000_100_000);
        c.tag(8, WireType.Varint).int64(1_600_000_000_000);
        c.tag(9, WireType.Bit32).float(1.5);
        unknowns(c);
      });
      chapter(m, '/c/2', (c) => {
        c.tag(5, WireType.Varint).bool(true);
        c.tag(9, WireType.Bit32).float(2);
      });
      // packed category orders
      m.tag(17, WireType.LengthDelimited).fork().int64(1).int64(2).join();
      message(m, 18, (t) => t.tag(1, WireType.Varint).int32(3));
      message(m, 104, (h) => {
        h.tag(1, WireType.LengthDelimited).string('/c/1');
        h.tag(2, WireType.Varint).int64(1_700_000_200_000);
        h.tag(3, WireType.Varint).int64(60_000);
      });
      m.tag(100, WireType.Varint).bool(true);
      unknowns(m);
    });
    message(w, 1, (m) => {
      m.tag(1, WireType.Varint).int64(2);
      m.tag(2, WireType.LengthDelimited).string('/manga/2');
      m.tag(3, WireType.LengthDelimited).string('Not a favourite');
      // unpacked category order
      m.tag(17, WireType.Varint).int64(2);
      m.tag(100, WireType.Varint).bool(false);
    });
    message(w, 1, (m) => {
      m.tag(1, WireType.Varint).int64(3);
      m.tag(2, WireType.LengthDelimited).string('/manga/3');
      m.tag(3, WireType.LengthDelimited).string('Favourite by default');
    });
    message(w, 101, (s) => {
      s.tag(1, WireType.LengthDelimited).string('MangaDex');
      s.tag(2, WireType.Varint).int64(BIG_SOURCE);
    });
    unknowns(w);
  });
}

const expected = {
  categories: [
    { name: 'Reading', order: 1 },
    { name: 'Done', order: 2 },
  ],
  sources: [{ name: 'MangaDex', sourceId: BIG_SOURCE }],
  mangas: [
    {
      source: BIG_SOURCE,
      url: '/manga/1',
      title: 'Ōkami – 狼',
      artist: 'Artist',
      author: 'Author',
      description: 'A wolf.',
      genres: ['Action', 'Drama'],
      status: 2,
      thumbnailUrl: 'https://img.example/1.jpg',
      dateAdded: 1_700_000_000_000,
      chapters: [
        {
          url: '/c/1',
          name: 'Chapter /c/1',
          scanlator: 'Group',
          read: true,
          bookmark: false,
          lastPageRead: 17,
          dateFetch: 1_700_000_100_000,
          dateUpload: 1_600_000_000_000,
          chapterNumber: 1.5,
        },
        {
          url: '/c/2',
          name: 'Chapter /c/2',
          read: false,
          bookmark: true,
          lastPageRead: 0,
          dateFetch: 0,
          dateUpload: 0,
          chapterNumber: 2,
        },
      ],
      categories: [1, 2],
      favorite: true,
      history: [{ url: '/c/1', lastRead: 1_700_000_200_000, readDuration: 60_000 }],
    },
    {
      source: '2',
      url: '/manga/2',
      title: 'Not a favourite',
      genres: [],
      status: 0,
      dateAdded: 0,
      chapters: [],
      categories: [2],
      favorite: false,
      history: [],
    },
    {
      source: '3',
      url: '/manga/3',
      title: 'Favourite by default',
      genres: [],
      status: 0,
      dateAdded: 0,
      chapters: [],
      categories: [],
      favorite: true,
      history: [],
    },
  ],
};

async function refusal(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(BackupFormatError);
    return (error as Error).message;
  }
  throw new Error('expected a BackupFormatError');
}

/** Gzips the protobuf as Mihon does, then decodes it. */
function decodeProtobuf(bytes: Uint8Array, limits?: Partial<TachibkLimits>) {
  return decodeTachibk(gzipSync(bytes), limits);
}

describe('decodeTachibk', () => {
  it('decodes a gzipped backup, keeping big source ids as strings and skipping unknown fields', async () => {
    expect(await decodeTachibk(gzipSync(fullBackup()))).toEqual(expected);
  });

  it('refuses a gzip bomb at the cap without inflating it, off the event loop', async () => {
    const zeros = Buffer.alloc(1024 * 1024);
    const chunks: Buffer[] = [];
    const gzip = Readable.from(
      (function* () {
        for (let i = 0; i < 1024; i++) yield zeros;
      })(),
    ).pipe(createGzip());
    for await (const chunk of gzip) chunks.push(chunk as Buffer);
    const bomb = Buffer.concat(chunks);
    expect(bomb.length).toBeLessThan(4 * 1024 * 1024);

    const before = process.memoryUsage().rss;
    // the event loop keeps turning while the bomb inflates: a synchronous gunzip would give no turns
    let turns = 0;
    let turning = true;
    const turn = () => {
      turns++;
      if (turning) setImmediate(turn);
    };
    setImmediate(turn);
    const refused = refusal(() => decodeTachibk(bomb));
    expect(await refused).toBe('backup: inflated size exceeds the cap of 67108864 bytes');
    turning = false;
    expect(turns).toBeGreaterThan(1);
    expect(await refusal(() => decodeTachibk(bomb, { maxInflatedBytes: 1024 }))).toBe(
      'backup: inflated size exceeds the cap of 1024 bytes',
    );
    // the cap bounds the allocation far below the 1 GiB the bomb inflates to
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
  });

  it('refuses input that is not gzip, a JSON backup among it, as not a .tachibk', async () => {
    const notTachibk = 'backup: not a .tachibk (gzip) file';
    expect(await refusal(() => decodeTachibk(new Uint8Array()))).toBe(notTachibk);
    expect(await refusal(() => decodeTachibk(new TextEncoder().encode('{"json": true}')))).toBe(notTachibk);
    expect(await refusal(() => decodeTachibk(fullBackup()))).toBe(notTachibk);
    expect(await refusal(() => decodeTachibk(new Uint8Array([0x1f, 0x8b, 0, 0])))).toMatch(
      /^backup: not a valid gzip stream \(.+\)$/,
    );
  });

  it('refuses a truncated protobuf', async () => {
    const whole = fullBackup();
    expect(await refusal(() => decodeProtobuf(whole.subarray(0, 60)))).toMatch(
      /^backup(Manga\[0\]|Categories\[\d\])(\.\w+)*: truncated$/,
    );
    const cut = bytesOf((w) => message(w, 1, (m) => chapter(m, '/c/1'))).subarray(0, -3);
    expect(await refusal(() => decodeProtobuf(cut))).toBe('backupManga[0]: truncated');
  });

  it('refuses a wrong wire type for a known field', async () => {
    const bad = bytesOf((w) =>
      message(w, 1, (m) => {
        chapter(m, '/c/1');
        chapter(m, '/c/2', (c) => c.tag(4, WireType.LengthDelimited).string('yes'));
      }),
    );
    expect(await refusal(() => decodeProtobuf(bad))).toBe(
      'backupManga[0].chapters[1].read: wrong wire type length-delimited, expected varint',
    );
  });

  it('refuses an over-long string and invalid UTF-8', async () => {
    const long = bytesOf((w) =>
      message(w, 1, (m) => chapter(m, '/c/1', (c) => c.tag(1, WireType.LengthDelimited).string('x'.repeat(4097)))),
    );
    expect(await refusal(() => decodeProtobuf(long))).toBe(
      'backupManga[0].chapters[0].url: string of 4097 bytes exceeds the limit of 4096',
    );
    const invalid = bytesOf((w) =>
      message(w, 1, (m) => m.tag(3, WireType.LengthDelimited).bytes(new Uint8Array([0xc3, 0x28]))),
    );
    expect(await refusal(() => decodeProtobuf(invalid))).toBe('backupManga[0].title: invalid UTF-8');
  });

  it('refuses too many chapters or mangas before decoding the one over the limit', async () => {
    const many = bytesOf((w) =>
      message(w, 1, (m) => {
        for (let i = 0; i < 4; i++) chapter(m, `/c/${i}`);
      }),
    );
    expect(await refusal(() => decodeProtobuf(many, { maxChaptersPerManga: 3 }))).toBe(
      'backupManga[0].chapters[3]: more than 3 chapters',
    );
    const two = bytesOf((w) => {
      message(w, 1, (m) => m.tag(2, WireType.LengthDelimited).string('/a'));
      message(w, 1, (m) => m.tag(2, WireType.LengthDelimited).string('/b'));
    });
    expect(await refusal(() => decodeProtobuf(two, { maxMangas: 1 }))).toBe('backupManga[1]: more than 1 mangas');
    const cutVarint = bytesOf((w) => message(w, 1, (m) => m.tag(100, WireType.Varint)));
    expect(await refusal(() => decodeProtobuf(cutVarint))).toBe('backupManga[0].favorite: truncated');
  });

  it('keeps a time that exceeds 2^53 as a decimal string', async () => {
    const far = bytesOf((w) => message(w, 1, (m) => m.tag(13, WireType.Varint).int64('9007199254740993')));
    expect((await decodeProtobuf(far)).mangas[0]?.dateAdded).toBe('9007199254740993');
  });

  it('refuses a stray end-group and a top-level element of the wrong wire type', async () => {
    const stray = bytesOf((w) => w.tag(7, WireType.EndGroup));
    expect(await refusal(() => decodeProtobuf(stray))).toBe('backup.<7>: end-group without a group');
    const scalar = bytesOf((w) => w.tag(1, WireType.Varint).int32(1));
    expect(await refusal(() => decodeProtobuf(scalar))).toBe(
      'backupManga[0]: wrong wire type varint, expected length-delimited',
    );
  });

  it('refuses groups nested deeper than the limit', async () => {
    const deep = bytesOf((w) => {
      for (let i = 0; i < 10; i++) w.tag(500, WireType.StartGroup);
      for (let i = 0; i < 10; i++) w.tag(500, WireType.EndGroup);
    });
    expect(await refusal(() => decodeProtobuf(deep))).toMatch(/^backup(\.<500>){9}: groups nested deeper than 8$/);
  });
});
