// @ts-check
/**
 * The shared memory between the main thread's HTTP host and one plugin worker: a signal word the
 * worker blocks on, and a one-batch mailbox for response events.
 *
 * Each turn of the main thread's event loop sends the events it has for the worker as one batch,
 * numbered in order. A batch that fits goes into the mailbox when the worker has emptied it; any
 * other (too big, an error event, or the mailbox still full) goes by the message port. The worker
 * takes batches strictly in number order from either. The mailbox saves a structured clone on
 * both sides and the port's signal to the worker's event loop per response (a few per cent of a
 * loopback GET through the runner; the thread wake-ups themselves are the larger part).
 *
 * Layout (Int32 words, then bytes): [0] signal word, bumped after every batch; [1] 1 while the
 * mailbox holds a batch; [2] that batch's number; [3] its length in bytes; then the batch.
 * Plain ES module with JSDoc: it is loaded by the worker from src/ (under vitest) and from dist/.
 */

import { Buffer } from 'node:buffer';
import { receiveMessageOnPort } from 'node:worker_threads';

const SIGNAL = 0;
const FULL = 1;
const SEQ = 2;
const LENGTH = 3;
const HEADER_BYTES = 16;
/** Largest batch the mailbox takes: a response head and a socket read of body fit. */
export const MAILBOX_BYTES = 128 * 1024;

const HEAD = 1;
const CHUNK = 2;
const END = 3;

/**
 * @typedef {{ id: number, type: 'head', status: number, headers: Array<[string, Uint8Array]> }
 *   | { id: number, type: 'chunk', data: Uint8Array }
 *   | { id: number, type: 'end' }
 *   | { id: number, type: 'error', code: { tag: string, val?: unknown } }} ChannelEvent
 */

/** A fresh signal word and mailbox for one worker. */
export function channelBuffer() {
  return new SharedArrayBuffer(HEADER_BYTES + MAILBOX_BYTES);
}

/**
 * Bytes `events` take in the mailbox, or -1 if one of them cannot go there.
 * @param {ChannelEvent[]} events
 */
function encodedSize(events) {
  let size = 0;
  for (const e of events) {
    size += 5;
    if (e.type === 'head') {
      size += 6;
      for (const [name, value] of e.headers) size += 8 + name.length + value.length;
    } else if (e.type === 'chunk') size += 4 + e.data.length;
    else if (e.type !== 'end') return -1;
  }
  return size;
}

/** The main thread's side: puts batches in the mailbox and wakes the worker. */
export class ChannelWriter {
  /** @type {Int32Array} */ #words;
  /** @type {Buffer | undefined} */ #bytes;

  /** @param {Int32Array} words the worker's signal word; a buffer with room for the mailbox enables it */
  constructor(words) {
    this.#words = new Int32Array(words.buffer, words.byteOffset, Math.min(4, words.length));
    const sab = /** @type {SharedArrayBuffer} */ (words.buffer);
    this.#bytes =
      words.byteOffset === 0 && sab.byteLength > HEADER_BYTES
        ? Buffer.from(sab, HEADER_BYTES, sab.byteLength - HEADER_BYTES)
        : undefined;
  }

  /**
   * Puts batch `seq` in the mailbox if it is empty and the batch fits; false leaves it untouched
   * (the caller posts the batch instead).
   * @param {number} seq @param {ChannelEvent[]} events
   */
  tryPut(seq, events) {
    const bytes = this.#bytes;
    if (!bytes || Atomics.load(this.#words, FULL) !== 0) return false;
    const size = encodedSize(events);
    if (size < 0 || size > bytes.length) return false;
    let at = 0;
    for (const e of events) {
      at = bytes.writeUInt32LE(e.id >>> 0, at);
      if (e.type === 'head') {
        bytes[at++] = HEAD;
        at = bytes.writeUInt16LE(e.status & 0xffff, at);
        at = bytes.writeUInt32LE(e.headers.length, at);
        for (const [name, value] of e.headers) {
          at = bytes.writeUInt32LE(name.length, at);
          at += bytes.write(name, at, name.length, 'latin1');
          at = bytes.writeUInt32LE(value.length, at);
          bytes.set(value, at);
          at += value.length;
        }
      } else if (e.type === 'chunk') {
        bytes[at++] = CHUNK;
        at = bytes.writeUInt32LE(e.data.length, at);
        bytes.set(e.data, at);
        at += e.data.length;
      } else bytes[at++] = END;
    }
    this.#words[SEQ] = seq;
    this.#words[LENGTH] = at;
    // publishes the bytes above to the worker, which reads them only after it sees FULL
    Atomics.store(this.#words, FULL, 1);
    return true;
  }

  /** Wakes the worker: a batch is in the mailbox or on the port. */
  wake() {
    Atomics.add(this.#words, SIGNAL, 1);
    Atomics.notify(this.#words, SIGNAL);
  }
}

/** The worker's side: takes batch number `seq` out of the mailbox, copying everything out. */
export class ChannelReader {
  /** @type {Int32Array} */ #words;
  /** @type {Buffer | undefined} */ #bytes;

  /** @param {SharedArrayBuffer} sab a bare signal word (no mailbox) or a channelBuffer() */
  constructor(sab) {
    this.#words = new Int32Array(sab, 0, Math.min(4, sab.byteLength >> 2));
    this.#bytes = sab.byteLength > HEADER_BYTES ? Buffer.from(sab, HEADER_BYTES) : undefined;
  }

  /** @returns {Int32Array} the signal word (index 0) */
  get words() {
    return this.#words;
  }

  /**
   * Batch `seq` if the mailbox holds it (and empties the mailbox), else undefined.
   * @param {number} seq
   * @returns {ChannelEvent[] | undefined}
   */
  take(seq) {
    const bytes = this.#bytes;
    if (!bytes || Atomics.load(this.#words, FULL) !== 1 || this.#words[SEQ] !== seq) return undefined;
    const end = /** @type {number} */ (this.#words[LENGTH]);
    /** @type {ChannelEvent[]} */
    const events = [];
    let at = 0;
    while (at < end) {
      const id = bytes.readUInt32LE(at);
      const kind = bytes[at + 4];
      at += 5;
      if (kind === HEAD) {
        const status = bytes.readUInt16LE(at);
        const count = bytes.readUInt32LE(at + 2);
        at += 6;
        /** @type {Array<[string, Uint8Array]>} */
        const headers = [];
        for (let i = 0; i < count; i++) {
          const nameLength = bytes.readUInt32LE(at);
          const name = bytes.toString('latin1', at + 4, at + 4 + nameLength);
          at += 4 + nameLength;
          const valueLength = bytes.readUInt32LE(at);
          headers.push([name, copy(bytes, at + 4, valueLength)]);
          at += 4 + valueLength;
        }
        events.push({ id, type: 'head', status, headers });
      } else if (kind === CHUNK) {
        const length = bytes.readUInt32LE(at);
        events.push({ id, type: 'chunk', data: copy(bytes, at + 4, length) });
        at += 4 + length;
      } else if (kind === END) {
        events.push({ id, type: 'end' });
      } else {
        throw new Error(`the HTTP mailbox holds an unknown event kind ${kind}`);
      }
    }
    Atomics.store(this.#words, FULL, 0);
    return events;
  }
}

/**
 * A copy the mailbox can be reused under (a guest may keep a body chunk).
 * @param {Buffer} bytes @param {number} at @param {number} length
 */
function copy(bytes, at, length) {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(at, at + length));
  return out;
}

/**
 * The worker's side of a whole channel: batches in the host's order, from the mailbox or the port
 * (where the host posts `{ seq, events }`), each exactly once.
 */
export class BatchReader {
  /** @type {ChannelReader} */ #mailbox;
  /** @type {import('node:worker_threads').MessagePort} */ #port;
  #next = 0;
  /** batches that came by the port ahead of the one in the mailbox, by number */
  /** @type {Map<number, ChannelEvent[]>} */ #early = new Map();
  /** batches handed out, by the way they came */
  taken = { mailbox: 0, port: 0 };

  /** @param {SharedArrayBuffer} sab @param {import('node:worker_threads').MessagePort} port */
  constructor(sab, port) {
    this.#mailbox = new ChannelReader(sab);
    this.#port = port;
  }

  /** @returns {Int32Array} the signal word (index 0) */
  get words() {
    return this.#mailbox.words;
  }

  /**
   * The next batch, or undefined if it has not come yet.
   * @returns {ChannelEvent[] | undefined}
   */
  next() {
    for (;;) {
      const posted = this.#early.get(this.#next);
      if (posted) {
        this.#early.delete(this.#next++);
        this.taken.port++;
        return posted;
      }
      const boxed = this.#mailbox.take(this.#next);
      if (boxed) {
        this.#next++;
        this.taken.mailbox++;
        return boxed;
      }
      const message = receiveMessageOnPort(this.#port)?.message;
      if (message === undefined) return undefined;
      // this batch or a later one: a batch before it is in the mailbox (the host put it there first)
      this.#early.set(message.seq, message.events);
    }
  }
}
