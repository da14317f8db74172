// @ts-check
/**
 * Every message that crosses between the runner's main thread and a source's worker thread, named
 * once and imported on both sides: the worker protocol (runner <-> worker.mjs, on the worker's own
 * port) and the HTTP channel (SourceHttp <-> the wasi:http imports, on the port given in the setup,
 * plus the shared memory of http-channel.mjs).
 *
 * Each `type` is a string so a message stays readable in a debugger and survives structured clone.
 */

/** The runner to the worker. */
export const ToWorker = Object.freeze({
  /** first message: what the worker instantiates and how it talks to the host */
  SETUP: 'setup',
  /** the compiled core modules, when the setup had none (the worker loads the glue meanwhile) */
  MODULES: 'modules',
  CALL: 'call',
  SETTINGS: 'settings',
});

/** The worker to the runner. */
export const FromWorker = Object.freeze({
  /** booted, waiting for its setup: the runner counts it as a ready spare */
  IDLE: 'idle',
  READY: 'ready',
  INIT_ERROR: 'init-error',
  RESULT: 'result',
  /** the guest's stdout or stderr, flushed at a newline or a size */
  OUTPUT: 'output',
  LOG: 'log',
});

/** The wasi:http imports to SourceHttp, on the HTTP port. */
export const ToHost = Object.freeze({
  REQUEST: 'request',
  /** the guest dropped the request (or its response) */
  ABORT: 'abort',
  /** the guest read or dropped enough response bytes: held-back responses may go on */
  RESUME: 'resume',
});

/** SourceHttp to the wasi:http imports: one request's outcome, in batches (http-channel.mjs). */
export const HttpEventType = Object.freeze({
  HEAD: 'head',
  CHUNK: 'chunk',
  END: 'end',
  ERROR: 'error',
});

/**
 * @typedef {{ tag: string, val?: unknown }} ErrorCode a wasi:http error-code variant as jco passes it
 */

/**
 * What the guest's wasi:http/outgoing-handler.handle posts.
 * @typedef {object} RequestMessage
 * @property {'request'} type
 * @property {number} id
 * @property {string} method
 * @property {string | undefined} scheme
 * @property {string | undefined} authority
 * @property {string | undefined} path
 * @property {Array<[string, Uint8Array]>} headers
 * @property {Uint8Array | null} body
 * @property {{ connectMs?: number, firstByteMs?: number, betweenBytesMs?: number }} timeouts
 */

/**
 * @typedef {RequestMessage | { type: 'abort', id: number } | { type: 'resume' }} HostMessage
 *   what the worker posts on its HTTP port
 */

/**
 * @typedef {{ id: number, type: 'head', status: number, headers: Array<[string, Uint8Array]> }
 *   | { id: number, type: 'chunk', data: Uint8Array }
 *   | { id: number, type: 'end' }
 *   | { id: number, type: 'error', code: ErrorCode }} HttpEvent
 */

/**
 * @typedef {{ seq: number, events: HttpEvent[] }} HttpBatch a batch the host posts when it does not
 *   go into the mailbox
 */

/**
 * A core module split into a shared engine and its own data (engine-split.ts): the worker gives the
 * engine a memory of `initialPages` (growing to at most `maximumPages`) and writes `data` into it
 * before the glue calls anything. `data` is on a SharedArrayBuffer, so instances do not copy it.
 * @typedef {object} EngineCoreModule
 * @property {WebAssembly.Module} engine
 * @property {number} initialPages
 * @property {number} maximumPages
 * @property {Uint8Array} data
 */

/** @typedef {Record<string, WebAssembly.Module | EngineCoreModule>} CoreModules by the name the glue asks for */

/**
 * Shared by the runner and all its workers: calls running now (word 0). A worker waiting for an
 * HTTP answer spins up to `micros` first while at most `slots` calls run.
 * @typedef {object} SpinGate
 * @property {SharedArrayBuffer} running
 * @property {number} micros
 * @property {number} slots
 */

/**
 * @typedef {object} WorkerSetupData
 * @property {string} componentUrl the transpiled glue
 * @property {CoreModules | undefined} modules undefined: they follow in a `modules` message
 * @property {Record<string, string>} settings
 * @property {SharedArrayBuffer} signal the HTTP channel's memory (http-channel.mjs)
 * @property {import('node:worker_threads').MessagePort} httpPort
 * @property {number} maxRequestBodyBytes
 * @property {number} outputBytesPerCall stdout + stderr + log bytes forwarded per call
 * @property {SpinGate} spin
 */

/**
 * @typedef {{ type: 'setup', setup: WorkerSetupData }
 *   | { type: 'modules', modules: CoreModules }
 *   | { type: 'call', id: number, op: string, args: unknown[] }
 *   | { type: 'settings', settings: Record<string, string> }} RunnerMessage what the runner posts
 */

/**
 * @typedef {object} CallError
 * @property {'source-error' | 'trap' | 'refused'} kind
 * @property {string} message
 * @property {{ tag: string, val?: unknown }} [sourceError]
 */

/**
 * A call's outcome. `retire`: why the instance should be retired once this call is answered.
 * `handleSlots`: the most handles any of the glue's tables has held.
 * @typedef {{ ok: true, value: unknown, dropped: number, memoryBytes?: number, handleSlots?: number, retire?: string }
 *   | { ok: false, error: CallError, dropped: number, memoryBytes?: number, handleSlots?: number, retire?: string }} WorkerReply
 */

/**
 * @typedef {{ type: 'idle' } | { type: 'ready' } | { type: 'init-error', message: string }
 *   | ({ type: 'result', id: number } & WorkerReply)
 *   | { type: 'output', stream: 'stdout' | 'stderr', text: string }
 *   | { type: 'log', level: string, message: string }} WorkerMessage what the worker posts
 */
