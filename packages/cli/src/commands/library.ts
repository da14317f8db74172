import {
  EntrySort,
  HistoryRecordSchema,
  type LibraryEntry,
  LibraryEntrySchema,
  LibraryStatus,
  MoveEntryResponseSchema,
  OrphanReason,
  type UnitProgress,
  UnitProgressSchema,
  type UpdateEntryRequestSchema,
} from '@awasm/shared/gen/awasm/v1/library_service_pb.js';
import { MediaKind } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { type MessageInitShape, toJson } from '@bufbuild/protobuf';
import { durationMs, type Timestamp, timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import type { Command } from 'commander';
import { table, truncate } from '../output.js';
import { categoryIds } from './categories.js';
import type { CommandContext } from './context.js';
import { kindName } from './labels.js';

const STATUS_WORDS = 'reading, completed, on-hold, dropped, planned';
const SORT_WORDS = 'title, added, last-read, last-updated';

/** An enum value from its name as the CLI spells it ("on-hold" for ON_HOLD); undefined when unknown. */
function enumFromWord<E extends number>(names: object, word: string): E | undefined {
  const value = (names as Record<string, E | string>)[word.toUpperCase().replace(/-/g, '_')];
  return typeof value === 'number' && value !== 0 ? value : undefined;
}

const wordOf = (names: object, value: number) =>
  ((names as Record<number, string>)[value] ?? 'UNSPECIFIED').toLowerCase().replace(/_/g, '-');
export const libraryStatusName = (s: LibraryStatus) => wordOf(LibraryStatus, s);

function parseStatus(ctx: CommandContext, text: string): LibraryStatus {
  const status = enumFromWord<LibraryStatus>(LibraryStatus, text);
  if (status === undefined) throw ctx.usage(`--status '${text}' is not one of ${STATUS_WORDS}`);
  return status;
}

function parseKind(ctx: CommandContext, text: string): MediaKind {
  const kind = enumFromWord<MediaKind>(MediaKind, text);
  if (kind === undefined)
    throw ctx.usage(`--kind '${text}' is not a media kind (manga, anime, comic, book, tv, movie)`);
  return kind;
}

function parseSort(ctx: CommandContext, text: string): EntrySort {
  const sort = enumFromWord<EntrySort>(EntrySort, text);
  if (sort === undefined) throw ctx.usage(`--sort '${text}' is not one of ${SORT_WORDS}`);
  return sort;
}

function parseNumber(ctx: CommandContext, flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0)
    throw ctx.usage(`${flag} '${text}' must be a number, 0 or more`);
  return n;
}

function parseLimit(ctx: CommandContext, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 500)
    throw ctx.usage(`--limit '${text}' must be a whole number from 1 to 500`);
  return n;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function when(t: Timestamp | undefined): string {
  return t ? new Date(timestampMs(t)).toISOString().slice(0, 16).replace('T', ' ') : '';
}

function orphanText(entry: LibraryEntry): string {
  if (!entry.orphaned) return '';
  const reason = wordOf(OrphanReason, entry.orphaned.reason);
  return entry.orphaned.detail ? `${reason}: ${entry.orphaned.detail}` : reason;
}

function entryTable(entries: LibraryEntry[]): string {
  return table(
    ['ID', 'TITLE', 'SOURCE', 'KIND', 'STATUS', 'READ', 'LAST READ', 'NOTE'],
    entries.map((e) => [
      e.entryId,
      truncate(`${e.favourite ? '* ' : ''}${e.title}`, 40),
      e.sourceId,
      kindName(e.kind),
      libraryStatusName(e.status),
      readText(e),
      when(e.lastReadAt),
      orphanText(e) ? `orphaned (${truncate(orphanText(e), 40)})` : e.workId ? 'linked' : '',
    ]),
  );
}

function progressTable(rows: UnitProgress[]): string {
  return table(
    ['UNIT', 'NUMBER', 'TITLE', 'READ', 'POSITION', 'UPDATED'],
    rows.map((r) => [
      truncate(r.unitId, 32),
      r.unitNumber === undefined ? '' : String(r.unitNumber),
      truncate(r.unitTitle, 40),
      r.read ? 'yes' : '',
      r.total ? `${r.position}/${r.total}` : String(r.position),
      when(r.updatedAt),
    ]),
  );
}

/** Units read of the units the last refresh saw; "?" before any refresh. */
function readText(entry: LibraryEntry): string {
  return `${entry.readCount}/${entry.unitCount || '?'}`;
}

function entryText(entry: LibraryEntry, categoryNames: string[], progress: UnitProgress[]): string {
  const fields: [string, string][] = [
    ['entry', entry.entryId],
    ['source', `${entry.sourceName} (${entry.sourceId}) ${entry.mediaId}`],
    ['kind', kindName(entry.kind)],
    ['status', libraryStatusName(entry.status)],
    ['read', `${readText(entry)} units`],
    ['added', when(entry.addedAt)],
  ];
  if (entry.lastReadAt) fields.push(['last read', when(entry.lastReadAt)]);
  if (categoryNames.length) fields.push(['categories', categoryNames.join(', ')]);
  if (entry.workId) fields.push(['work', entry.workId]);
  if (entry.orphaned) fields.push(['orphaned', orphanText(entry)]);
  if (entry.notes) fields.push(['notes', truncate(entry.notes, 200)]);
  return [
    `${entry.title}${entry.favourite ? ' (favourite)' : ''}`,
    ...fields.map(([label, value]) => `  ${label.padEnd(11)}${value}`),
    '',
    progress.length ? progressTable(progress) : 'no progress',
  ].join('\n');
}

function requireEntry(entry: LibraryEntry | undefined): LibraryEntry {
  if (!entry) throw new Error('server answered without the entry');
  return entry;
}

interface ListFlags {
  kind?: string[];
  category?: string;
  status?: string[];
  unread: boolean;
  orphaned: boolean;
  text?: string;
  sort: string;
  reverse: boolean;
  limit: string;
  pageToken?: string;
}

interface SetFlags {
  status?: string;
  favourite?: boolean;
  notes?: string;
  category?: string[] | false;
}

interface ProgressFlags {
  read?: boolean;
  unread?: boolean;
  position?: string;
  total?: string;
  number?: string;
  title?: string;
}

/** `awasm library …`: the caller's own library. */
export function addLibraryCommands(program: Command, ctx: CommandContext): void {
  const library = program.command('library').description('your library: entries, progress, history, works');

  library
    .command('add <source> <media-id>')
    .description('add a work of a source to your library')
    .option('--status <status>', `reading (default), completed, on-hold, dropped or planned`)
    .option('--category <name>', 'put it in this category (repeat for several)', collect)
    .action(async (sourceId: string, mediaId: string, flags: { status?: string; category?: string[] }) => {
      const status = flags.status === undefined ? LibraryStatus.UNSPECIFIED : parseStatus(ctx, flags.status);
      const ids = await categoryIds(ctx, flags.category ?? []);
      const response = await ctx.library().addEntry({ sourceId, mediaId, status, categoryIds: ids });
      const entry = requireEntry(response.entry);
      ctx.print(
        response.created
          ? `added '${entry.title}' as entry ${entry.entryId}`
          : `already in your library as entry ${entry.entryId}`,
        { entry: toJson(LibraryEntrySchema, entry), created: response.created },
      );
    });

  library
    .command('list')
    .description('list your entries')
    .option('--kind <kind>', 'only this media kind (repeat for several)', collect)
    .option('--category <name>', 'only entries in this category')
    .option('--status <status>', `only this status (repeat for several): ${STATUS_WORDS}`, collect)
    .option('--unread', 'only entries with unread units', false)
    .option('--orphaned', 'only entries whose source cannot serve them', false)
    .option('--text <text>', 'only titles containing this')
    .option('--sort <sort>', SORT_WORDS, 'title')
    .option('--reverse', 'flip the order', false)
    .option('--limit <n>', 'entries to show (1-500)', '50')
    .option('--page-token <token>', 'the next page of an earlier list with the same flags')
    .action(async (flags: ListFlags) => {
      const kinds = (flags.kind ?? []).map((k) => parseKind(ctx, k));
      const statuses = (flags.status ?? []).map((s) => parseStatus(ctx, s));
      const sort = parseSort(ctx, flags.sort);
      const pageSize = parseLimit(ctx, flags.limit);
      const [categoryId] = await categoryIds(ctx, flags.category === undefined ? [] : [flags.category]);
      const response = await ctx.library().listEntries({
        kinds,
        statuses,
        sort,
        pageSize,
        reverse: flags.reverse,
        unreadOnly: flags.unread,
        orphanedOnly: flags.orphaned,
        text: flags.text ?? '',
        categoryId: categoryId ?? '',
        pageToken: flags.pageToken ?? '',
      });
      const text = response.entries.length ? entryTable(response.entries) : 'no entries';
      ctx.print(response.nextPageToken ? `${text}\nmore: --page-token ${response.nextPageToken}` : text, {
        entries: response.entries.map((e) => toJson(LibraryEntrySchema, e)),
        nextPageToken: response.nextPageToken,
      });
    });

  library
    .command('show <entry>')
    .description('an entry with its progress')
    .action(async (entryId: string) => {
      const client = ctx.library();
      const entry = requireEntry((await client.getEntry({ entryId })).entry);
      const [{ progress }, { categories }] = await Promise.all([
        client.listProgress({ entryId }),
        client.listCategories({}),
      ]);
      const names = entry.categoryIds.map((id) => categories.find((c) => c.categoryId === id)?.name ?? id);
      ctx.print(entryText(entry, names, progress), {
        entry: toJson(LibraryEntrySchema, entry),
        progress: progress.map((p) => toJson(UnitProgressSchema, p)),
      });
    });

  library
    .command('set <entry>')
    .description("change an entry's status, favourite flag, notes or categories")
    .option('--status <status>', STATUS_WORDS)
    .option('--favourite', 'mark it favourite')
    .option('--no-favourite', 'unmark it favourite')
    .option('--notes <text>', 'replace its notes ("" clears them)')
    .option('--category <name>', 'replace its categories with these (repeat for several)', collect)
    .option('--no-category', 'take it out of every category')
    .action(async (entryId: string, flags: SetFlags) => {
      const request: MessageInitShape<typeof UpdateEntryRequestSchema> = { entryId };
      if (flags.status !== undefined) request.status = parseStatus(ctx, flags.status);
      if (flags.favourite !== undefined) request.favourite = flags.favourite;
      if (flags.notes !== undefined) request.notes = flags.notes;
      if (flags.category !== undefined) {
        request.categories = { categoryIds: flags.category === false ? [] : await categoryIds(ctx, flags.category) };
      }
      if (Object.keys(request).length === 1) {
        throw ctx.usage('give something to change: --status, --favourite, --no-favourite, --notes, --category');
      }
      const entry = requireEntry((await ctx.library().updateEntry(request)).entry);
      ctx.print(`updated ${entry.entryId}`, toJson(LibraryEntrySchema, entry));
    });

  library
    .command('remove <entry>')
    .description('remove an entry with its progress and history')
    .action(async (entryId: string) => {
      await ctx.library().removeEntry({ entryId });
      ctx.print(`removed ${entryId}`, { removed: entryId });
    });

  library
    .command('progress <entry> <unit>')
    .description('record where you are in a unit (as of now)')
    .option('--read', 'mark the unit read')
    .option('--unread', 'mark the unit not read')
    .option('--position <n>', 'page, or seconds')
    .option('--total <n>', 'pages, or seconds')
    .option('--number <n>', "the unit's number, so a move can match it")
    .option('--title <title>', "the unit's title, so a move can match it")
    .action(async (entryId: string, unitId: string, flags: ProgressFlags) => {
      if (flags.read && flags.unread) throw ctx.usage('--read and --unread do not go together');
      if (!flags.read && !flags.unread && flags.position === undefined && flags.total === undefined) {
        throw ctx.usage('give --read, --unread, --position or --total');
      }
      const { progress } = await ctx.library().writeProgress({
        entryId,
        writes: [
          {
            unitId,
            clientTime: timestampFromMs(Date.now()),
            ...(flags.read || flags.unread ? { read: flags.read === true } : {}),
            ...(flags.position === undefined ? {} : { position: parseNumber(ctx, '--position', flags.position) }),
            ...(flags.total === undefined ? {} : { total: parseNumber(ctx, '--total', flags.total) }),
            ...(flags.number === undefined ? {} : { unitNumber: parseNumber(ctx, '--number', flags.number) }),
            ...(flags.title === undefined ? {} : { unitTitle: flags.title }),
          },
        ],
      });
      ctx.print(
        progressTable(progress),
        progress.map((p) => toJson(UnitProgressSchema, p)),
      );
    });

  library
    .command('history [entry]')
    .description('what you opened when, newest first (all entries, or one)')
    .option('--limit <n>', 'records to show (1-500)', '50')
    .option('--page-token <token>', 'the next page of an earlier history')
    .action(async (entryId: string | undefined, flags: { limit: string; pageToken?: string }) => {
      const response = await ctx.library().listHistory({
        entryId: entryId ?? '',
        pageSize: parseLimit(ctx, flags.limit),
        pageToken: flags.pageToken ?? '',
      });
      const text = response.records.length
        ? table(
            ['OPENED', 'ENTRY', 'UNIT', 'MINUTES'],
            response.records.map((r) => [
              when(r.openedAt),
              r.entryId,
              truncate(r.unitId, 40),
              r.duration ? (durationMs(r.duration) / 60_000).toFixed(1) : '',
            ]),
          )
        : 'no history';
      ctx.print(response.nextPageToken ? `${text}\nmore: --page-token ${response.nextPageToken}` : text, {
        records: response.records.map((r) => toJson(HistoryRecordSchema, r)),
        nextPageToken: response.nextPageToken,
      });
    });

  library
    .command('link <entry> <entries...>')
    .description('mark entries as one work read on several sources')
    .action(async (first: string, rest: string[]) => {
      const { workId } = await ctx.library().linkEntries({ entryIds: [first, ...rest] });
      ctx.print(`linked ${rest.length + 1} entries as work ${workId}`, { workId });
    });

  library
    .command('unlink <entry>')
    .description('take an entry out of its work')
    .action(async (entryId: string) => {
      const entry = requireEntry((await ctx.library().unlinkEntry({ entryId })).entry);
      ctx.print(`unlinked ${entry.entryId}`, toJson(LibraryEntrySchema, entry));
    });

  library
    .command('move <entry> <source> <media-id>')
    .description("move an entry to another source's copy of the work, keeping the progress of units that match")
    .option('--dry-run', 'report what would match without moving', false)
    .action(async (entryId: string, sourceId: string, mediaId: string, flags: { dryRun: boolean }) => {
      const response = await ctx.library().moveEntry({
        entryId,
        targetSourceId: sourceId,
        targetMediaId: mediaId,
        dryRun: flags.dryRun,
      });
      const verb = flags.dryRun ? 'would move' : 'moved';
      const lines = [
        `${verb} ${entryId} to ${sourceId}/${mediaId}: ${response.matched} progress row${response.matched === 1 ? '' : 's'} matched ` +
          `of the target's ${response.targetUnits} units, ${response.unmatched.length} unmatched`,
      ];
      if (response.unmatched.length) {
        lines.push(`unmatched (${flags.dryRun ? 'would be' : 'were'} dropped):`, progressTable(response.unmatched));
      }
      ctx.print(lines.join('\n'), toJson(MoveEntryResponseSchema, response));
    });
}
