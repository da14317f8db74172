import {
  type FeedItem,
  FeedItemSchema,
  RefreshState,
  type RefreshStatus,
  RefreshStatusSchema,
  type RefreshWork,
} from '@awasm/shared/gen/awasm/v1/update_service_pb.js';
import { toJson } from '@bufbuild/protobuf';
import type { Command } from 'commander';
import { table, truncate } from '../output.js';
import type { CommandContext } from './context.js';

/** How often `awasm refresh --wait` asks whether the pass has ended. */
const WAIT_POLL_MS = 1000;

function feedTable(items: FeedItem[]): string {
  return table(
    ['ID', 'SOURCE', 'MEDIA', 'NUMBER', 'UNIT', 'FOUND', 'READ'],
    items.map((i) => [
      i.id,
      i.sourceId,
      truncate(i.mediaId, 32),
      i.unitNumber === undefined ? '' : String(i.unitNumber),
      truncate(i.unitTitle, 48),
      i.foundAt ? new Date(Number(i.foundAt.seconds) * 1000).toISOString().slice(0, 16).replace('T', ' ') : '',
      i.read ? 'yes' : '',
    ]),
  );
}

function workLines(label: string, works: RefreshWork[]): string[] {
  return works.map((w) => `  ${label} ${w.sourceId}/${w.mediaId}${w.reason ? `: ${w.reason}` : ''}`);
}

function statusText(status: RefreshStatus | undefined): string {
  if (!status) return 'no refresh status';
  const running = status.state === RefreshState.RUNNING;
  const lines = [
    `refresh ${running ? 'running' : 'idle'}: ${status.pending.length} pending, ${status.running.length} running, ` +
      `${status.done.length} done, ${status.failed.length} failed, ${status.skipped.length} skipped`,
    ...workLines('failed ', status.failed),
    ...workLines('skipped', status.skipped),
  ];
  const newUnits = status.done.reduce((n, w) => n + w.newUnits, 0);
  if (!running && status.done.length > 0) lines.push(`  ${newUnits} new unit${newUnits === 1 ? '' : 's'}`);
  return lines.join('\n');
}

function parseLimit(ctx: CommandContext, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 500)
    throw ctx.usage(`--limit '${text}' must be a whole number from 1 to 500`);
  return n;
}

/** `awasm updates` (the caller's feed), `awasm updates read`, and `awasm refresh`. */
export function addUpdateCommands(program: Command, ctx: CommandContext): void {
  // one command with an optional `read` word: commander would take `--limit 5` after a parent
  // command with subcommands for a subcommand name
  program
    .command('updates [read] [ids...]')
    .description('new units of the works in your library, newest first; `updates read <id...>|--all` marks them read')
    .option('--unread', 'only items not marked read', false)
    .option('--limit <n>', 'items to show (1-500)', '50')
    .option('--all', 'with read: mark your whole feed read', false)
    .action(
      async (verb: string | undefined, ids: string[], flags: { unread: boolean; limit: string; all: boolean }) => {
        if (verb === undefined) {
          if (flags.all) throw ctx.usage('--all goes with `awasm updates read`');
          const response = await ctx
            .updates()
            .listFeed({ unreadOnly: flags.unread, pageSize: parseLimit(ctx, flags.limit) });
          ctx.print(response.items.length ? feedTable(response.items) : 'no updates', {
            items: response.items.map((i) => toJson(FeedItemSchema, i)),
            nextPageToken: response.nextPageToken,
          });
          return;
        }
        if (verb !== 'read')
          throw ctx.usage(`unknown updates command '${verb}' (try: awasm updates read <id...>|--all)`);
        if (flags.all === ids.length > 0) throw ctx.usage('give item ids or --all (not both)');
        const { marked } = await ctx.updates().markFeedRead({ ids, all: flags.all });
        ctx.print(`marked ${marked} item${marked === 1 ? '' : 's'} read`, { marked });
      },
    );

  program
    .command('refresh [entry]')
    .description(
      'refresh the unit lists of followed works now (a member: only their own library), or the work of one library entry',
    )
    .option('--source <id>', 'only works of this source')
    .option('--media <id>', 'only this work (needs --source)')
    .option('--include-completed', 'also works every follower has completed', false)
    .option('--wait', 'wait until the pass ends and print its outcome', false)
    .action(
      async (
        entry: string | undefined,
        flags: { source?: string; media?: string; includeCompleted: boolean; wait: boolean },
      ) => {
        if (flags.media !== undefined && flags.source === undefined) throw ctx.usage('--media needs --source');
        if (entry !== undefined && (flags.source !== undefined || flags.media !== undefined)) {
          throw ctx.usage('give an entry or --source/--media, not both');
        }
        const client = ctx.updates();
        let { status } = await client.refresh({
          ...(entry === undefined ? {} : { entryId: entry }),
          ...(flags.source === undefined ? {} : { sourceId: flags.source }),
          ...(flags.media === undefined ? {} : { mediaId: flags.media }),
          includeCompleted: flags.includeCompleted,
        });
        while (flags.wait && status?.state === RefreshState.RUNNING) {
          await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
          ({ status } = await client.getRefreshStatus({}));
        }
        ctx.print(statusText(status), status ? toJson(RefreshStatusSchema, status) : null);
      },
    );
}
