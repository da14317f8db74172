import { readFile, stat, writeFile } from 'node:fs/promises';
import { BACKUP_LIMITS } from '@awasm/catalog';
import { BackupFormat, type ImportBackupResponse } from '@awasm/shared/gen/awasm/v1/backup_service_pb.js';
import type { Command } from 'commander';
import type { CommandContext } from './context.js';

const FORMATS: Record<string, BackupFormat> = { json: BackupFormat.AWASM_JSON, tachibk: BackupFormat.TACHIBK };
const FORMAT_NAMES: Record<number, string> = {
  [BackupFormat.AWASM_JSON]: 'json',
  [BackupFormat.TACHIBK]: 'tachibk',
};

function reportText(file: string, r: ImportBackupResponse): string {
  const lines = [
    `${r.dryRun ? 'would import' : 'imported'} ${file} (${FORMAT_NAMES[r.format] ?? 'unknown format'}):`,
    `  entries     ${r.entriesAdded} added, ${r.entriesExisting} already in the library`,
    `  categories  ${r.categoriesAdded} added`,
    `  progress    ${r.progressChanged} units changed`,
    `  history     ${r.historyAdded} records added`,
  ];
  if (r.worksLinked > 0) lines.push(`  works       ${r.worksLinked} linked across sources`);
  if (r.orphaned > 0) {
    lines.push(`  orphaned    ${r.orphaned} entries of sources not installed here (kept, ready to move)`);
  }
  if (r.dryRun) lines.push('nothing was written (--dry-run)');
  return lines.join('\n');
}

/** `awasm backup export` and `awasm backup import`: the caller's own library. */
export function addBackupCommands(program: Command, ctx: CommandContext): void {
  const backup = program
    .command('backup')
    .description('export or import your library (awasm JSON, or a Mihon .tachibk)');

  backup
    .command('export')
    .description('write your library as an awasm JSON backup')
    .option('-o, --output <file>', 'file to write; default: the dated name the server suggests, here')
    .option('--force', 'overwrite the file when it exists', false)
    .action(async (flags: { output?: string; force: boolean }) => {
      const response = await ctx.backup().exportBackup({});
      const file = flags.output ?? response.fileName;
      await writeFile(file, response.data, { flag: flags.force ? 'w' : 'wx' }).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST')
          throw ctx.usage(`'${file}' exists; pass --force to overwrite it or -o to name another`);
        throw ctx.usage(`cannot write '${file}': ${e.code ?? e.message}`);
      });
      ctx.print(`exported ${response.entries} entries to ${file} (${response.data.length} bytes)`, {
        file,
        entries: response.entries,
        bytes: response.data.length,
      });
    });

  backup
    .command('import <file>')
    .description('merge a backup into your library; importing the same file again changes nothing')
    .option('--format <format>', 'json or tachibk; default: told by the file’s content')
    .option('--dry-run', 'check the file and report what would change, writing nothing', false)
    .action(async (file: string, flags: { format?: string; dryRun: boolean }) => {
      let format = BackupFormat.UNSPECIFIED;
      if (flags.format !== undefined) {
        const known = FORMATS[flags.format];
        if (known === undefined) throw ctx.usage(`--format '${flags.format}' must be json or tachibk`);
        format = known;
      }
      // the size first, so a huge file is never read into memory
      const size = await stat(file).then(
        (s) => (s.isFile() ? s.size : undefined),
        (e: NodeJS.ErrnoException) => {
          throw ctx.usage(`cannot read backup file '${file}': ${e.code ?? e.message}`);
        },
      );
      if (size === undefined) throw ctx.usage(`'${file}' is not a file`);
      if (size > BACKUP_LIMITS.maxBytes) {
        throw ctx.usage(`'${file}' is ${size} bytes, more than the ${BACKUP_LIMITS.maxBytes} a backup may be`);
      }
      const data = await readFile(file);
      const response = await ctx.backup().importBackup({ data, format, dryRun: flags.dryRun });
      ctx.print(reportText(file, response), {
        file,
        format: FORMAT_NAMES[response.format] ?? 'unknown',
        dryRun: response.dryRun,
        entriesAdded: response.entriesAdded,
        entriesExisting: response.entriesExisting,
        categoriesAdded: response.categoriesAdded,
        progressChanged: response.progressChanged,
        historyAdded: response.historyAdded,
        orphaned: response.orphaned,
        worksLinked: response.worksLinked,
      });
    });
}
