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
import { applySegments, ENGINE_MEMORY_FIELD, ENGINE_MEMORY_MODULE } from './engine-data.mjs';
import { BatchReader } from './http-channel.mjs';
import { createImports } from './imports.mjs';
import { FromWorker, ToWorker } from './messages.mjs';

/** @typedef {import('./messages.mjs').HttpEvent} HttpEvent */
/** @typedef {import('./messages.mjs').RunnerMessage} RunnerMessage */
/** @typedef {import('./messages.mjs').WorkerMessage} WorkerMessage */
/** @typedef {import('./messages.mjs').EngineCoreModule} EngineCoreModule */
/** @typedef {import('./messages.mjs').CoreModules} CoreModules */

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
  toRunner({ type: FromWorker.OUTPUT, stream, text: buffered[stream] });
  buffered[stream] = '';
}

const decoder = new TextDecoder();

/** HTTP events received from the host and not yet handed to the import object. @type {HttpEvent[]} */
let inbox = [];
let inboxAt = 0;
/** The signal word's value when the port and the mailbox were last found empty. */
let drainedAt = Atomics.load(signal, 0) - 1;
/** @type {import('./imports.mjs').WasiHost} */
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
    toRunner({ type: FromWorker.LOG, level, message: text });
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
  /** @type {CoreModules} */
  const modules = data.modules ?? (await fromRunner(ToWorker.MODULES)).modules;
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
  toRunner({ type: FromWorker.READY });
} catch (err) {
  toRunner({ type: FromWorker.INIT_ERROR, message: describe(err) });
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

/** @param {unknown} payload @returns {payload is { tag: string, val?: unknown }} */
function isVariant(payload) {
  return typeof payload === 'object' && payload !== null && typeof (/** @type {any} */ (payload).tag) === 'string';
}

/**
 * What calling `op` came to, before the accounting every reply carries.
 * @param {string} op @param {unknown[]} args
 * @returns {{ ok: true, value: unknown } | { ok: false, error: import('./messages.mjs').CallError }}
 */
function callOutcome(op, args) {
  const fn = api[op];
  if (typeof fn !== 'function') return { ok: false, error: { kind: 'refused', message: `unknown operation ${op}` } };
  try {
    const value = fn.apply(api, args);
    if (sizeOver(value, MAX_RESULT_BYTES)) {
      return {
        ok: false,
        error: { kind: 'trap', message: `the plugin returned a result of more than ${MAX_RESULT_BYTES} bytes` },
      };
    }
    return { ok: true, value };
  } catch (err) {
    const payload = /** @type {any} */ (err)?.payload;
    if (exited) return { ok: false, error: { kind: 'trap', message: exited } };
    if (!(err && typeof err === 'object' && 'payload' in err && isVariant(payload))) {
      return { ok: false, error: { kind: 'trap', message: describe(err) } };
    }
    const bounded = boundedSourceError(payload);
    if (!bounded) {
      return {
        ok: false,
        error: {
          kind: 'trap',
          message: `the plugin returned a ${payload.tag} error with a URL of more than ${MAX_ERROR_TEXT} characters`,
        },
      };
    }
    return { ok: false, error: { kind: 'source-error', message: String(bounded.tag), sourceError: bounded } };
  }
}

port.on('message', (/** @type {RunnerMessage} */ msg) => {
  if (msg.type === ToWorker.SETTINGS) {
    settings = msg.settings;
    return;
  }
  if (msg.type !== ToWorker.CALL) return;
  budget = data.outputBytesPerCall;
  dropped = 0;
  const outcome = callOutcome(msg.op, msg.args);
  flush('stdout');
  flush('stderr');
  const retire = pressure();
  /** @type {WorkerMessage} */
  const reply = {
    type: FromWorker.RESULT,
    id: msg.id,
    ...outcome,
    dropped,
    memoryBytes: memoryBytes(),
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
      dropped,
      error: { kind: 'trap', message: `the result could not be passed to the host: ${describe(err)}` },
    });
  }
});
