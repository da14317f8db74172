import { savedKeyFor } from '@awasm/shared';
import { Command, Option } from 'commander';
import { connect, DEFAULT_SERVER } from './client.js';
import { addBackupCommands } from './commands/backup.js';
import { addCategoryCommands } from './commands/categories.js';
import type { CommandContext } from './commands/context.js';
import { addLibraryCommands } from './commands/library.js';
import { addPluginCommands } from './commands/plugins.js';
import { addPublisherCommands, addRegistryCommands } from './commands/registry.js';
import { addExportCommand, addRepoCommands, addRepositoryPluginCommands } from './commands/repositories.js';
import { addServeCommand } from './commands/serve.js';
import { addSourceCommands } from './commands/sources.js';
import { addUpdateCommands } from './commands/updates.js';
import { addUserCommands } from './commands/users.js';
import { EXIT, reportFailure } from './exit-codes.js';
import { json, type Output, processOutput } from './output.js';
import { readPassword } from './password.js';
import { UsageError } from './usage.js';

/** Runs one command line and answers its exit code (see EXIT). */
export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  const program = new Command('awasm')
    .description('aWASM: a self-hosted media aggregation server whose sources are sandboxed WebAssembly plugins')
    .addOption(new Option('-s, --server <url>', 'server to talk to').env('AWASM_SERVER').default(DEFAULT_SERVER))
    .addOption(
      new Option('--api-key <key>', 'API key to call with (default: the one `awasm login` saved for --server)').env(
        'AWASM_API_KEY',
      ),
    )
    .option('--json', 'print JSON for scripts instead of tables', false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) });

  const opts = () => program.opts<{ server: string; json: boolean; apiKey?: string }>();
  // --api-key, then AWASM_API_KEY (commander reads both into apiKey), then the credentials file
  const apiKey = () => opts().apiKey || savedKeyFor(opts().server)?.key;
  const clients = () => connect(opts().server, apiKey());
  const context: CommandContext = {
    sources: () => clients().sources,
    plugins: () => clients().plugins,
    registry: () => clients().registry,
    repositories: () => clients().repositories,
    updates: () => clients().updates,
    backup: () => clients().backup,
    library: () => clients().library,
    users: () => clients().users,
    server: () => opts().server,
    readPassword: (prompt, fromStdin) => readPassword(prompt, fromStdin),
    print: (text, value) => output.out(opts().json ? json(value) : text),
    warn: (text) => output.err(text),
    usage: (message) => new UsageError(message),
    // A bar redrawn in place when stderr is a terminal, plain lines otherwise.
    progress: {
      tty: output === processOutput && process.stderr.isTTY === true,
      write: (text) => process.stderr.write(text),
      line: (text) => output.err(text),
    },
  };

  // Registration order is the order `awasm --help` lists the commands in.
  addServeCommand(program, output);
  const plugin = addPluginCommands(program, context);
  addPublisherCommands(plugin, context);
  addRepositoryPluginCommands(plugin, context);
  addExportCommand(addRegistryCommands(program, context), context);
  addRepoCommands(program, context);
  addSourceCommands(program, context);
  addBackupCommands(program, context);
  addLibraryCommands(program, context);
  addCategoryCommands(program, context);
  addUpdateCommands(program, context);
  addUserCommands(program, context);

  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    return reportFailure(error, output, opts().server);
  }
}
