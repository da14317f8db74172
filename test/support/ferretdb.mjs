// Plain JavaScript so the benchmarks (run by node) share it with the tests; types in ferretdb.d.mts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ferretdbBin = fileURLToPath(new URL('../../.cache/bin/ferretdb', import.meta.url));

/**
 * Starts FerretDB (a MongoDB-wire server) on a free loopback port with its own SQLite folder, and
 * resolves once it listens. Built by scripts/install-tools.sh; nothing here assumes a running server.
 */
export async function startFerretDb() {
  if (!existsSync(ferretdbBin)) throw new Error(`${ferretdbBin} is missing: run \`bash scripts/install-tools.sh\``);
  const dir = await mkdtemp(join(tmpdir(), 'awasm-ferretdb-'));
  const child = spawn(
    ferretdbBin,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dir}/`,
      `--state-dir=${dir}`,
      '--listen-addr=127.0.0.1:0',
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-level=info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const exited = new Promise((resolve) => child.on('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
  };
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ferretdb did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = /Listening on TCP (127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`ferretdb exited before listening:\n${output}`));
    });
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  return { url: `mongodb://${address}/`, stop };
}
