import { readFile, stat, writeFile } from 'node:fs/promises';
import { parseManifest, sha256Hex } from '@awasm/shared';
import {
  GetSettingsResponseSchema,
  type InstalledPlugin,
  InstalledPluginSchema,
} from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import { create, toJson } from '@bufbuild/protobuf';
import type { Command } from 'commander';
import { table, truncate } from '../output.js';
import type { CommandContext } from './context.js';
import { healthText, kindName, settingTypeName } from './labels.js';
import { packPackage } from './registry.js';
import { installFromRepository } from './repositories.js';

const INSTALL_CHUNK_BYTES = 256 * 1024;

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

/** Installs `target` as a package file when one exists there, else by plugin id from the repositories. */
async function install(
  ctx: CommandContext,
  target: string,
  flags: { version?: string; repo?: string; force: boolean },
): Promise<void> {
  const isFile = await stat(target).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!isFile) {
    if (/[/\\]|\.awpkg$/i.test(target)) throw ctx.usage(`cannot read package file '${target}': ENOENT`);
    const { plugin: installed, repository } = await installFromRepository(ctx, {
      pluginId: target,
      version: flags.version ?? '',
      repository: flags.repo ?? '',
      allowDowngrade: flags.force,
    });
    ctx.print(
      `installed ${installed.id} ${installed.version} from ${repository || 'repository'} (package ${installed.packageSha256.slice(0, 12)})`,
      toJson(InstalledPluginSchema, installed),
    );
    return;
  }
  if (flags.version || flags.repo || flags.force) {
    throw ctx.usage('--version, --repo and --force apply to installs from a repository, not from a file');
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(target);
  } catch (error) {
    throw ctx.usage(
      `cannot read package file '${target}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  async function* chunks() {
    for (let offset = 0; offset < bytes.length; offset += INSTALL_CHUNK_BYTES) {
      yield { chunk: bytes.subarray(offset, offset + INSTALL_CHUNK_BYTES) };
    }
  }
  const { plugin: installed } = await ctx.plugins().install(chunks());
  if (!installed) throw new Error('server answered without the installed plugin');
  ctx.print(
    `installed ${installed.id} ${installed.version} (package ${installed.packageSha256.slice(0, 12)})`,
    toJson(InstalledPluginSchema, installed),
  );
}

/**
 * `awasm plugin …`: install, list, enable, disable, uninstall, settings and pack. Returns the
 * group so the registry and repository modules add their plugin subcommands to it.
 */
export function addPluginCommands(program: Command, ctx: CommandContext): Command {
  const plugin = program.command('plugin').description('manage installed plugins');
  plugin
    .command('install <package-or-id>')
    .description('install or update a plugin from a .awpkg package file, or by id from your repositories')
    .option('--version <version>', 'from a repository: this version (default: the newest)')
    .option('--repo <name>', 'from a repository: only this one')
    .option('--force', 'from a repository: allow installing an older version than the installed one', false)
    .action((target: string, flags: { version?: string; repo?: string; force: boolean }) =>
      install(ctx, target, flags),
    );
  plugin
    .command('list')
    .description('list installed plugins')
    .action(async () => {
      const { plugins } = await ctx.plugins().listInstalled({});
      ctx.print(
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
          ? await ctx.plugins().enable({ pluginId: id })
          : await ctx.plugins().disable({ pluginId: id });
        const p = response.plugin;
        ctx.print(`${id} ${enable ? 'enabled' : 'disabled'}`, p ? toJson(InstalledPluginSchema, p) : {});
      });
  }
  plugin
    .command('uninstall <id>')
    .description('remove a plugin and its settings')
    .action(async (id: string) => {
      await ctx.plugins().uninstall({ pluginId: id });
      ctx.print(`${id} uninstalled`, { uninstalled: id });
    });
  plugin
    .command('settings <id> [assignments...]')
    .description("show a plugin's settings, or set them with key=value")
    .action(async (id: string, assignments: string[]) => {
      const values: Record<string, string> = {};
      for (const a of assignments) {
        const eq = a.indexOf('=');
        if (eq <= 0) throw ctx.usage(`'${a}' must be key=value`);
        values[a.slice(0, eq)] = a.slice(eq + 1);
      }
      // SetSettings answers with the same fields as GetSettings.
      const { schema, values: current } = assignments.length
        ? await ctx.plugins().setSettings({ pluginId: id, values })
        : await ctx.plugins().getSettings({ pluginId: id });
      const response = create(GetSettingsResponseSchema, { schema, values: current });
      ctx.print(
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
        throw ctx.usage(`cannot read manifest '${manifestPath}': ${e.code ?? e.message}`);
      });
      const manifest = parseManifest(manifestToml);
      const component = await readFile(componentPath).catch((e: NodeJS.ErrnoException) => {
        throw ctx.usage(`cannot read component '${componentPath}': ${e.code ?? e.message}`);
      });
      const bytes = await packPackage(ctx, manifestToml, component, flags.key);
      await writeFile(flags.output, bytes);
      ctx.print(
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
  return plugin;
}
