// @ts-check
/**
 * wasi:cli: an empty environment and argument list, no cwd, an empty stdin, stdout and stderr handed
 * to the host (which caps and forwards them), no terminal, and exit traps the instance instead of
 * ending anything.
 */

import { INTERNAL, trap } from './internal.mjs';
import { EMPTY_SOURCE, InputStream, IO_CHUNK, OutputStream } from './io.mjs';

/** @typedef {import('../imports.mjs').WasiHost} WasiHost */
/** @typedef {import('./io.mjs').Waiter} Waiter */
/** @typedef {import('./io.mjs').Sink} Sink */

class TerminalInput {
  /** @param {symbol} token */
  constructor(token) {
    if (token !== INTERNAL) throw trap('wasi:cli/terminal-input.terminal-input has no constructor');
  }
}
class TerminalOutput {
  /** @param {symbol} token */
  constructor(token) {
    if (token !== INTERNAL) throw trap('wasi:cli/terminal-output.terminal-output has no constructor');
  }
}

/** @param {WasiHost} host @param {Waiter} waiter */
export function cliImports(host, waiter) {
  /** @param {'stdout' | 'stderr'} name @returns {Sink} */
  const stdio = (name) => ({ closed: () => false, capacity: () => IO_CHUNK, write: (b) => host.output(name, b) });
  return {
    'wasi:cli/environment': {
      getEnvironment: () => [],
      getArguments: () => [],
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      /** @param {{ tag: string }} status */
      exit: (status) => host.exit(status?.tag === 'ok' ? 0 : 1),
      /** @param {number} code */
      exitWithCode: (code) => host.exit(code),
    },
    'wasi:cli/stdin': { getStdin: () => new InputStream(INTERNAL, waiter, EMPTY_SOURCE) },
    'wasi:cli/stdout': { getStdout: () => new OutputStream(INTERNAL, waiter, stdio('stdout')) },
    'wasi:cli/stderr': { getStderr: () => new OutputStream(INTERNAL, waiter, stdio('stderr')) },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
  };
}
