import { UsageError } from './usage.js';

/** More than any password the server accepts; stdin beyond it is refused, not buffered. */
const MAX_STDIN_BYTES = 64 * 1024;

/** All of stdin, one trailing newline dropped (what `echo secret | awasm login --password-stdin` sends). */
async function passwordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN_BYTES) throw new UsageError(`--password-stdin read over ${MAX_STDIN_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Asks on the terminal without echoing what is typed. */
function passwordFromTerminal(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (text: string) => {
      for (const char of text) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new UsageError('cancelled'));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else if (typed.length < MAX_STDIN_BYTES) typed += char;
      }
    };
    stdin.on('data', onData);
  });
}

/** A password from stdin (--password-stdin) or typed at the terminal; neither available is bad usage. */
export async function readPassword(prompt: string, fromStdin: boolean): Promise<string> {
  if (fromStdin) return passwordFromStdin();
  if (!process.stdin.isTTY) {
    throw new UsageError('no terminal to ask for the password on: pipe it in with --password-stdin');
  }
  return passwordFromTerminal(prompt);
}
