// @ts-check
/**
 * Entry of a source's worker thread: instantiates the transpiled component against the import
 * object from wasi-imports.mjs and serves calls posted by the runner, one at a time.
 *
 * The worker boots with nothing of a plugin (the runner keeps booted spares) and waits for its setup.
 * from the runner:  { type: 'setup', setup: { componentUrl, modules?, settings, signal,
 *                   httpPort, maxRequestBodyBytes, outputBytesPerCall, spin } } (first)
 *                   | { type: 'modules', modules } (when the setup had none: the worker loads the glue while
 *                   the runner compiles) | { type: 'call', id, op, args } | { type: 'settings', settings }
 * to the runner:    { type: 'idle' } (booted, waiting for the setup) | { type: 'ready' } | { type: 'init-error', message }
 *                   | { type: 'result', id, ok: true, value, memoryBytes } | { type: 'result', id, ok: false, error, memoryBytes }
 *                   | { type: 'output', stream, text } | { type: 'log', level, message }
 */

import { parentPort } from 'node:worker_threads';
import { applySegments, ENGINE_MEMORY_FIELD, ENGINE_MEMORY_MODULE } from './engine-data.mjs';
import { BatchReader } from './http-channel.mjs';
import { createImports } from './wasi-imports.mjs';

/** Longest single log message forwarded; the rest is cut. */
const MAX_LOG_MESSAGE = 8 * 1024;
/** Buffered stdout/stderr is flushed at a newline or this size. */
const OUTPUT_FLUSH = 4 * 1024;
/**
 * Largest result passed to the host, as sizeOver counts it: every result is copied into the host's
 * main thread, where many instances' results meet, so one plugin's page of a million entries must
 * not get there. A real page of media, units or assets is a few hundred kB at most.
 */
const MAX_RESULT_BYTES = 16 * 1024 * 1024;
/**
 * What sizeOver counts for every value besides its own bytes: each string, number, list element and
 * record field is a slot and often an object in the worker, in the structured clone, on the main
 * thread and in the protobuf message, whatever its length, so empty strings are not free.
 */
const VALUE_OVERHEAD = 32;
/** Longest string in a source error's payload (UTF-16 units); a longer message is cut, with a marker. */
const MAX_ERROR_TEXT = 1024;
/** Counted against the output budget for every log message and stdout/stderr write, however short. */
const OUTPUT_MESSAGE_COST = 64;

/**
 * Whether `value` is over `max` bytes, counted as the host will hold it (a string by its length, a
 * byte list by its bytes, and VALUE_OVERHEAD for every value, element and field); stops as soon as it is.
 * @param {unknown} value
 * @param {number} max
 */
function sizeOver(value, max) {
  let size = 0;
  /** @type {unknown[]} */
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    size += VALUE_OVERHEAD;
    if (typeof v === 'string') size += v.length;
    else if (v instanceof Uint8Array) size += v.byteLength;
    else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === 'object') {
      for (const [key, item] of Object.entries(v)) {
        size += key.length;
        stack.push(item);
      }
    }
    if (size > max) return true;
  }
  return false;
}

/**
 * A source error's payload with its text cut to MAX_ERROR_TEXT: the message travels in a status
 * line and its details (gRPC metadata), where a long one breaks clients. A cut URL would be a wrong
 * one, so a URL payload (challenge, domain-moved) over the cap is refused instead (undefined).
 * @param {{ tag: string, val?: unknown }} payload
 */
function boundedSourceError(payload) {
  if (typeof payload.val !== 'string' || payload.val.length <= MAX_ERROR_TEXT) return payload;
  if (payload.tag === 'challenge' || payload.tag === 'domain-moved') return undefined;
  const cut = `${payload.val.slice(0, MAX_ERROR_TEXT)}… (cut at ${MAX_ERROR_TEXT} characters by the host)`;
  return { tag: payload.tag, val: cut };
}

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/**
 * The next message of `type` from the runner; settings posted meanwhile are kept.
 * @param {string} type
 * @returns {Promise<any>}
 */
function fromRunner(type) {
  return new Promise((resolve) => {
    const onMessage = (/** @type {any} */ msg) => {
      if (msg.type === 'settings') settings = msg.settings;
      if (msg.type !== type) return;
      port.off('message', onMessage);
      resolve(msg);
    };
    port.on('message', onMessage);
  });
}

/** @type {Record<string, string>} */
let settings = {};
const waitingForSetup = fromRunner('setup');
// booted: the runner counts this thread as a ready spare from now on
port.postMessage({ type: 'idle' });
const data = (await waitingForSetup).setup;
const httpPort = /** @type {import('node:worker_threads').MessagePort} */ (data.httpPort);
const batches = new BatchReader(data.signal, httpPort);
const signal = batches.words;
/** @type {{ running: SharedArrayBuffer, micros: number, slots: number }} */
const spin = data.spin;
const running = new Int32Array(spin.running);
settings = data.settings;

/** Output budget of the current call: bytes of stdout, stderr and log forwarded, and dropped. */
let budget = data.outputBytesPerCall;
let dropped = 0;
/** @type {{ stdout: string, stderr: string }} */
const buffered = { stdout: '', stderr: '' };
/** @type {string | undefined} */
let exited;

/** @param {'stdout' | 'stderr'} stream */
function flush(stream) {
  if (buffered[stream] === '') return;
  port.postMessage({ type: 'output', stream, text: buffered[stream] });
  buffered[stream] = '';
}

const decoder = new TextDecoder();

/** HTTP events received from the host and not yet handed to the import object. */
/** @typedef {import('./wasi-imports.mjs').HttpEvent} HttpEvent */
/** @type {HttpEvent[]} */
let inbox = [];
let inboxAt = 0;
/** The signal word's value when the port and the mailbox were last found empty. */
let drainedAt = Atomics.load(signal, 0) - 1;
/** @type {import('./wasi-imports.mjs').WasiHost} */
const host = {
  getSetting: (key) => (Object.hasOwn(settings, key) ? settings[key] : undefined),
  log(level, message) {
    const text = message.length > MAX_LOG_MESSAGE ? `${message.slice(0, MAX_LOG_MESSAGE)}…` : message;
    // a fixed cost per message, so the budget bounds the lines (and the messages posted) as well as the bytes
    const cost = text.length + OUTPUT_MESSAGE_COST;
    if (cost > budget) {
      dropped += message.length;
      budget = 0;
      return;
    }
    budget -= cost;
    port.postMessage({ type: 'log', level, message: text });
  },
  output(stream, bytes) {
    // every write costs its fixed share, so a flood of empty or one-byte writes ends the budget too
    budget = Math.max(0, budget - OUTPUT_MESSAGE_COST);
    const take = Math.min(bytes.length, budget);
    dropped += bytes.length - take;
    if (take === 0) return;
    budget -= take;
    buffered[stream] += decoder.decode(bytes.subarray(0, take), { stream: true });
    if (buffered[stream].length >= OUTPUT_FLUSH || buffered[stream].includes('\n')) flush(stream);
  },
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
    // a loopback answer comes back in about 100 µs: checking for it meanwhile saves two thread
    // wake-ups, while no other call needs the core (see SpinGate in source-worker.ts)
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

/** The instance's wasm memories, so each reply can say how big they are. @type {WebAssembly.Memory[]} */
const memories = [];

/** @typedef {import('./source-worker.js').EngineCoreModule} EngineCoreModule */
/** Split core modules handed to the glue, by their engine. @type {Map<WebAssembly.Module, EngineCoreModule>} */
const engines = new Map();

/**
 * @param {WebAssembly.Module} module
 * @param {WebAssembly.Imports} [imports]
 */
async function instantiateCore(module, imports) {
  const engine = engines.get(module);
  if (!engine) {
    const instance = await WebAssembly.instantiate(module, imports);
    for (const value of Object.values(instance.exports)) {
      if (value instanceof WebAssembly.Memory) memories.push(value);
    }
    return instance;
  }
  // what instantiating the whole module did: a memory of its initial size with its data segments
  // written in, before anything of it runs (a split module has no start function)
  const memory = new WebAssembly.Memory({ initial: engine.initialPages, maximum: engine.maximumPages });
  const instance = await WebAssembly.instantiate(module, {
    ...imports,
    [ENGINE_MEMORY_MODULE]: { [ENGINE_MEMORY_FIELD]: memory },
  });
  applySegments(memory.buffer, engine.data);
  memories.push(memory);
  return instance;
}

function memoryBytes() {
  let total = 0;
  for (const memory of memories) total += memory.buffer.byteLength;
  return total;
}

/** @type {Record<string, (...args: unknown[]) => unknown>} */
let api;
/** why the runner should retire this instance after the call, if it should (see createImports) */
/** @type {() => string | undefined} */
let pressure = () => undefined;
try {
  const created = createImports(host);
  const { imports } = created;
  pressure = created.pressure;
  const component = await import(data.componentUrl);
  /** @type {import('./source-worker.js').CoreModules} */
  const modules = data.modules ?? (await fromRunner('modules')).modules;
  const instance = await component.instantiate(
    (/** @type {string} */ name) => {
      const m = modules[name];
      if (!m) throw new Error(`the component asked for an unknown core module ${name}`);
      if (m instanceof WebAssembly.Module) return m;
      // instantiateCore knows a split module by its engine (the cache splits one module per engine)
      const other = engines.get(m.engine);
      if (other && other !== m) throw new Error(`core module ${name} shares its engine with another module`);
      engines.set(m.engine, m);
      return m.engine;
    },
    imports,
    instantiateCore,
  );
  api = instance.sourceApi ?? instance['awasm:source/source-api@0.1.0'];
  if (!api) throw new Error('the component does not export awasm:source/source-api');
  port.postMessage({ type: 'ready' });
} catch (err) {
  port.postMessage({ type: 'init-error', message: describe(err) });
  // nothing more to do: the runner terminates this worker
  throw err;
}

/** @param {unknown} err */
function describe(err) {
  // V8 names a trap by its bare cause ("unreachable"); say that it is the wasm instruction
  if (err instanceof WebAssembly.RuntimeError && err.message === 'unreachable') {
    return 'wasm `unreachable` instruction executed';
  }
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** @param {unknown} payload */
function isVariant(payload) {
  return typeof payload === 'object' && payload !== null && typeof (/** @type {any} */ (payload).tag) === 'string';
}

port.on('message', (/** @type {any} */ msg) => {
  if (msg.type === 'settings') {
    settings = msg.settings;
    return;
  }
  if (msg.type !== 'call') return;
  budget = data.outputBytesPerCall;
  dropped = 0;
  const fn = api[msg.op];
  /** @type {any} */
  let reply;
  if (typeof fn !== 'function') {
    reply = {
      type: 'result',
      id: msg.id,
      ok: false,
      error: { kind: 'refused', message: `unknown operation ${msg.op}` },
    };
  } else {
    try {
      const value = fn.apply(api, msg.args);
      reply = sizeOver(value, MAX_RESULT_BYTES)
        ? {
            type: 'result',
            id: msg.id,
            ok: false,
            error: { kind: 'trap', message: `the plugin returned a result of more than ${MAX_RESULT_BYTES} bytes` },
          }
        : { type: 'result', id: msg.id, ok: true, value };
    } catch (err) {
      const payload = /** @type {any} */ (err)?.payload;
      if (exited) {
        reply = { type: 'result', id: msg.id, ok: false, error: { kind: 'trap', message: exited } };
      } else if (err && typeof err === 'object' && 'payload' in err && isVariant(payload)) {
        const bounded = boundedSourceError(payload);
        reply = bounded
          ? {
              type: 'result',
              id: msg.id,
              ok: false,
              error: { kind: 'source-error', message: String(bounded.tag), sourceError: bounded },
            }
          : {
              type: 'result',
              id: msg.id,
              ok: false,
              error: {
                kind: 'trap',
                message: `the plugin returned a ${payload.tag} error with a URL of more than ${MAX_ERROR_TEXT} characters`,
              },
            };
      } else {
        reply = { type: 'result', id: msg.id, ok: false, error: { kind: 'trap', message: describe(err) } };
      }
    }
  }
  flush('stdout');
  flush('stderr');
  reply.dropped = dropped;
  reply.memoryBytes = memoryBytes();
  // the most handles any of the glue's tables has held (kept there by the runner's patch of the glue)
  reply.handleSlots = /** @type {any} */ (globalThis).__awasmHandleSlots ?? 0;
  const retire = pressure();
  if (retire) reply.retire = retire;
  try {
    port.postMessage(reply);
  } catch (err) {
    port.postMessage({
      type: 'result',
      id: msg.id,
      ok: false,
      dropped,
      error: { kind: 'trap', message: `the result could not be passed to the host: ${describe(err)}` },
    });
  }
});
