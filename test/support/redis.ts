import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  /** a redis:// URL for the client */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'redis-server is not on PATH: `bash .ci/run` installs it (Debian: `apt-get install -y redis-server`); the Redis tests need a real server';

/** A port that was free a moment ago (redis-server needs an explicit one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true when the server at `port` answers PING with PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

async function startOnce(port: number): Promise<RedisServer | 'port-taken'> {
  const dir = await mkdtemp(join(tmpdir(), 'awasm-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exit;
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
  };
  const started = Date.now();
  while (!exited) {
    if (await ping(port)) {
      // and the child still runs: a port someone else took makes it exit
      if (!exited) return { url: `redis://127.0.0.1:${port}`, port, stop };
    }
    if (Date.now() - started > 30_000) {
      await stop();
      throw new Error(`redis-server did not answer PING on port ${port} within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  if (/address already in use/i.test(output)) return 'port-taken';
  throw new Error(`redis-server exited before answering PING:\n${output}`);
}

/**
 * Starts a throwaway redis-server (no persistence, loopback only) on a free port and resolves once
 * it answers PING. Fails, never skips, when redis-server is not installed; nothing here assumes a
 * running server.
 */
export async function startRedis(): Promise<RedisServer> {
  if (spawnSync('redis-server', ['--version']).error) throw new Error(INSTALL_HINT);
  for (let attempt = 0; attempt < 5; attempt++) {
    const server = await startOnce(await freePort());
    if (server !== 'port-taken') return server;
  }
  throw new Error('redis-server found no free port in 5 tries');
}
