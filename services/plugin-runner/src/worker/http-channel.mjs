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
 * The same memory carries the flow control between the two (FlowWords): what the worker has
 * given up of response bodies (so the host holds responses back at MAX_UNREAD_RESPONSE_BYTES per
 * instance), and what the host has sent of request bodies and how many requests it is done with (so
 * the worker refuses bodies past MAX_UNSENT_REQUEST_BYTES and waits at MAX_REQUESTS_IN_HOST). Each
 * is a running total that one side adds to and the other reads, with no message on the hot path.
 *
 * Layout (Int32 words, then bytes): [0] signal word, bumped after every batch; [1] 1 while the
 * mailbox holds a batch; [2] that batch's number; [3] its length in bytes; [4..9] the flow words
 * (see FlowWords); then, from HEADER_BYTES, the batch.
 * Plain ES module with JSDoc: it is loaded by the worker from src/ (under vitest) and from dist/.
 */

import { Buffer } from 'node:buffer';
import { receiveMessageOnPort } from 'node:worker_threads';
import { HttpEventType } from './messages.mjs';

const SIGNAL = 0;
const FULL = 1;
const SEQ = 2;
const LENGTH = 3;
/** worker: response body bytes the guest read or dropped, a running total (mod 2^32) */
const RELEASED = 4;
/** host: 1 while it holds this worker's responses back */
const HELD_BACK = 5;
/** host: the RELEASED total at which the worker asks it to go on */
const RESUME_AT = 6;
/** host: request body bytes written out to the upstream or dropped, a running total (mod 2^32) */
const BODY_DONE = 7;
/** host: requests it is done with (answered, failed, aborted or refused), a running total */
const FINISHED = 8;
/** worker: 1 while it waits for FINISHED to move */
const SLOT_WAIT = 9;
const HEADER_BYTES = 64;

/**
 * Most response body bytes the host has handed to one instance and the guest has not read or
 * dropped yet (in the mailbox, on the port or in the guest's unread bodies). Past it the host pauses
 * that instance's response streams until the guest has read or dropped half of it. Each response is
 * capped by max_response_bytes; without this a guest starting request after request and reading none
 * would grow the host's memory without end.
 */
export const MAX_UNREAD_RESPONSE_BYTES = 64 * 1024 * 1024;
/**
 * Most request body bytes of one instance written and not yet sent: buffered in the worker, or
 * handed to the host and waiting for a slot or for a slow upstream to take them. Each body is capped
 * by max_response_bytes; without this a guest could make the host keep body after body.
 */
export const MAX_UNSENT_REQUEST_BYTES = 64 * 1024 * 1024;
/**
 * Most requests one instance may have handed to the host that the host is not done with (queued,
 * in flight, or dropped but not yet seen to). The guest waits in its own thread at this many, so a
 * plugin that sends and drops requests in a loop cannot flood the host's main thread.
 */
export const MAX_REQUESTS_IN_HOST = 64;
/** Largest batch the mailbox takes: a response head and a socket read of body fit. */
export const MAILBOX_BYTES = 128 * 1024;

const HEAD = 1;
const CHUNK = 2;
const END = 3;

/** @typedef {import('./messages.mjs').HttpEvent} ChannelEvent */

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
    if (e.type === HttpEventType.HEAD) {
      size += 6;
      for (const [name, value] of e.headers) size += 8 + name.length + value.length;
    } else if (e.type === HttpEventType.CHUNK) size += 4 + e.data.length;
    else if (e.type !== HttpEventType.END) return -1;
  }
  return size;
}

/**
 * The flow-control words of one channel (see the layout above). A bare signal word (no room for
 * them) gets words of its own that nobody on the other side sees: tests that drive the host alone.
 * Totals are Int32 words that wrap; differences of them are taken with `| 0`, exact while what they
 * count stays under 2 GiB (each is bounded by a cap far below that).
 */
export class FlowWords {
  /** @type {Int32Array} */ #words;
  /** @type {Int32Array} */ #signal;

  /** @param {SharedArrayBuffer | ArrayBufferLike} sab */
  constructor(sab) {
    const shared = sab.byteLength >= HEADER_BYTES ? sab : new SharedArrayBuffer(HEADER_BYTES);
    this.#words = new Int32Array(shared, 0, HEADER_BYTES >> 2);
    this.#signal = new Int32Array(sab, 0, 1);
  }

  // --- the host's side

  /** Response body bytes the guest has given up so far (a running total). */
  released() {
    return Atomics.load(this.#words, RELEASED);
  }

  /**
   * Marks the worker's responses held back until RELEASED reaches `resumeAt` (then the worker posts
   * `{ type: 'resume' }`). False if it already has: nothing to wait for.
   * @param {number} resumeAt
   */
  holdBack(resumeAt) {
    const w = this.#words;
    Atomics.store(w, RESUME_AT, resumeAt | 0);
    Atomics.store(w, HELD_BACK, 1);
    // the guest may have read past it before it saw the flag: then no resume would come
    if (((Atomics.load(w, RELEASED) - resumeAt) | 0) >= 0 && Atomics.compareExchange(w, HELD_BACK, 1, 0) === 1) {
      return false;
    }
    return true;
  }

  /** The host goes on sending (it was told to, or it gave up waiting). */
  clearHoldBack() {
    Atomics.store(this.#words, HELD_BACK, 0);
  }

  /** @param {number} bytes request body bytes written out or dropped */
  bodyDone(bytes) {
    Atomics.add(this.#words, BODY_DONE, bytes);
  }

  /** One more request the host is done with; wakes the worker if it waits for that. */
  requestFinished() {
    const w = this.#words;
    Atomics.add(w, FINISHED, 1);
    if (Atomics.load(w, SLOT_WAIT) === 1) {
      Atomics.store(w, SLOT_WAIT, 0);
      Atomics.add(this.#signal, 0, 1);
      Atomics.notify(this.#signal, 0);
    }
  }

  // --- the worker's side

  /**
   * The guest read or dropped `bytes` of response bodies. True when the host held responses back
   * and may go on now: the caller posts `{ type: 'resume' }` (once; the flag is cleared here).
   * @param {number} bytes
   */
  release(bytes) {
    const w = this.#words;
    const total = Atomics.add(w, RELEASED, bytes) + bytes;
    return (
      Atomics.load(w, HELD_BACK) === 1 &&
      ((total - Atomics.load(w, RESUME_AT)) | 0) >= 0 &&
      Atomics.compareExchange(w, HELD_BACK, 1, 0) === 1
    );
  }

  /** Whether the host is holding this worker's responses back. */
  heldBack() {
    return Atomics.load(this.#words, HELD_BACK) === 1;
  }

  /** Request body bytes the host has written out or dropped so far (a running total). */
  bodyBytesDone() {
    return Atomics.load(this.#words, BODY_DONE);
  }

  /** Requests the host is done with so far (a running total). */
  finishedRequests() {
    return Atomics.load(this.#words, FINISHED);
  }

  /** @param {boolean} waiting the worker is about to wait for FINISHED to move (or no longer is) */
  waitingForSlot(waiting) {
    Atomics.store(this.#words, SLOT_WAIT, waiting ? 1 : 0);
  }
}

/** The worker thread's channel (one per thread), for the import object; see threadFlow(). */
/** @type {FlowWords | undefined} */
let threadFlowWords;

/**
 * The flow words of this worker thread's channel: the BatchReader the worker made for its setup
 * registers them, so the import object reaches them without the worker passing them along.
 */
export function threadFlow() {
  return threadFlowWords;
}

/** The main thread's side: puts batches in the mailbox and wakes the worker. */
export class ChannelWriter {
  /** @type {Int32Array} */ #words;
  /** @type {Buffer | undefined} */ #bytes;
  /** @type {FlowWords} */ flow;

  /** @param {Int32Array} words the worker's signal word; a buffer with room for the mailbox enables it */
  constructor(words) {
    this.#words = new Int32Array(words.buffer, words.byteOffset, Math.min(4, words.length));
    const sab = /** @type {SharedArrayBuffer} */ (words.buffer);
    this.#bytes =
      words.byteOffset === 0 && sab.byteLength > HEADER_BYTES
        ? Buffer.from(sab, HEADER_BYTES, sab.byteLength - HEADER_BYTES)
        : undefined;
    this.flow = new FlowWords(words.byteOffset === 0 ? sab : new SharedArrayBuffer(4));
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
      if (e.type === HttpEventType.HEAD) {
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
      } else if (e.type === HttpEventType.CHUNK) {
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
        events.push({ id, type: HttpEventType.HEAD, status, headers });
      } else if (kind === CHUNK) {
        const length = bytes.readUInt32LE(at);
        events.push({ id, type: HttpEventType.CHUNK, data: copy(bytes, at + 4, length) });
        at += 4 + length;
      } else if (kind === END) {
        events.push({ id, type: HttpEventType.END });
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

  /** @type {FlowWords} */ flow;

  /** @param {SharedArrayBuffer} sab @param {import('node:worker_threads').MessagePort} port */
  constructor(sab, port) {
    this.#mailbox = new ChannelReader(sab);
    this.#port = port;
    this.flow = new FlowWords(sab);
    threadFlowWords = this.flow;
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
      /** @type {import('./messages.mjs').HttpBatch | undefined} */
      const message = receiveMessageOnPort(this.#port)?.message;
      if (message === undefined) return undefined;
      // this batch or a later one: a batch before it is in the mailbox (the host put it there first)
      this.#early.set(message.seq, message.events);
    }
  }
}
