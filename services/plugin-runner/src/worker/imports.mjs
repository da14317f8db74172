// @ts-check
/**
 * The import object a source component gets, built by the host itself (no preview2-shim): the
 * interfaces listed in import-policy.ts and nothing else, one module per package in wasi/ (as
 * preview2-shim lays its own out) plus awasm:source/host. It runs inside the source's worker thread.
 *
 * - wasi:filesystem: no preopens; every descriptor operation fails with `access`.
 * - wasi:cli: empty environment and arguments, no cwd, empty stdin, stdout/stderr handed to the host
 *   (which caps and forwards them), exit traps the instance instead of ending anything.
 * - wasi:clocks, wasi:random: real.
 * - wasi:io: in-memory streams and pollables; blocking waits on the host's signal word.
 * - wasi:http: requests are posted to the main thread, which checks and performs them; responses
 *   come back as messages read synchronously (see HttpClient).
 *
 * This is a plain ES module with JSDoc so it runs unchanged from src/ (under vitest) and dist/.
 */

import { FlowWords, threadFlow } from './http-channel.mjs';
import { sourceHostImports } from './source-host.mjs';
import { cliImports } from './wasi/cli.mjs';
import { clocksImports } from './wasi/clocks.mjs';
import { filesystemImports } from './wasi/filesystem.mjs';
import { HttpClient, httpImports } from './wasi/http.mjs';
import { ioImports, Waiter } from './wasi/io.mjs';
import { randomImports } from './wasi/random.mjs';

/** @typedef {import('./messages.mjs').HttpEvent} HttpEvent */

/**
 * @typedef {object} WasiHost
 * @property {(key: string) => string | undefined} getSetting
 * @property {(level: string, message: string) => void} log
 * @property {(stream: 'stdout' | 'stderr', bytes: Uint8Array) => void} output
 * @property {(code: number) => never} exit must throw; the instance is then finished
 * @property {(message: import('./messages.mjs').HostMessage, transfer?: ArrayBuffer[]) => void} post
 *   `transfer`: buffers the message owns (a request body), which may be moved instead of copied
 * @property {() => HttpEvent | undefined} receive takes one event without blocking
 * @property {() => number} signalValue the current value of the wake-up word
 * @property {(seen: number, timeoutMs: number) => void} wait blocks until the word changes from `seen` or the timeout
 * @property {number} maxRequestBodyBytes
 * @property {number} [maxUnsentRequestBytes] MAX_UNSENT_REQUEST_BYTES unless given (tests give less)
 * @property {number} [maxUnreadResponseBytes] MAX_UNREAD_RESPONSE_BYTES unless given (tests give less)
 * @property {number} [maxRequestsInHost] MAX_REQUESTS_IN_HOST unless given (tests give less)
 * @property {FlowWords} [flow] the channel's flow words; the worker thread's channel (threadFlow) unless given
 */

/**
 * Builds the import object, keyed by interface name without version as jco's instantiate() expects.
 * @param {WasiHost} host
 */
export function createImports(host) {
  // no channel (an import object made outside a worker): words nobody on the host's side reads
  const flow = host.flow ?? threadFlow() ?? new FlowWords(new SharedArrayBuffer(4));
  const client = new HttpClient(host, flow);
  const waiter = new Waiter(host, (e) => client.apply(e));
  const http = httpImports(host, client, waiter, flow);
  const imports = {
    ...sourceHostImports(host),
    ...cliImports(host, waiter),
    ...clocksImports(waiter),
    ...filesystemImports(),
    ...http.interfaces,
    ...ioImports(waiter),
    ...randomImports(),
  };
  return { imports, pendingRequests: () => client.pending.size, pressure: http.pressure };
}
