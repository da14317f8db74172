import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * HTTP servers for the component tests, each in its own worker thread. preview2-shim's wasi:http
 * blocks the calling thread until the response arrives, so a server on the test's own thread
 * could never answer.
 */

export interface WorkerServer {
  url: string;
  close(): Promise<void>;
}

const packageDir = fileURLToPath(new URL('../', import.meta.url));

async function startWorker(code: string, workerData: unknown): Promise<WorkerServer> {
  const worker = new Worker(code, { eval: true, workerData });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('message', (message: { url?: string; error?: string }) =>
      message.url ? resolve(message.url) : reject(new Error(message.error)),
    );
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`server worker exited with ${code}`)));
  });
  return {
    url,
    close: async () => {
      await worker.terminate();
    },
  };
}

/** The compiled fixture site must match its source: the worker cannot load TypeScript. */
async function assertBuilt(): Promise<void> {
  for (const name of await readdir(join(packageDir, 'src'))) {
    if (!name.endsWith('.ts')) continue;
    const source = await stat(join(packageDir, 'src', name));
    const built = await stat(join(packageDir, 'dist', name.replace(/\.ts$/, '.js'))).catch(() => undefined);
    if (!built || built.mtimeMs < source.mtimeMs) {
      throw new Error(`plugins/demo-library/dist is older than src/${name}: run pnpm build`);
    }
  }
}

/** The real fixture site (compiled), served from a worker thread. */
export async function startFixtureSiteWorker(): Promise<WorkerServer> {
  await assertBuilt();
  const moduleUrl = new URL('../dist/fixture-site.js', import.meta.url).href;
  return startWorker(
    `const { parentPort, workerData } = require('node:worker_threads');
     import(workerData.moduleUrl)
       .then((m) => m.startFixtureSite())
       .then((site) => parentPort.postMessage({ url: site.url }))
       .catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`,
    { moduleUrl },
  );
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

/** A server that answers fixed responses by path (404 otherwise), for error-mapping tests. */
export async function startScriptedServer(routes: Record<string, ScriptedResponse>): Promise<WorkerServer> {
  return startWorker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const http = require('node:http');
     const server = http.createServer((req, res) => {
       const path = new URL(req.url, 'http://localhost').pathname;
       const r = workerData.routes[path] || { status: 404, body: '{"error":"not found"}' };
       res.writeHead(r.status, { 'content-type': 'application/json', ...(r.headers || {}) });
       res.end(r.body);
     });
     server.listen(0, '127.0.0.1', () => parentPort.postMessage({ url: 'http://127.0.0.1:' + server.address().port }));`,
    { routes },
  );
}
