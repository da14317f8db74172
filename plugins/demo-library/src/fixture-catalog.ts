import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder that holds the fixture site's content (catalog, chapter texts, covers, pages). */
export const fixtureDir = fileURLToPath(new URL('../fixture/', import.meta.url));

export type FixtureKind = 'book' | 'manga';
export type FixtureStatus = 'unknown' | 'ongoing' | 'completed' | 'hiatus' | 'cancelled';

export interface FixtureUnit {
  id: string;
  title: string;
  number: number;
  volume?: number;
  /** ISO 8601 time the chapter appeared on the site */
  publishedAt: string;
  /** number of page images (manga only) */
  pages?: number;
}

export interface FixtureMedia {
  id: string;
  title: string;
  kind: FixtureKind;
  altTitles: string[];
  description: string;
  authors: string[];
  genres: string[];
  status: FixtureStatus;
  languages: string[];
  nsfw: boolean;
  /** 1 is the most popular */
  popularity: number;
  units: FixtureUnit[];
}

export interface FixtureGenre {
  value: string;
  label: string;
}

export interface FixtureCatalog {
  site: string;
  genres: FixtureGenre[];
  media: FixtureMedia[];
}

const ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const KINDS = new Set<string>(['book', 'manga']);
const STATUSES = new Set<string>(['unknown', 'ongoing', 'completed', 'hiatus', 'cancelled']);

function fail(path: string, problem: string): never {
  throw new Error(`fixture catalog: ${path} ${problem}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(obj: Record<string, unknown>, key: string, path: string): string {
  const value = obj[key];
  if (typeof value !== 'string' || value.length === 0) fail(`${path}.${key}`, 'must be a non-empty string');
  return value;
}

function strList(obj: Record<string, unknown>, key: string, path: string): string[] {
  const value = obj[key];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    fail(`${path}.${key}`, 'must be a string list');
  return value as string[];
}

function num(obj: Record<string, unknown>, key: string, path: string): number {
  const value = obj[key];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    fail(`${path}.${key}`, 'must be a number >= 0');
  return value;
}

function id(obj: Record<string, unknown>, path: string, seen: Set<string>): string {
  const value = str(obj, 'id', path);
  if (!ID.test(value)) fail(`${path}.id`, `'${value}' must be lowercase letters, digits and dashes`);
  if (seen.has(value)) fail(`${path}.id`, `'${value}' is used twice`);
  seen.add(value);
  return value;
}

function parseUnit(raw: unknown, path: string, kind: FixtureKind, seen: Set<string>): FixtureUnit {
  if (!isRecord(raw)) fail(path, 'must be an object');
  const unit: FixtureUnit = {
    id: id(raw, path, seen),
    title: str(raw, 'title', path),
    number: num(raw, 'number', path),
    publishedAt: str(raw, 'publishedAt', path),
  };
  if (Number.isNaN(Date.parse(unit.publishedAt))) fail(`${path}.publishedAt`, 'must be an ISO 8601 time');
  if (raw.volume !== undefined) unit.volume = num(raw, 'volume', path);
  if (kind === 'manga') {
    const pages = num(raw, 'pages', path);
    if (!Number.isInteger(pages) || pages < 1 || pages > 99) fail(`${path}.pages`, 'must be an integer 1-99');
    unit.pages = pages;
  } else if (raw.pages !== undefined) {
    fail(`${path}.pages`, 'is only for manga');
  }
  return unit;
}

/** Validates the parsed catalog.json; throws naming the offending path. */
export function parseCatalog(raw: unknown): FixtureCatalog {
  if (!isRecord(raw)) fail('catalog', 'must be an object');
  const genresRaw = raw.genres;
  if (!Array.isArray(genresRaw)) fail('genres', 'must be a list');
  const genres = genresRaw.map((g, i) => {
    if (!isRecord(g)) fail(`genres[${i}]`, 'must be an object');
    return { value: str(g, 'value', `genres[${i}]`), label: str(g, 'label', `genres[${i}]`) };
  });
  const genreValues = new Set(genres.map((g) => g.value));
  const mediaRaw = raw.media;
  if (!Array.isArray(mediaRaw)) fail('media', 'must be a list');
  const seen = new Set<string>();
  const media = mediaRaw.map((m, i): FixtureMedia => {
    const path = `media[${i}]`;
    if (!isRecord(m)) fail(path, 'must be an object');
    const kind = str(m, 'kind', path);
    if (!KINDS.has(kind)) fail(`${path}.kind`, `'${kind}' is not book or manga`);
    const status = str(m, 'status', path);
    if (!STATUSES.has(status)) fail(`${path}.status`, `'${status}' is not a media status`);
    if (typeof m.nsfw !== 'boolean') fail(`${path}.nsfw`, 'must be a boolean');
    const item: FixtureMedia = {
      id: id(m, path, seen),
      title: str(m, 'title', path),
      kind: kind as FixtureKind,
      altTitles: strList(m, 'altTitles', path),
      description: str(m, 'description', path),
      authors: strList(m, 'authors', path),
      genres: strList(m, 'genres', path),
      status: status as FixtureStatus,
      languages: strList(m, 'languages', path),
      nsfw: m.nsfw,
      popularity: num(m, 'popularity', path),
      units: [],
    };
    for (const genre of item.genres) {
      if (!genreValues.has(genre)) fail(`${path}.genres`, `'${genre}' is not in the genre list`);
    }
    if (!Array.isArray(m.units) || m.units.length === 0) fail(`${path}.units`, 'must be a non-empty list');
    item.units = m.units.map((u, j) => parseUnit(u, `${path}.units[${j}]`, item.kind, seen));
    return item;
  });
  return { site: str(raw, 'site', 'catalog'), genres, media };
}

/** Reads and validates fixture/catalog.json. */
export function loadCatalog(dir: string = fixtureDir): FixtureCatalog {
  return parseCatalog(JSON.parse(readFileSync(join(dir, 'catalog.json'), 'utf8')));
}

/** Milliseconds of the newest chapter of a media: what the "latest" listing sorts by. */
export function lastUpdated(media: FixtureMedia): number {
  return Math.max(...media.units.map((u) => Date.parse(u.publishedAt)));
}
