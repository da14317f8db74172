// @ts-check
/**
 * wasi:io (error, poll, streams): in-memory streams and pollables. A blocking wait drains the host's
 * HTTP events, checks, and sleeps on the channel's signal word, in slices so termination is seen.
 */

import { INTERNAL, symbolDispose, trap } from './internal.mjs';

/** @typedef {import('../messages.mjs').HttpEvent} HttpEvent */
/** @typedef {import('../messages.mjs').ErrorCode} Variant */
/** @typedef {import('../imports.mjs').WasiHost} WasiHost */

/** Largest single read the host hands to a guest, and the write window it advertises. */
export const IO_CHUNK = 1024 * 1024;
/** How long one blocking wait sleeps before it looks again (termination is checked between slices). */
const WAIT_SLICE_MS = 50;

export class IoError {
  /** @type {string} */ #message;
  /** @type {Variant | undefined} */ #httpCode;

  /** @param {symbol} token @param {string} message @param {Variant} [httpCode] */
  constructor(token, message, httpCode) {
    if (token !== INTERNAL) throw trap('wasi:io/error.error has no constructor');
    this.#message = message;
    this.#httpCode = httpCode;
  }

  toDebugString() {
    return this.#message;
  }

  /** @param {IoError} err */
  static httpCodeOf(err) {
    return err.#httpCode;
  }
}
/** @param {string} message @param {Variant} [httpCode] */
export function ioError(message, httpCode) {
  return new IoError(INTERNAL, message, httpCode);
}
/** @param {string} message @param {Variant} [httpCode] */
export function streamFailed(message, httpCode) {
  return { tag: 'last-operation-failed', val: ioError(message, httpCode) };
}

/**
 * Why a wait can never end (a trap message), or undefined: a response body that can only come once
 * the guest reads or drops others (see Waiter).
 * @typedef {() => string | undefined} Starved
 */

export class Pollable {
  /** @type {() => boolean} */ #ready;
  /** @type {bigint | undefined} */ #deadline;
  /** @type {Waiter} */ #waiter;
  /** @type {Starved | undefined} */ #starved;

  /**
   * @param {symbol} token @param {Waiter} waiter @param {() => boolean} ready @param {bigint} [deadline]
   * @param {Starved} [starved]
   */
  constructor(token, waiter, ready, deadline, starved) {
    if (token !== INTERNAL) throw trap('wasi:io/poll.pollable has no constructor');
    this.#waiter = waiter;
    this.#ready = ready;
    this.#deadline = deadline;
    this.#starved = starved;
  }

  ready() {
    this.#waiter.drain();
    return this.#ready();
  }

  block() {
    this.#waiter.waitUntil(this.#ready, this.#deadline, this.#starved);
  }

  /** @param {Pollable} p */
  static parts(p) {
    return { ready: p.#ready, deadline: p.#deadline, starved: p.#starved };
  }
}

/**
 * Blocking waits: drain host events, check, sleep on the signal word, repeat. A wait only for what
 * the host holds back until the guest reads or drops other response bodies can never end: it traps
 * at once, naming the cap, instead of sleeping until the call's deadline.
 */
export class Waiter {
  /** @type {WasiHost} */ #host;
  /** @type {(event: HttpEvent) => void} */ #apply;

  /** @param {WasiHost} host @param {(event: HttpEvent) => void} apply */
  constructor(host, apply) {
    this.#host = host;
    this.#apply = apply;
  }

  drain() {
    for (let event = this.#host.receive(); event !== undefined; event = this.#host.receive()) this.#apply(event);
  }

  /**
   * @param {() => boolean} ready @param {bigint} [deadline] monotonic ns after which `ready` is true by itself
   * @param {Starved} [starved]
   */
  waitUntil(ready, deadline, starved) {
    for (;;) {
      const seen = this.#host.signalValue();
      this.drain();
      if (ready()) return;
      const never = deadline === undefined ? starved?.() : undefined;
      if (never) throw trap(never);
      this.#host.wait(seen, sliceUntil(deadline));
    }
  }

  /** @param {Pollable[]} list */
  poll(list) {
    if (list.length === 0) throw trap('wasi:io/poll.poll called with an empty list');
    const parts = list.map((p) => Pollable.parts(p));
    const starvable = parts.every((part) => part.starved !== undefined && part.deadline === undefined);
    for (;;) {
      const seen = this.#host.signalValue();
      this.drain();
      /** @type {number[]} */
      const ready = [];
      let deadline;
      for (let i = 0; i < parts.length; i++) {
        const part = /** @type {{ ready: () => boolean, deadline: bigint | undefined }} */ (parts[i]);
        if (part.ready()) ready.push(i);
        if (part.deadline !== undefined && (deadline === undefined || part.deadline < deadline)) {
          deadline = part.deadline;
        }
      }
      if (ready.length > 0) return Uint32Array.from(ready);
      if (starvable) {
        const reasons = parts.map((part) => part.starved?.());
        if (reasons.every((reason) => reason !== undefined)) throw trap(/** @type {string} */ (reasons[0]));
      }
      this.#host.wait(seen, sliceUntil(deadline));
    }
  }
}

/** @param {bigint | undefined} deadline */
function sliceUntil(deadline) {
  if (deadline === undefined) return WAIT_SLICE_MS;
  const ms = Number(deadline - process.hrtime.bigint()) / 1e6;
  return Math.max(0, Math.min(WAIT_SLICE_MS, Math.ceil(ms)));
}

/**
 * @typedef {object} Source
 * @property {() => boolean} ready
 * @property {(max: number) => Uint8Array | 'closed' | { error: IoError }} read
 * @property {() => void} [dispose]
 * @property {Starved} [starved]
 */

export class InputStream {
  /** @type {Source} */ #source;
  /** @type {Waiter} */ #waiter;

  /** @param {symbol} token @param {Waiter} waiter @param {Source} source */
  constructor(token, waiter, source) {
    if (token !== INTERNAL) throw trap('wasi:io/streams.input-stream has no constructor');
    this.#waiter = waiter;
    this.#source = source;
  }

  /** @param {bigint} len */
  read(len) {
    this.#waiter.drain();
    const r = this.#source.read(Math.min(Number(len), IO_CHUNK));
    if (r === 'closed') throw { tag: 'closed' };
    if ('error' in r) throw { tag: 'last-operation-failed', val: r.error };
    return r;
  }

  /** @param {bigint} len */
  blockingRead(len) {
    this.#waiter.waitUntil(this.#source.ready, undefined, this.#source.starved);
    return this.read(len);
  }

  /** @param {bigint} len */
  skip(len) {
    return BigInt(this.read(len).length);
  }

  /** @param {bigint} len */
  blockingSkip(len) {
    return BigInt(this.blockingRead(len).length);
  }

  subscribe() {
    return new Pollable(INTERNAL, this.#waiter, this.#source.ready, undefined, this.#source.starved);
  }

  [symbolDispose]() {
    this.#source.dispose?.();
  }
}

/**
 * @typedef {object} Sink
 * @property {(bytes: Uint8Array) => void} write throws a stream-error
 * @property {() => number} capacity
 * @property {() => boolean} closed
 */

export class OutputStream {
  /** @type {Sink} */ #sink;
  /** @type {Waiter} */ #waiter;

  /** @param {symbol} token @param {Waiter} waiter @param {Sink} sink */
  constructor(token, waiter, sink) {
    if (token !== INTERNAL) throw trap('wasi:io/streams.output-stream has no constructor');
    this.#waiter = waiter;
    this.#sink = sink;
  }

  #open() {
    if (this.#sink.closed()) throw { tag: 'closed' };
  }

  checkWrite() {
    this.#open();
    return BigInt(this.#sink.capacity());
  }

  /** @param {Uint8Array} contents */
  write(contents) {
    this.#open();
    if (contents.length > this.#sink.capacity()) throw streamFailed('write larger than check-write allowed');
    this.#sink.write(contents);
  }

  /** @param {Uint8Array} contents */
  blockingWriteAndFlush(contents) {
    this.write(contents);
  }

  flush() {
    this.#open();
  }

  blockingFlush() {
    this.#open();
  }

  subscribe() {
    return new Pollable(INTERNAL, this.#waiter, () => true);
  }

  /** @param {bigint} len */
  writeZeroes(len) {
    this.#open();
    if (len > BigInt(this.#sink.capacity())) throw streamFailed('write larger than check-write allowed');
    this.#sink.write(new Uint8Array(Number(len)));
  }

  /** @param {bigint} len */
  blockingWriteZeroesAndFlush(len) {
    this.writeZeroes(len);
  }

  /** @param {InputStream} src @param {bigint} len */
  splice(src, len) {
    this.#open();
    const bytes = src.read(BigInt(Math.min(Number(len), this.#sink.capacity())));
    this.#sink.write(bytes);
    return BigInt(bytes.length);
  }

  /** @param {InputStream} src @param {bigint} len */
  blockingSplice(src, len) {
    this.#open();
    const bytes = src.blockingRead(BigInt(Math.min(Number(len), this.#sink.capacity())));
    this.#sink.write(bytes);
    return BigInt(bytes.length);
  }

  [symbolDispose]() {}
}

/** @type {Source} */
export const EMPTY_SOURCE = { ready: () => true, read: () => 'closed' };

/**
 * The wasi:io interfaces, keyed as jco's instantiate() expects.
 * @param {Waiter} waiter
 */
export function ioImports(waiter) {
  return {
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': {
      Pollable,
      /** @param {Pollable[]} list */
      poll: (list) => waiter.poll(list),
    },
    'wasi:io/streams': { InputStream, OutputStream },
  };
}
