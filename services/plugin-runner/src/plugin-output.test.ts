import { MAX_PLUGIN_CURSOR_BYTES } from '@awasm/runner-api';
import { AssetKind, FilterKind, MediaKind, MediaStatus, UnitKind } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { describe, expect, it } from 'vitest';
import {
  PluginOutputError,
  toAsset,
  toAssetList,
  toFilter,
  toFilterList,
  toMedia,
  toMediaPage,
  toUnit,
  toUnitPage,
} from './plugin-output.js';

// Values as jco lifts them from a well-behaved plugin.
const media = {
  id: 'm1',
  title: 'Dune',
  kind: 'book',
  altTitles: ['Dune (1965)'],
  description: undefined,
  coverUrl: 'https://x.test/c.jpg',
  authors: ['F. Herbert'],
  genres: ['sf'],
  status: 'completed',
  languages: ['en'],
  nsfw: false,
  url: undefined,
};
const unit = {
  id: 'u1',
  mediaId: 'm1',
  kind: 'chapter',
  title: 'One',
  number: 1.5,
  group: undefined,
  language: 'en',
  publishedAt: 1_700_000_000_000n,
  url: undefined,
};
const asset = {
  kind: 'page',
  index: 3,
  url: 'https://x.test/3.png',
  text: undefined,
  mimeType: 'image/png',
  language: undefined,
  quality: undefined,
  headers: [{ name: 'referer', value: 'https://x.test/' }],
};
const filter = { id: 'genre', label: 'Genre', kind: 'multi-select', options: [{ value: 'sf', label: 'SF' }] };

function malformed(convert: () => unknown): string {
  try {
    convert();
  } catch (error) {
    expect(error).toBeInstanceOf(PluginOutputError);
    return (error as Error).message;
  }
  throw new Error('expected a PluginOutputError');
}

describe('well-formed plugin output', () => {
  it('converts each record to its message', () => {
    expect(toMedia('s', media)).toMatchObject({
      sourceId: 's',
      id: 'm1',
      kind: MediaKind.BOOK,
      status: MediaStatus.COMPLETED,
      description: '',
      coverUrl: 'https://x.test/c.jpg',
      url: '',
    });
    const u = toUnit(unit);
    expect(u).toMatchObject({ id: 'u1', kind: UnitKind.CHAPTER, number: 1.5, language: 'en' });
    expect(u.group).toBeUndefined();
    expect(u.publishedAt?.seconds).toBe(1_700_000_000n);
    expect(toAsset(asset)).toMatchObject({ kind: AssetKind.PAGE, index: 3, text: '' });
    expect(toFilter(filter)).toMatchObject({ kind: FilterKind.MULTI_SELECT, options: [{ value: 'sf', label: 'SF' }] });
  });

  it('converts pages and lists to the runner messages', () => {
    const page = toMediaPage('s', { items: [media], nextCursor: 'n' }, 'search');
    expect(page.$typeName).toBe('awasm.internal.v1.MediaPage');
    expect(page.nextCursor).toBe('n');
    expect(toMediaPage('s', { items: [] }, 'list').nextCursor).toBe('');
    expect(toUnitPage({ items: [unit] }).items).toHaveLength(1);
    expect(toAssetList([asset]).assets).toHaveLength(1);
    expect(toFilterList([filter]).filters).toHaveLength(1);
    const longest = 'c'.repeat(MAX_PLUGIN_CURSOR_BYTES);
    expect(toMediaPage('s', { items: [], nextCursor: longest }, 'search').nextCursor).toBe(longest);
  });
});

describe('malformed plugin output names the field', () => {
  const prefix = 'plugin returned a malformed value at';
  const cases: Array<[string, () => unknown, string]> = [
    ['media not a record', () => toMedia('s', 'dune'), 'media: expected a record'],
    ['media a list', () => toMedia('s', [media]), 'media: expected a record'],
    ['media.id', () => toMedia('s', { ...media, id: 7 }), 'media.id: expected a string'],
    ['media.title', () => toMedia('s', { ...media, title: undefined }), 'media.title: expected a string'],
    ['media.kind', () => toMedia('s', { ...media, kind: 'podcast' }), "media.kind: unknown value 'podcast'"],
    ['media.altTitles', () => toMedia('s', { ...media, altTitles: 'x' }), 'media.altTitles: expected a list'],
    [
      'media.altTitles[i]',
      () => toMedia('s', { ...media, altTitles: ['a', 1] }),
      'media.altTitles[1]: expected a string',
    ],
    ['media.description', () => toMedia('s', { ...media, description: 1 }), 'media.description: expected a string'],
    ['media.coverUrl', () => toMedia('s', { ...media, coverUrl: {} }), 'media.coverUrl: expected a string'],
    ['media.authors', () => toMedia('s', { ...media, authors: undefined }), 'media.authors: expected a list'],
    ['media.genres', () => toMedia('s', { ...media, genres: [null] }), 'media.genres[0]: expected a string'],
    ['media.status', () => toMedia('s', { ...media, status: 'lost' }), "media.status: unknown value 'lost'"],
    ['media.languages', () => toMedia('s', { ...media, languages: 'en' }), 'media.languages: expected a list'],
    ['media.nsfw', () => toMedia('s', { ...media, nsfw: 'no' }), 'media.nsfw: expected a bool'],
    ['media.url', () => toMedia('s', { ...media, url: 5 }), 'media.url: expected a string'],
    ['unit not a record', () => toUnit(null), 'unit: expected a record'],
    ['unit.id', () => toUnit({ ...unit, id: undefined }), 'unit.id: expected a string'],
    ['unit.mediaId', () => toUnit({ ...unit, mediaId: 1 }), 'unit.mediaId: expected a string'],
    ['unit.kind', () => toUnit({ ...unit, kind: 'scene' }), "unit.kind: unknown value 'scene'"],
    ['unit.title', () => toUnit({ ...unit, title: [] }), 'unit.title: expected a string'],
    ['unit.number', () => toUnit({ ...unit, number: Number.NaN }), 'unit.number: expected a number'],
    ['unit.group', () => toUnit({ ...unit, group: '2' }), 'unit.group: expected a number'],
    ['unit.language', () => toUnit({ ...unit, language: 1 }), 'unit.language: expected a string'],
    ['unit.publishedAt', () => toUnit({ ...unit, publishedAt: 17 }), 'unit.publishedAt: expected a u64'],
    ['unit.url', () => toUnit({ ...unit, url: true }), 'unit.url: expected a string'],
    ['asset not a record', () => toAsset(3), 'asset: expected a record'],
    ['asset.kind', () => toAsset({ ...asset, kind: 'video' }), "asset.kind: unknown value 'video'"],
    ['asset.index', () => toAsset({ ...asset, index: '3' }), 'asset.index: expected a u32'],
    ['asset.url', () => toAsset({ ...asset, url: 1 }), 'asset.url: expected a string'],
    ['asset.text', () => toAsset({ ...asset, text: 1 }), 'asset.text: expected a string'],
    ['asset.mimeType', () => toAsset({ ...asset, mimeType: 1 }), 'asset.mimeType: expected a string'],
    ['asset.language', () => toAsset({ ...asset, language: 1 }), 'asset.language: expected a string'],
    ['asset.quality', () => toAsset({ ...asset, quality: 1 }), 'asset.quality: expected a string'],
    ['asset.headers', () => toAsset({ ...asset, headers: undefined }), 'asset.headers: expected a list'],
    ['asset.headers[i]', () => toAsset({ ...asset, headers: ['x'] }), 'asset.headers[0]: expected a record'],
    [
      'asset.headers[i].name',
      () => toAsset({ ...asset, headers: [{ value: 'v' }] }),
      'asset.headers[0].name: expected a string',
    ],
    [
      'asset.headers[i].value',
      () => toAsset({ ...asset, headers: [{ name: 'n', value: 2 }] }),
      'asset.headers[0].value: expected a string',
    ],
    ['filter not a record', () => toFilter(undefined), 'filter: expected a record'],
    ['filter.id', () => toFilter({ ...filter, id: 1 }), 'filter.id: expected a string'],
    ['filter.label', () => toFilter({ ...filter, label: 1 }), 'filter.label: expected a string'],
    ['filter.kind', () => toFilter({ ...filter, kind: 'range' }), "filter.kind: unknown value 'range'"],
    ['filter.options', () => toFilter({ ...filter, options: {} }), 'filter.options: expected a list'],
    ['filter.options[i]', () => toFilter({ ...filter, options: [1] }), 'filter.options[0]: expected a record'],
    [
      'filter.options[i].value',
      () => toFilter({ ...filter, options: [{ label: 'l' }] }),
      'filter.options[0].value: expected a string',
    ],
    [
      'filter.options[i].label',
      () => toFilter({ ...filter, options: [{ value: 'v' }] }),
      'filter.options[0].label: expected a string',
    ],
    ['page not a record', () => toMediaPage('s', [media], 'search'), 'search: expected a record'],
    ['page.items', () => toMediaPage('s', { items: media }, 'list'), 'list.items: expected a list'],
    [
      'page.items[i]',
      () => toMediaPage('s', { items: [media, { ...media, nsfw: 1 }] }, 'search'),
      'search.items[1].nsfw: expected a bool',
    ],
    [
      'page.nextCursor',
      () => toMediaPage('s', { items: [], nextCursor: 9 }, 'search'),
      'search.nextCursor: expected a string',
    ],
    [
      'page.nextCursor too long',
      () => toUnitPage({ items: [], nextCursor: 'é'.repeat(MAX_PLUGIN_CURSOR_BYTES / 2 + 1) }),
      `listUnits.nextCursor: ${MAX_PLUGIN_CURSOR_BYTES + 2} bytes; at most ${MAX_PLUGIN_CURSOR_BYTES} allowed`,
    ],
    [
      'unit page items',
      () => toUnitPage({ items: [{ ...unit, kind: 1 }] }),
      "listUnits.items[0].kind: unknown value '1'",
    ],
    ['asset list', () => toAssetList({ assets: [] }), 'assets: expected a list'],
    ['asset list item', () => toAssetList([asset, { ...asset, kind: 'gif' }]), "assets[1].kind: unknown value 'gif'"],
    ['filter list', () => toFilterList('genre'), 'filters: expected a list'],
    ['filter list item', () => toFilterList([{ ...filter, label: null }]), 'filters[0].label: expected a string'],
  ];
  it.each(cases)('%s', (_name, convert, message) => {
    expect(malformed(convert)).toBe(`${prefix} ${message}`);
  });
});
