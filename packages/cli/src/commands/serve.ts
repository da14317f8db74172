import type { Command } from 'commander';
import type { Output } from '../output.js';

/** `awasm serve`: the whole server in this process (see ../serve.ts). */
export function addServeCommand(program: Command, output: Output): void {
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
      const { serve } = await import('../serve.js');
      await serve(flags, output);
    });
}
