// @ts-check
/**
 * Entry of a source's worker thread: instantiates the transpiled component against the import
 * object from imports.mjs and serves calls posted by the runner, one at a time.
 *
 * The worker boots with nothing of a plugin (the runner keeps booted spares), says `idle`, and waits
 * for its setup; the messages both ways are in messages.mjs (ToWorker, FromWorker).
 *
 * Everything in this folder runs inside the sandbox's worker thread: plain ES modules with JSDoc, no
 * build step, loaded the same from src/ (under vitest) and dist/, importing nothing of the runner's
 * TypeScript. The main thread may import from here (the messages, the channel, the header rules).
 */

import { parentPort } from 'node:worker_threads';
import { CoreInstances } from './core-instances.mjs';
import { describe, guestResult } from './guest-result.mjs';
import { BatchReader } from './http-channel.mjs';
import { createImports } from './imports.mjs';
import { FromWorker, ToWorker } from './messages.mjs';
import { OutputBudget } from './output-budget.mjs';

/** @typedef {import('./messages.mjs').HttpEvent} HttpEvent */
/** @typedef {import('./messages.mjs').RunnerMessage} RunnerMessage */
/** @typedef {import('./messages.mjs').WorkerMessage} WorkerMessage */
/** @typedef {import('./messages.mjs').CoreModules} CoreModules */

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/** @param {WorkerMessage} message */
function toRunner(message) {
  port.postMessage(message);
}

/**
 * The next message of `type` from the runner; settings posted meanwhile are kept.
 * @template {RunnerMessage['type']} T
 * @param {T} type
 * @returns {Promise<Extract<RunnerMessage, { type: T }>>}
 */
function fromRunner(type) {
  return new Promise((resolve) => {
    const onMessage = (/** @type {RunnerMessage} */ msg) => {
      if (msg.type === ToWorker.SETTINGS) settings = msg.settings;
      if (msg.type !== type) return;
      port.off('message', onMessage);
      resolve(/** @type {Extract<RunnerMessage, { type: T }>} */ (msg));
    };
    port.on('message', onMessage);
  });
}

/** @type {Record<string, string>} */
let settings = {};
const waitingForSetup = fromRunner(ToWorker.SETUP);
// booted: the runner counts this thread as a ready spare from now on
toRunner({ type: FromWorker.IDLE });
const data = (await waitingForSetup).setup;
const httpPort = data.httpPort;
const batches = new BatchReader(data.signal, httpPort);
const signal = batches.words;
const spin = data.spin;
const running = new Int32Array(spin.running);
settings = data.settings;

const output = new OutputBudget(data.outputBytesPerCall, toRunner);
/** why the guest ended itself (exit) during the current call, if it did @type {string | undefined} */
let exited;

/** HTTP events received from the host and not yet handed to the import object. @type {HttpEvent[]} */
let inbox = [];
let inboxAt = 0;
/** The signal word's value when the port and the mailbox were last found empty. */
let drainedAt = Atomics.load(signal, 0) - 1;
/** @type {import('./imports.mjs').WasiHost} */
const host = {
  getSetting: (key) => (Object.hasOwn(settings, key) ? settings[key] : undefined),
  log: (level, message) => output.log(level, message),
  output: (stream, bytes) => output.output(stream, bytes),
  exit(code) {
    exited = `the plugin called exit(${code})`;
    throw new WebAssembly.RuntimeError(exited);
  },
  post(message, transfer) {
    httpPort.postMessage(message, transfer);
  },
  receive() {
    if (inboxAt < inbox.length) return inbox[inboxAt++];
    // the host bumps the signal word after each batch, so an unchanged word means nothing new:
    // the guest polls often, and asking the port itself is the costly part of a poll that finds nothing
    const word = Atomics.load(signal, 0);
    if (word === drainedAt) return undefined;
    const batch = batches.next();
    if (batch === undefined) {
      drainedAt = word;
      return undefined;
    }
    inbox = batch;
    inboxAt = 0;
    return inbox[inboxAt++];
  },
  signalValue: () => Atomics.load(signal, 0),
  wait(seen, timeoutMs) {
    // a loopback answer often comes back within the spin time: checking for it meanwhile saves two thread
    // wake-ups, while no other call needs the core (see SpinGate in messages.mjs)
    if (spin.micros > 0 && Atomics.load(running, 0) <= spin.slots) {
      const until = performance.now() + Math.min(spin.micros / 1000, timeoutMs);
      do {
        if (Atomics.load(signal, 0) !== seen) return;
      } while (performance.now() < until);
    }
    Atomics.wait(signal, 0, seen, timeoutMs);
  },
  maxRequestBodyBytes: data.maxRequestBodyBytes,
};

/** @type {Record<string, (...args: unknown[]) => unknown>} */
let api;
/** @type {CoreInstances} */
let core;
/** why the runner should retire this instance after the call, if it should (see createImports) */
/** @type {() => string | undefined} */
let pressure = () => undefined;
try {
  const created = createImports(host);
  const { imports } = created;
  pressure = created.pressure;
  const component = await import(data.componentUrl);
  /** @type {CoreModules} */
  const modules = data.modules ?? (await fromRunner(ToWorker.MODULES)).modules;
  const instances = new CoreInstances(modules);
  core = instances;
  const instance = await component.instantiate(
    (/** @type {string} */ name) => instances.module(name),
    imports,
    (/** @type {WebAssembly.Module} */ module, /** @type {WebAssembly.Imports} */ imports) =>
      instances.instantiate(module, imports),
  );
  api = instance.sourceApi ?? instance['awasm:source/source-api@0.1.0'];
  if (!api) throw new Error('the component does not export awasm:source/source-api');
  toRunner({ type: FromWorker.READY });
} catch (err) {
  toRunner({ type: FromWorker.INIT_ERROR, message: describe(err) });
  // nothing more to do: the runner terminates this worker
  throw err;
}

port.on('message', (/** @type {RunnerMessage} */ msg) => {
  if (msg.type === ToWorker.SETTINGS) {
    settings = msg.settings;
    return;
  }
  if (msg.type !== ToWorker.CALL) return;
  output.startCall();
  const outcome = guestResult(api, msg.op, msg.args, () => exited);
  output.flush();
  const retire = pressure();
  /** @type {WorkerMessage} */
  const reply = {
    type: FromWorker.RESULT,
    id: msg.id,
    ...outcome,
    dropped: output.dropped,
    memoryBytes: core.memoryBytes(),
    // the most handles any of the glue's tables has held (kept there by the runner's patch of the glue)
    handleSlots: /** @type {any} */ (globalThis).__awasmHandleSlots ?? 0,
    ...(retire ? { retire } : {}),
  };
  try {
    port.postMessage(reply);
  } catch (err) {
    toRunner({
      type: FromWorker.RESULT,
      id: msg.id,
      ok: false,
      dropped: output.dropped,
      error: { kind: 'trap', message: `the result could not be passed to the host: ${describe(err)}` },
    });
  }
});
