import {
  type Asset,
  AssetSchema,
  type Filter,
  FilterSchema,
  Listing,
  type Media,
  MediaSchema,
  type Unit,
  UnitSchema,
} from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { SourceSchema } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { toJson } from '@bufbuild/protobuf';
import type { Command } from 'commander';
import { table, truncate } from '../output.js';
import type { CommandContext } from './context.js';
import { assetKindName, filterKindName, healthText, kindName, statusName, unitKindName } from './labels.js';

function parseFilters(ctx: CommandContext, values: string[]): { id: string; values: string[] }[] {
  return values.map((text) => {
    const [id, rest] = text.split('=', 2);
    if (!id || rest === undefined || rest === '') throw ctx.usage(`--filter '${text}' must be id=value[,value...]`);
    return { id, values: rest.split(',') };
  });
}

function mediaTable(items: Media[]): string {
  return table(
    ['ID', 'TITLE', 'KIND', 'AUTHORS', 'STATUS'],
    items.map((m) => [
      m.id,
      truncate(m.title, 48),
      kindName(m.kind),
      truncate(m.authors.join(', '), 32),
      statusName(m.status),
    ]),
  );
}

function unitTable(units: Unit[]): string {
  return table(
    ['ID', 'KIND', 'NUMBER', 'TITLE', 'PUBLISHED'],
    units.map((u) => [
      u.id,
      unitKindName(u.kind),
      u.number === undefined ? '' : String(u.number),
      truncate(u.title, 56),
      u.publishedAt ? new Date(Number(u.publishedAt.seconds) * 1000).toISOString().slice(0, 10) : '',
    ]),
  );
}

function assetTable(assets: Asset[]): string {
  return table(
    ['#', 'KIND', 'CONTENT', 'HEADERS'],
    assets.map((a) => [
      String(a.index),
      assetKindName(a.kind),
      a.url || truncate(a.text, 72),
      a.headers.map((h) => `${h.name}: ${h.value}`).join('; '),
    ]),
  );
}

function filterTable(filters: Filter[]): string {
  return table(
    ['ID', 'LABEL', 'KIND', 'OPTIONS'],
    filters.map((f) => [f.id, f.label, filterKindName(f.kind), f.options.map((o) => o.value).join(', ')]),
  );
}

function mediaDetails(m: Media): string {
  const lines = [
    `${m.title}  (${kindName(m.kind)}, ${statusName(m.status)})`,
    `id:        ${m.id}`,
    `source:    ${m.sourceId}`,
  ];
  if (m.authors.length) lines.push(`authors:   ${m.authors.join(', ')}`);
  if (m.genres.length) lines.push(`genres:    ${m.genres.join(', ')}`);
  if (m.languages.length) lines.push(`languages: ${m.languages.join(', ')}`);
  if (m.coverUrl) lines.push(`cover:     ${m.coverUrl}`);
  if (m.url) lines.push(`url:       ${m.url}`);
  if (m.description) lines.push('', m.description);
  return lines.join('\n');
}

const pageFooter = (next: string) => (next ? `\nmore: --cursor ${next}` : '');

/** The read commands a client of any source uses: sources, search, browse, media, units, assets, filters. */
export function addSourceCommands(program: Command, ctx: CommandContext): void {
  program
    .command('sources')
    .description('list the sources you can search')
    .option('--all', 'include disabled sources', false)
    .action(async (flags: { all: boolean }) => {
      const { sources } = await ctx.sources().listSources({ includeDisabled: flags.all });
      ctx.print(
        sources.length
          ? table(
              ['ID', 'NAME', 'VERSION', 'KINDS', 'LANGUAGES', 'ENABLED', 'HEALTH'],
              sources.map((s) => [
                s.id,
                s.name,
                s.version,
                s.mediaKinds.map(kindName).join(','),
                s.languages.join(','),
                s.enabled ? 'yes' : 'no',
                healthText(s.health),
              ]),
            )
          : 'no sources: install a plugin with `awasm plugin install <file.awpkg>`',
        sources.map((s) => toJson(SourceSchema, s)),
      );
    });

  program
    .command('search <source> <query...>')
    .description('search one source')
    .option('--cursor <cursor>', 'page to fetch, from a previous answer', '')
    .option(
      '-f, --filter <id=values>',
      'filter, repeatable; see `awasm filters <source>`',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .action(async (source: string, words: string[], flags: { cursor: string; filter: string[] }) => {
      const response = await ctx.sources().search({
        sourceId: source,
        query: words.join(' '),
        cursor: flags.cursor,
        filters: parseFilters(ctx, flags.filter),
      });
      ctx.print((response.items.length ? mediaTable(response.items) : 'no results') + pageFooter(response.nextCursor), {
        items: response.items.map((m) => toJson(MediaSchema, m)),
        nextCursor: response.nextCursor,
      });
    });
  program
    .command('browse <source> [listing]')
    .description('list popular or latest media of a source')
    .option('--cursor <cursor>', 'page to fetch, from a previous answer', '')
    .action(async (source: string, listing: string | undefined, flags: { cursor: string }) => {
      const which = (listing ?? 'popular').toLowerCase();
      if (which !== 'popular' && which !== 'latest') throw ctx.usage(`listing '${listing}' must be popular or latest`);
      const response = await ctx.sources().listMedia({
        sourceId: source,
        listing: which === 'popular' ? Listing.POPULAR : Listing.LATEST,
        cursor: flags.cursor,
      });
      ctx.print(
        (response.items.length ? mediaTable(response.items) : 'nothing listed') + pageFooter(response.nextCursor),
        { items: response.items.map((m) => toJson(MediaSchema, m)), nextCursor: response.nextCursor },
      );
    });
  program
    .command('media <source> <id>')
    .description('show one media with its details')
    .action(async (source: string, id: string) => {
      const { media } = await ctx.sources().getMedia({ sourceId: source, mediaId: id });
      if (!media) throw new Error('server answered without the media');
      ctx.print(mediaDetails(media), toJson(MediaSchema, media));
    });
  program
    .command('units <source> <media-id>')
    .description('list the chapters, episodes or volumes of a media')
    .option('--cursor <cursor>', 'page to fetch, from a previous answer', '')
    .action(async (source: string, mediaId: string, flags: { cursor: string }) => {
      const response = await ctx.sources().listUnits({ sourceId: source, mediaId, cursor: flags.cursor });
      ctx.print((response.items.length ? unitTable(response.items) : 'no units') + pageFooter(response.nextCursor), {
        items: response.items.map((u) => toJson(UnitSchema, u)),
        nextCursor: response.nextCursor,
      });
    });
  program
    .command('assets <source> <unit-id>')
    .description('list the pages, streams or text of a unit')
    .action(async (source: string, unitId: string) => {
      const { assets } = await ctx.sources().getAssets({ sourceId: source, unitId });
      ctx.print(
        assets.length ? assetTable(assets) : 'no assets',
        assets.map((a) => toJson(AssetSchema, a)),
      );
    });
  program
    .command('filters <source>')
    .description('list the search filters a source supports')
    .action(async (source: string) => {
      const { filters } = await ctx.sources().getFilters({ sourceId: source });
      ctx.print(
        filters.length ? filterTable(filters) : 'no filters',
        filters.map((f) => toJson(FilterSchema, f)),
      );
    });
}
