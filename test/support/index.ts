import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const awasmBin = join(repoRoot, 'packages/cli/bin/awasm.js');
export const grpcurlBin = join(repoRoot, '.cache/bin/grpcurl');
export const pythonBin = join(repoRoot, '.venv/bin/python');

export function requireTool(path: string): string {
  if (!existsSync(path))
    throw new Error(`${path} is missing: run \`bash scripts/install-tools.sh\` (scripts/test.sh does)`);
  return path;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion without a shell; never rejects, the exit code is in the result. */
export function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    // what a user would type or pipe in (a password for --password-stdin); nothing otherwise
    child.stdin?.end(options.input ?? '');
  });
}

export function awasm(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<RunResult> {
  return run(process.execPath, [awasmBin, ...args], { env, ...(input === undefined ? {} : { input }) });
}

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `awasm-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Starts a long-running program and resolves once a line on its stdout matches `ready`;
 * rejects with everything it printed if it exits first or takes longer than `timeoutMs`.
 */
export function startProcess(
  file: string,
  args: string[],
  ready: RegExp,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{
  match: RegExpMatchArray;
  /** stdout then stderr, as printed so far */
  output: () => string;
  stdout: () => string;
  stderr: () => string;
  stop(): Promise<number | null>;
  /** sends `signal` (SIGKILL: a crash) and resolves once the process is gone */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}> {
  const child = spawn(file, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const kill = (signal: NodeJS.Signals) => {
    if (child.exitCode === null) child.kill(signal);
    return exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`timed out waiting for ${ready}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, options.timeoutMs ?? 120_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = stdout.match(ready);
      if (match) {
        clearTimeout(timer);
        resolve({ match, output: () => stdout + stderr, stdout: () => stdout, stderr: () => stderr, stop, kill });
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${ready}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  });
}

/**
 * `awasm serve` on port 0 over `dataDir`, warnings only, each plugin host of `connectTo` sent to its
 * loopback target; resolves once it prints where it listens (`match[1]` is the URL).
 */
export function serveAwasm(dataDir: string, options: { connectTo?: Record<string, string>; env?: NodeJS.ProcessEnv }) {
  const connectTo = Object.entries(options.connectTo ?? {}).map(([from, to]) => `${from}=${to}`);
  return startProcess(
    process.execPath,
    [
      awasmBin,
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
      ...(connectTo.length > 0 ? ['--connect-to', connectTo.join(',')] : []),
    ],
    /awasm listening on (http:\/\/\S+)/,
    { env: options.env ?? {} },
  );
}
