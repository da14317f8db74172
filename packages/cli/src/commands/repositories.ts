import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeStaticIndex, STATIC_INDEX_FILE, sha256Hex, staticPackagePath } from '@awasm/shared';
import { MediaKind } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { InstalledPluginSchema } from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import type { PackageVersion } from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import {
  type InstallPluginRequestSchema,
  PluginUpdateSchema,
  type RepositoryKey,
  RepositoryKeySchema,
  RepositoryKind,
  RepositoryPluginSchema,
  type RepositoryProblem,
  RepositorySchema,
} from '@awasm/shared/gen/awasm/v1/repository_service_pb.js';
import { type MessageInitShape, toJson } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Command } from 'commander';
import { table, truncate } from '../output.js';
import { progress } from '../progress.js';
import type { CommandContext } from './context.js';
import { kindName } from './labels.js';

const repoKindLabel = (k: RepositoryKind) => (k === RepositoryKind.STATIC ? 'static' : 'grpc');

/** The keys a repository's index names, with what they signed and whether they are pinned; undefined for none. */
function keysTable(keys: RepositoryKey[]): string | undefined {
  if (keys.length === 0) return undefined;
  return table(
    ['KEY ID', 'PLUGINS', 'TRUSTED'],
    keys.map((k) => [k.keyId, k.pluginIds.join(','), k.trusted ? 'yes' : 'no']),
  );
}

function parseKind(ctx: CommandContext, text: string | undefined): MediaKind[] {
  if (!text) return [];
  const kind = MediaKind[text.toUpperCase() as keyof typeof MediaKind];
  if (kind === undefined || kind === MediaKind.UNSPECIFIED) {
    throw ctx.usage(`--kind '${text}' is not a media kind (manga, anime, comic, book, tv, movie)`);
  }
  return [kind];
}

function reportProblems(ctx: CommandContext, problems: RepositoryProblem[]): void {
  for (const p of problems) ctx.warn(`warning: repository '${p.repository}' could not be read: ${p.message}`);
}

/**
 * Installs from a repository through the server, showing the server's download progress.
 * Returns the installed plugin and where it came from.
 */
export async function installFromRepository(
  ctx: CommandContext,
  request: MessageInitShape<typeof InstallPluginRequestSchema>,
) {
  let bar: ReturnType<typeof progress> | undefined;
  let from: { repository: string; version?: PackageVersion } = { repository: '' };
  try {
    for await (const message of ctx.repositories().installPlugin(request)) {
      if (message.part.case === 'progress') {
        const p = message.part.value;
        from = { repository: p.repository, ...(p.version ? { version: p.version } : {}) };
        bar ??= progress(
          ctx.progress,
          `downloading ${p.version?.pluginId} ${p.version?.version} from ${p.repository}`,
          Number(p.total),
        );
        bar.update(Number(p.received), Number(p.total));
      } else if (message.part.case === 'plugin') {
        bar?.finish();
        return { plugin: message.part.value, repository: from.repository };
      }
    }
  } finally {
    bar?.finish();
  }
  throw new Error('server answered without the installed plugin');
}

/** `awasm repo add|list|remove`. */
export function addRepoCommands(program: Command, ctx: CommandContext): void {
  const repo = program.command('repo').description('plugin repositories this server installs from');

  repo
    .command('add <url>')
    .description('add a repository: an aWASM server, or a static repository (index.json + packages) over HTTP')
    .option('--name <name>', 'local name (default: from the URL)')
    .option(
      '--trust-key <key-id>',
      'accept packages signed by this key only (repeatable; default: every key the index names now)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .action(async (url: string, flags: { name?: string; trustKey: string[] }) => {
      const response = await ctx
        .repositories()
        .addRepository({ url, name: flags.name ?? '', trustedKeyIds: flags.trustKey });
      const r = response.repository;
      if (!r) throw new Error('server answered without the repository');
      const keys = keysTable(response.keys) ?? 'its index names no publisher keys';
      ctx.print(
        `added repository ${r.name} (${repoKindLabel(r.kind)}, ${r.url}, ${r.pluginCount} plugin${r.pluginCount === 1 ? '' : 's'})\n` +
          `publisher keys (packages from ${r.name} must be signed by a trusted one):\n${keys}`,
        { repository: toJson(RepositorySchema, r), keys: response.keys.map((k) => toJson(RepositoryKeySchema, k)) },
      );
    });

  repo
    .command('list')
    .description('list repositories and how many plugins each offers')
    .action(async () => {
      const { repositories } = await ctx.repositories().listRepositories({});
      ctx.print(
        repositories.length
          ? table(
              ['NAME', 'KIND', 'URL', 'PLUGINS', 'TRUSTED KEYS', 'STATUS'],
              repositories.map((r) => [
                r.name,
                repoKindLabel(r.kind),
                r.url,
                String(r.pluginCount),
                r.trustedKeyIds.map((k) => k.slice(0, 12)).join(',') || '-',
                r.error ? `unreachable: ${truncate(r.error, 60)}` : 'ok',
              ]),
            )
          : 'no repositories: add one with `awasm repo add <url>`',
        repositories.map((r) => toJson(RepositorySchema, r)),
      );
    });

  for (const [verb, trusting] of [
    ['trust', true],
    ['untrust', false],
  ] as const) {
    repo
      .command(`${verb} <name> <key-ids...>`)
      .description(
        trusting
          ? 'accept packages signed by these publisher keys from a repository'
          : 'stop accepting packages signed by these keys from a repository',
      )
      .action(async (name: string, keyIds: string[]) => {
        const response = await ctx.repositories().setRepositoryKeys({
          name,
          trustKeyIds: trusting ? keyIds : [],
          untrustKeyIds: trusting ? [] : keyIds,
        });
        const r = response.repository;
        if (!r) throw new Error('server answered without the repository');
        const keys =
          keysTable(response.keys) ??
          (r.error ? `its index could not be read: ${r.error}` : 'its index names no publisher keys');
        ctx.print(
          `repository ${r.name} now trusts ${r.trustedKeyIds.length ? r.trustedKeyIds.join(', ') : 'no keys'}\n${keys}`,
          { repository: toJson(RepositorySchema, r), keys: response.keys.map((k) => toJson(RepositoryKeySchema, k)) },
        );
      });
  }

  repo
    .command('remove <name>')
    .description('forget a repository (installed plugins stay; its pinned keys are no longer trusted)')
    .action(async (name: string) => {
      await ctx.repositories().removeRepository({ name });
      ctx.print(`repository ${name} removed`, { removed: name });
    });
}

/** `awasm plugin search` and `awasm plugin update`. */
export function addRepositoryPluginCommands(plugin: Command, ctx: CommandContext): void {
  plugin
    .command('search [text...]')
    .description('search the plugins your repositories offer')
    .option('--kind <kind>', 'only plugins serving this media kind')
    .option('--lang <tag>', 'only plugins with content in this language')
    .option('--repo <name>', 'only this repository')
    .action(async (words: string[], flags: { kind?: string; lang?: string; repo?: string }) => {
      const { plugins, problems } = await ctx.repositories().searchPlugins({
        query: words.join(' '),
        mediaKinds: parseKind(ctx, flags.kind),
        languages: flags.lang ? [flags.lang] : [],
        repository: flags.repo ?? '',
      });
      reportProblems(ctx, problems);
      ctx.print(
        plugins.length
          ? table(
              ['ID', 'NAME', 'LATEST', 'INSTALLED', 'REPOSITORY', 'KINDS', 'LANGUAGES', 'SIGNER'],
              plugins.map((p) => [
                p.latest?.pluginId ?? '',
                p.latest?.name ?? '',
                p.latest?.version ?? '',
                p.installedVersion ? `${p.installedVersion}${p.updateAvailable ? ' (update)' : ''}` : '-',
                p.repository,
                (p.latest?.mediaKinds ?? []).map(kindName).join(','),
                (p.latest?.languages ?? []).join(','),
                p.trusted ? 'trusted' : `untrusted ${p.latest?.publisherKeyId.slice(0, 12)}`,
              ]),
            )
          : 'no plugins found',
        plugins.map((p) => toJson(RepositoryPluginSchema, p)),
      );
    });

  plugin
    .command('update [id]')
    .description('update installed plugins (or one) to the newest version your repositories offer')
    .option('--check', 'only list the updates available', false)
    .option('--force', "with an id: install the repository's newest version even when it is not newer", false)
    .action(async (id: string | undefined, flags: { check: boolean; force: boolean }) => {
      if (flags.force && !id) throw ctx.usage('--force needs a plugin id');
      const { updates, problems } = await ctx.repositories().listUpdates({});
      reportProblems(ctx, problems);
      const mine = id ? updates.filter((u) => u.pluginId === id) : updates;
      // "up to date" is only said when every repository answered: otherwise the check is incomplete (exit 1)
      const unreadable = problems.map((p) => `'${p.repository}'`);
      const incomplete = () =>
        new Error(
          `could not check for updates in ${unreadable.length === 1 ? 'repository' : 'repositories'} ${unreadable.join(', ')}: ${unreadable.length === 1 ? 'it' : 'they'} could not be reached`,
        );
      if (flags.check) {
        if (mine.length === 0 && unreadable.length) throw incomplete();
        ctx.print(
          mine.length
            ? table(
                ['ID', 'INSTALLED', 'AVAILABLE', 'REPOSITORY'],
                mine.map((u) => [u.pluginId, u.installedVersion, u.available?.version ?? '', u.repository]),
              )
            : 'all plugins are up to date',
          mine.map((u) => toJson(PluginUpdateSchema, u)),
        );
        if (unreadable.length) throw incomplete();
        return;
      }
      const targets = mine.map((u) => ({ pluginId: u.pluginId, from: u.installedVersion }));
      if (id && flags.force && targets.length === 0) targets.push({ pluginId: id, from: '' });
      if (targets.length === 0) {
        if (unreadable.length) throw incomplete();
        ctx.print(id ? `${id} is up to date` : 'all plugins are up to date', []);
        return;
      }
      const done = [];
      const failed: string[] = [];
      for (const target of targets) {
        try {
          const { plugin: installed, repository } = await installFromRepository(ctx, {
            pluginId: target.pluginId,
            allowDowngrade: flags.force,
          });
          done.push({ installed, repository, from: target.from });
        } catch (error) {
          // One plugin's refusal does not stop the others; it is reported and fails the command.
          if (targets.length === 1) throw error;
          const e = ConnectError.from(error);
          ctx.warn(`error: ${target.pluginId} was not updated: ${Code[e.code]}: ${e.rawMessage}`);
          failed.push(target.pluginId);
        }
      }
      if (failed.length) {
        if (done.length) ctx.warn(done.map((d) => `updated ${d.installed.id} to ${d.installed.version}`).join('\n'));
        throw new Error(`${failed.length} of ${targets.length} updates failed (${failed.join(', ')})`);
      }
      ctx.print(
        done
          .map(
            (d) =>
              `updated ${d.installed.id} ${d.from ? `${d.from} -> ` : ''}${d.installed.version} from ${d.repository || 'repository'}`,
          )
          .join('\n'),
        done.map((d) => ({ repository: d.repository, plugin: toJson(InstalledPluginSchema, d.installed) })),
      );
    });
}

/** `awasm registry export <dir>`: the server's registry as a static repository. */
export function addExportCommand(registry: Command, ctx: CommandContext): void {
  registry
    .command('export <dir>')
    .description('write the registry as a static repository: index.json plus packages/<sha256>.awpkg')
    .option('--yanked', 'also export yanked versions (flagged as yanked in the index)', false)
    .action(async (dir: string, flags: { yanked: boolean }) => {
      const { plugins } = await ctx.registry().index({ includeYanked: flags.yanked });
      const versions = plugins.flatMap((p) => p.versions);
      await mkdir(join(dir, 'packages'), { recursive: true });
      let fetched = 0;
      for (const v of versions) {
        const file = join(dir, staticPackagePath(v.packageSha256));
        const existing = await readFile(file).catch(() => undefined);
        if (existing && sha256Hex(existing) === v.packageSha256) continue;
        const bar = progress(ctx.progress, `downloading ${v.pluginId} ${v.version}`, Number(v.size));
        const chunks: Uint8Array[] = [];
        let received = 0;
        try {
          for await (const message of ctx.registry().download({ packageSha256: v.packageSha256 })) {
            if (message.part.case !== 'chunk') continue;
            chunks.push(message.part.value);
            received += message.part.value.length;
            bar.update(received);
          }
        } finally {
          bar.finish();
        }
        const bytes = Buffer.concat(chunks);
        if (sha256Hex(bytes) !== v.packageSha256) {
          throw new Error(
            `the server sent bytes for ${v.pluginId} ${v.version} that do not hash to ${v.packageSha256}`,
          );
        }
        await writeFile(`${file}.tmp`, bytes);
        await rename(`${file}.tmp`, file);
        fetched += 1;
      }
      const index = join(dir, STATIC_INDEX_FILE);
      await writeFile(`${index}.tmp`, encodeStaticIndex(versions));
      await rename(`${index}.tmp`, index);
      ctx.print(
        `exported ${versions.length} version${versions.length === 1 ? '' : 's'} of ${plugins.length} plugin${plugins.length === 1 ? '' : 's'} to ${dir} (${fetched} package${fetched === 1 ? '' : 's'} downloaded); serve the folder over HTTP and add it with \`awasm repo add <url>\``,
        { dir, plugins: plugins.length, versions: versions.length, downloaded: fetched },
      );
    });
}
