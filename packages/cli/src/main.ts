import { readFile, stat, writeFile } from 'node:fs/promises';
import { parseManifest, sha256Hex } from '@awasm/shared';
import {
  type Asset,
  AssetKind,
  AssetSchema,
  type Filter,
  FilterKind,
  FilterSchema,
  Listing,
  type Media,
  MediaKind,
  MediaSchema,
  MediaStatus,
  type Unit,
  UnitKind,
  UnitSchema,
} from '@awasm/shared/gen/awasm/v1/media_pb.js';
import {
  GetSettingsResponseSchema,
  type InstalledPlugin,
  InstalledPluginSchema,
  SettingType,
} from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import { SourceErrorSchema } from '@awasm/shared/gen/awasm/v1/source_error_pb.js';
import { HealthState, type SourceHealth } from '@awasm/shared/gen/awasm/v1/source_health_pb.js';
import { SourceSchema } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { create, toJson } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { Command, CommanderError, Option } from 'commander';
import { connect, DEFAULT_SERVER } from './client.js';
import { json, type Output, processOutput, table, truncate } from './output.js';
import type { ProgressSink } from './progress.js';
import {
  addPublisherCommands,
  addRegistryCommands,
  packPackage,
  type RegistryCommandContext,
} from './registry-commands.js';
import {
  addExportCommand,
  addRepoCommands,
  addRepositoryPluginCommands,
  installFromRepository,
  type RepositoryCommandContext,
} from './repository-commands.js';
import { UsageError } from './usage.js';

/** Exit codes: 0 ok, 1 the server refused or failed the request, 2 bad usage, 3 server unreachable. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

const INSTALL_CHUNK_BYTES = 256 * 1024;

function enumLabel(value: number, prefix: string, names: Record<number, string>): string {
  return (names[value] ?? 'UNSPECIFIED').replace(prefix, '').toLowerCase();
}

const kindName = (k: MediaKind) => enumLabel(k, '', MediaKind as unknown as Record<number, string>);
const statusName = (s: MediaStatus) => enumLabel(s, '', MediaStatus as unknown as Record<number, string>);
const unitKindName = (k: UnitKind) => enumLabel(k, '', UnitKind as unknown as Record<number, string>);
const assetKindName = (k: AssetKind) => enumLabel(k, '', AssetKind as unknown as Record<number, string>);
const filterKindName = (k: FilterKind) =>
  enumLabel(k, '', FilterKind as unknown as Record<number, string>).replace('_', '-');
const settingTypeName = (t: SettingType) => enumLabel(t, '', SettingType as unknown as Record<number, string>);

function parseFilters(values: string[]): { id: string; values: string[] }[] {
  return values.map((text) => {
    const [id, rest] = text.split('=', 2);
    if (!id || rest === undefined || rest === '')
      throw new UsageError(`--filter '${text}' must be id=value[,value...]`);
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

/** A source's circuit state in one cell: "healthy", or "unhealthy: <reason> (retry 12:00:05)". */
function healthText(health: SourceHealth | undefined): string {
  if (!health || health.state === HealthState.UNSPECIFIED) return '-';
  if (health.state === HealthState.HEALTHY) return 'healthy';
  const retry = health.retryAt ? ` (retry ${timestampDate(health.retryAt).toISOString().slice(11, 19)})` : '';
  const state = health.state === HealthState.PROBING ? 'probing' : 'unhealthy';
  return `${state}: ${truncate(health.reason, 60)}${retry}`;
}

function timestampDate(t: { seconds: bigint; nanos: number }): Date {
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6));
}

function pluginTable(plugins: InstalledPlugin[]): string {
  return table(
    ['ID', 'NAME', 'VERSION', 'ENABLED', 'KINDS', 'STATUS', 'HEALTH'],
    plugins.map((p) => [
      p.id,
      p.name,
      p.version,
      p.enabled ? 'yes' : 'no',
      p.mediaKinds.map(kindName).join(','),
      p.loadError ? `load failed: ${truncate(p.loadError, 60)}` : p.enabled ? 'ready' : 'disabled',
      healthText(p.health),
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

/** Explains a failed call in one line; details from the plugin's typed error when there are any. */
function describeError(error: ConnectError): string {
  const [detail] = error.findDetails(SourceErrorSchema);
  const kind = detail?.kind.case ? ` [${detail.kind.case}]` : '';
  return `${Code[error.code]}${kind}: ${error.rawMessage}`;
}

export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  const program = new Command('awasm')
    .description('aWASM: a self-hosted media aggregation server whose sources are sandboxed WebAssembly plugins')
    .addOption(new Option('-s, --server <url>', 'server to talk to').env('AWASM_SERVER').default(DEFAULT_SERVER))
    .option('--json', 'print JSON for scripts instead of tables', false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) });

  const opts = () => program.opts<{ server: string; json: boolean }>();
  const clients = () => connect(opts().server);
  const print = (text: string, value: unknown) => output.out(opts().json ? json(value) : text);
  // A bar redrawn in place when stderr is a terminal, plain lines otherwise.
  const progressSink: ProgressSink = {
    tty: output === processOutput && process.stderr.isTTY === true,
    write: (text) => process.stderr.write(text),
    line: (text) => output.err(text),
  };
  const registryContext: RegistryCommandContext = {
    registry: () => clients().registry,
    print,
    usage: (message) => new UsageError(message),
    progress: progressSink,
  };
  const repositoryContext: RepositoryCommandContext = {
    repositories: () => clients().repositories,
    registry: () => clients().registry,
    print,
    warn: (text) => output.err(text),
    progress: progressSink,
    usage: (message) => new UsageError(message),
  };

  program
    .command('serve')
    .description('start the server in one process (SQLite, local package folder, in-process runners)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1; AWASM_HOST)')
    .option('--port <port>', 'port to listen on, 0 for any free port (default 7600; AWASM_PORT)')
    .option('--data-dir <dir>', 'where the database and packages live (AWASM_DATA_DIR)')
    .option('--config <file>', 'TOML config file (AWASM_CONFIG)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (AWASM_LOG_LEVEL)')
    .option(
      '--connect-to <pairs>',
      "host:port=ip:port[,...]: where plugins' allowed hosts really connect (AWASM_CONNECT_TO)",
    )
    .option('--demo', 'also start the offline demo site and install the demo plugin', false)
    .action(async (flags) => {
      // Loaded on demand: the server pulls in SQLite and the wasm toolchain, which other commands never need.
      const { serve } = await import('./serve.js');
      await serve(flags, output);
    });

  const plugin = program.command('plugin').description('manage installed plugins');
  plugin
    .command('install <package-or-id>')
    .description('install or update a plugin from a .awpkg package file, or by id from your repositories')
    .option('--version <version>', 'from a repository: this version (default: the newest)')
    .option('--repo <name>', 'from a repository: only this one')
    .option('--force', 'from a repository: allow installing an older version than the installed one', false)
    .action(async (target: string, flags: { version?: string; repo?: string; force: boolean }) => {
      const isFile = await stat(target).then(
        (s) => s.isFile(),
        () => false,
      );
      if (!isFile) {
        if (/[/\\]|\.awpkg$/i.test(target)) throw new UsageError(`cannot read package file '${target}': ENOENT`);
        const { plugin: installed, repository } = await installFromRepository(repositoryContext, {
          pluginId: target,
          version: flags.version ?? '',
          repository: flags.repo ?? '',
          allowDowngrade: flags.force,
        });
        print(
          `installed ${installed.id} ${installed.version} from ${repository || 'repository'} (package ${installed.packageSha256.slice(0, 12)})`,
          toJson(InstalledPluginSchema, installed),
        );
        return;
      }
      if (flags.version || flags.repo || flags.force) {
        throw new UsageError('--version, --repo and --force apply to installs from a repository, not from a file');
      }
      let bytes: Uint8Array;
      try {
        bytes = await readFile(target);
      } catch (error) {
        throw new UsageError(
          `cannot read package file '${target}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        );
      }
      async function* chunks() {
        for (let offset = 0; offset < bytes.length; offset += INSTALL_CHUNK_BYTES) {
          yield { chunk: bytes.subarray(offset, offset + INSTALL_CHUNK_BYTES) };
        }
      }
      const { plugin: installed } = await clients().plugins.install(chunks());
      if (!installed) throw new Error('server answered without the installed plugin');
      print(
        `installed ${installed.id} ${installed.version} (package ${installed.packageSha256.slice(0, 12)})`,
        toJson(InstalledPluginSchema, installed),
      );
    });
  plugin
    .command('list')
    .description('list installed plugins')
    .action(async () => {
      const { plugins } = await clients().plugins.listInstalled({});
      print(
        plugins.length ? pluginTable(plugins) : 'no plugins installed',
        plugins.map((p) => toJson(InstalledPluginSchema, p)),
      );
    });
  for (const [name, enable] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    plugin
      .command(`${name} <id>`)
      .description(`${name} an installed plugin`)
      .action(async (id: string) => {
        const response = enable
          ? await clients().plugins.enable({ pluginId: id })
          : await clients().plugins.disable({ pluginId: id });
        const p = response.plugin;
        print(`${id} ${enable ? 'enabled' : 'disabled'}`, p ? toJson(InstalledPluginSchema, p) : {});
      });
  }
  plugin
    .command('uninstall <id>')
    .description('remove a plugin and its settings')
    .action(async (id: string) => {
      await clients().plugins.uninstall({ pluginId: id });
      print(`${id} uninstalled`, { uninstalled: id });
    });
  plugin
    .command('settings <id> [assignments...]')
    .description("show a plugin's settings, or set them with key=value")
    .action(async (id: string, assignments: string[]) => {
      const values: Record<string, string> = {};
      for (const a of assignments) {
        const eq = a.indexOf('=');
        if (eq <= 0) throw new UsageError(`'${a}' must be key=value`);
        values[a.slice(0, eq)] = a.slice(eq + 1);
      }
      // SetSettings answers with the same fields as GetSettings.
      const { schema, values: current } = assignments.length
        ? await clients().plugins.setSettings({ pluginId: id, values })
        : await clients().plugins.getSettings({ pluginId: id });
      const response = create(GetSettingsResponseSchema, { schema, values: current });
      print(
        table(
          ['KEY', 'TYPE', 'VALUE', 'DEFAULT', 'LABEL'],
          response.schema.map((s) => [
            s.key,
            settingTypeName(s.type),
            response.values[s.key] ?? '',
            s.defaultValue,
            s.label,
          ]),
        ),
        toJson(GetSettingsResponseSchema, response),
      );
    });
  plugin
    .command('pack <manifest> <component>')
    .description('pack a manifest.toml and a component .wasm into a .awpkg package file, signed with --key')
    .requiredOption('-o, --output <file>', 'package file to write')
    .option('-k, --key <file>', 'sign with this private key from `awasm plugin keygen`')
    .action(async (manifestPath: string, componentPath: string, flags: { output: string; key?: string }) => {
      const manifestToml = await readFile(manifestPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot read manifest '${manifestPath}': ${e.code ?? e.message}`);
      });
      const manifest = parseManifest(manifestToml);
      const component = await readFile(componentPath).catch((e: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot read component '${componentPath}': ${e.code ?? e.message}`);
      });
      const bytes = await packPackage(registryContext, manifestToml, component, flags.key);
      await writeFile(flags.output, bytes);
      print(
        `packed ${manifest.id} ${manifest.version} -> ${flags.output} (${bytes.length} bytes, sha256 ${sha256Hex(bytes)}${flags.key ? ', signed' : ', unsigned'})`,
        {
          id: manifest.id,
          version: manifest.version,
          file: flags.output,
          bytes: bytes.length,
          sha256: sha256Hex(bytes),
        },
      );
    });

  addPublisherCommands(plugin, registryContext);
  addRepositoryPluginCommands(plugin, repositoryContext);
  addExportCommand(addRegistryCommands(program, registryContext), repositoryContext);
  addRepoCommands(program, repositoryContext);

  program
    .command('sources')
    .description('list the sources you can search')
    .option('--all', 'include disabled sources', false)
    .action(async (flags: { all: boolean }) => {
      const { sources } = await clients().sources.listSources({ includeDisabled: flags.all });
      print(
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

  const pageFooter = (next: string) => (next ? `\nmore: --cursor ${next}` : '');
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
      const response = await clients().sources.search({
        sourceId: source,
        query: words.join(' '),
        cursor: flags.cursor,
        filters: parseFilters(flags.filter),
      });
      print((response.items.length ? mediaTable(response.items) : 'no results') + pageFooter(response.nextCursor), {
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
      if (which !== 'popular' && which !== 'latest')
        throw new UsageError(`listing '${listing}' must be popular or latest`);
      const response = await clients().sources.listMedia({
        sourceId: source,
        listing: which === 'popular' ? Listing.POPULAR : Listing.LATEST,
        cursor: flags.cursor,
      });
      print((response.items.length ? mediaTable(response.items) : 'nothing listed') + pageFooter(response.nextCursor), {
        items: response.items.map((m) => toJson(MediaSchema, m)),
        nextCursor: response.nextCursor,
      });
    });
  program
    .command('media <source> <id>')
    .description('show one media with its details')
    .action(async (source: string, id: string) => {
      const { media } = await clients().sources.getMedia({ sourceId: source, mediaId: id });
      if (!media) throw new Error('server answered without the media');
      print(mediaDetails(media), toJson(MediaSchema, media));
    });
  program
    .command('units <source> <media-id>')
    .description('list the chapters, episodes or volumes of a media')
    .option('--cursor <cursor>', 'page to fetch, from a previous answer', '')
    .action(async (source: string, mediaId: string, flags: { cursor: string }) => {
      const response = await clients().sources.listUnits({ sourceId: source, mediaId, cursor: flags.cursor });
      print((response.items.length ? unitTable(response.items) : 'no units') + pageFooter(response.nextCursor), {
        items: response.items.map((u) => toJson(UnitSchema, u)),
        nextCursor: response.nextCursor,
      });
    });
  program
    .command('assets <source> <unit-id>')
    .description('list the pages, streams or text of a unit')
    .action(async (source: string, unitId: string) => {
      const { assets } = await clients().sources.getAssets({ sourceId: source, unitId });
      print(
        assets.length ? assetTable(assets) : 'no assets',
        assets.map((a) => toJson(AssetSchema, a)),
      );
    });
  program
    .command('filters <source>')
    .description('list the search filters a source supports')
    .action(async (source: string) => {
      const { filters } = await clients().sources.getFilters({ sourceId: source });
      print(
        filters.length ? filterTable(filters) : 'no filters',
        filters.map((f) => toJson(FilterSchema, f)),
      );
    });

  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof UsageError) {
      output.err(`error: ${error.message}`);
      return EXIT.usage;
    }
    if (error instanceof ConnectError) {
      // Only a failure to reach this server, not an UNAVAILABLE the server answered with (say, a
      // repository it could not reach): those come with the server's grpc-status.
      const fromServer = error.cause === undefined && error.metadata.has('grpc-status');
      if (
        error.code === Code.Unavailable &&
        !fromServer &&
        /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|connect/i.test(String(error.cause ?? error.rawMessage))
      ) {
        output.err(
          `error: cannot reach the awasm server at ${opts().server} (${error.rawMessage}); is \`awasm serve\` running?`,
        );
        return EXIT.unreachable;
      }
      output.err(`error: ${describeError(error)}`);
      return EXIT.failed;
    }
    output.err(`error: ${(error as Error).message}`);
    return EXIT.failed;
  }
}
