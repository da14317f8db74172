// @ts-check
/**
 * What of a guest's log and stdout/stderr reaches the host per call: a byte budget that every
 * message and write also pays a fixed cost from, so a flood of empty ones ends it too; the rest is
 * dropped and counted. stdout and stderr are buffered to a newline or a size.
 */

/** Longest single log message forwarded; the rest is cut. */
const MAX_LOG_MESSAGE = 8 * 1024;
/** Buffered stdout/stderr is flushed at a newline or this size. */
const OUTPUT_FLUSH = 4 * 1024;
/** Counted against the output budget for every log message and stdout/stderr write, however short. */
const OUTPUT_MESSAGE_COST = 64;

import { FromWorker } from './messages.mjs';

/** @typedef {import('./messages.mjs').WorkerMessage} WorkerMessage */

export class OutputBudget {
  /** @type {number} */ #perCall;
  /** @type {(message: WorkerMessage) => void} */ #send;
  #budget;
  /** bytes of the current call's output dropped */
  dropped = 0;
  /** @type {{ stdout: string, stderr: string }} */
  #buffered = { stdout: '', stderr: '' };
  #decoder = new TextDecoder();

  /** @param {number} perCall @param {(message: WorkerMessage) => void} send */
  constructor(perCall, send) {
    this.#perCall = perCall;
    this.#send = send;
    this.#budget = perCall;
  }

  /** A new call: a full budget, nothing dropped. */
  startCall() {
    this.#budget = this.#perCall;
    this.dropped = 0;
  }

  /** @param {string} level @param {string} message */
  log(level, message) {
    const text = message.length > MAX_LOG_MESSAGE ? `${message.slice(0, MAX_LOG_MESSAGE)}…` : message;
    // a fixed cost per message, so the budget bounds the lines (and the messages posted) as well as the bytes
    const cost = text.length + OUTPUT_MESSAGE_COST;
    if (cost > this.#budget) {
      this.dropped += message.length;
      this.#budget = 0;
      return;
    }
    this.#budget -= cost;
    this.#send({ type: FromWorker.LOG, level, message: text });
  }

  /** @param {'stdout' | 'stderr'} stream @param {Uint8Array} bytes */
  output(stream, bytes) {
    // every write costs its fixed share, so a flood of empty or one-byte writes ends the budget too
    this.#budget = Math.max(0, this.#budget - OUTPUT_MESSAGE_COST);
    const take = Math.min(bytes.length, this.#budget);
    this.dropped += bytes.length - take;
    if (take === 0) return;
    this.#budget -= take;
    const buffered = this.#buffered;
    buffered[stream] += this.#decoder.decode(bytes.subarray(0, take), { stream: true });
    if (buffered[stream].length >= OUTPUT_FLUSH || buffered[stream].includes('\n')) this.flush(stream);
  }

  /** Sends what `stream` has buffered (all of both at the end of a call). @param {'stdout' | 'stderr'} [stream] */
  flush(stream) {
    if (stream === undefined) {
      this.flush('stdout');
      this.flush('stderr');
      return;
    }
    const text = this.#buffered[stream];
    if (text === '') return;
    this.#send({ type: FromWorker.OUTPUT, stream, text });
    this.#buffered[stream] = '';
  }
}
