// @ts-check
/**
 * wasi:http (types, outgoing-handler): a request is checked as the guest builds it, posted to the
 * main thread (SourceHttp) when sent, and its response comes back as events read synchronously
 * (HttpClient). What one instance makes the host hold is capped on this side too: unsent request
 * bodies, unread response bodies and requests in the host (http-channel.mjs).
 */

import { isRefusedHeader, TOKEN } from '../header-rules.mjs';
import { MAX_REQUESTS_IN_HOST, MAX_UNREAD_RESPONSE_BYTES, MAX_UNSENT_REQUEST_BYTES } from '../http-channel.mjs';
import { HttpEventType, ToHost } from '../messages.mjs';
import { INTERNAL, symbolDispose, trap } from './internal.mjs';
import { InputStream, IO_CHUNK, IoError, ioError, OutputStream, Pollable, streamFailed } from './io.mjs';

/** @typedef {import('../messages.mjs').ErrorCode} Variant */
/** @typedef {import('../messages.mjs').HttpEvent} HttpEvent */
/** @typedef {import('../messages.mjs').RequestMessage} HttpRequestMessage */
/** @typedef {import('../http-channel.mjs').FlowWords} FlowWords */
/** @typedef {import('../imports.mjs').WasiHost} WasiHost */
/** @typedef {import('./io.mjs').Waiter} Waiter */
/** @typedef {import('./io.mjs').Source} Source */
/** @typedef {import('./io.mjs').Sink} Sink */

/**
 * Most bytes one fields resource may hold (names + values + 4 per entry, as the host counts a request's
 * header section, which it refuses over this size anyway). The values live outside the worker's JS
 * heap, so only a cap like this one keeps a guest appending in a loop from growing the host's memory.
 */
const MAX_FIELDS_BYTES = 64 * 1024;
/**
 * Longest timeout handed to the host, in ms: the most Node's timers take (longer ones become 1 ms,
 * with a warning). The host cuts every request timeout to the call's deadline anyway.
 */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** @param {string} name @param {Uint8Array} value */
function checkField(name, value) {
  if (!TOKEN.test(name)) throw { tag: 'invalid-syntax' };
  for (const b of value) {
    if (b === 0x00 || b === 0x0a || b === 0x0d) throw { tag: 'invalid-syntax' };
  }
  if (isRefusedHeader(name)) throw { tag: 'forbidden' };
}

class Fields {
  /** @type {Array<[string, Uint8Array]>} */ #entries = [];
  #immutable = false;
  /** bytes held, counted as MAX_FIELDS_BYTES says */
  #bytes = 0;

  /** @param {Array<[string, Uint8Array]>} entries */
  #replace(entries) {
    let bytes = 0;
    for (const [n, v] of entries) bytes += n.length + v.length + 4;
    if (bytes > MAX_FIELDS_BYTES) throw trap(`a fields resource would hold ${bytes} bytes, over ${MAX_FIELDS_BYTES}`);
    this.#entries = entries;
    this.#bytes = bytes;
  }

  /** @param {Array<[string, Uint8Array]>} entries */
  static fromList(entries) {
    const f = new Fields();
    for (const [name, value] of entries) f.append(name, value);
    return f;
  }

  /** Fields from a response: already checked by the host's HTTP parser, and immutable. */
  /** @param {Array<[string, Uint8Array]>} entries */
  static _trusted(entries) {
    const f = new Fields();
    f.#replace(entries.map(([n, v]) => [n, v]));
    f.#immutable = true;
    return f;
  }

  /** @param {Fields} f */
  static _lock(f) {
    f.#immutable = true;
    return f;
  }

  #mutable() {
    if (this.#immutable) throw { tag: 'immutable' };
  }

  /** @param {string} name */
  get(name) {
    const lower = name.toLowerCase();
    return this.#entries.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  }

  /** @param {string} name */
  has(name) {
    const lower = name.toLowerCase();
    return this.#entries.some(([n]) => n.toLowerCase() === lower);
  }

  /** @param {string} name @param {Uint8Array[]} values */
  set(name, values) {
    this.#mutable();
    for (const v of values) checkField(name, v);
    if (values.length === 0) checkField(name, new Uint8Array());
    const lower = name.toLowerCase();
    const kept = this.#entries.filter(([n]) => n.toLowerCase() !== lower);
    this.#replace([...kept, ...values.map((v) => /** @type {[string, Uint8Array]} */ ([name, v.slice()]))]);
  }

  /** @param {string} name */
  delete(name) {
    this.#mutable();
    if (!TOKEN.test(name)) throw { tag: 'invalid-syntax' };
    const lower = name.toLowerCase();
    this.#replace(this.#entries.filter(([n]) => n.toLowerCase() !== lower));
  }

  /** @param {string} name @param {Uint8Array} value */
  append(name, value) {
    this.#mutable();
    checkField(name, value);
    const bytes = this.#bytes + name.length + value.length + 4;
    if (bytes > MAX_FIELDS_BYTES) throw trap(`a fields resource would hold ${bytes} bytes, over ${MAX_FIELDS_BYTES}`);
    this.#entries.push([name, value.slice()]);
    this.#bytes = bytes;
  }

  entries() {
    return this.#entries.map(([n, v]) => /** @type {[string, Uint8Array]} */ ([n, v.slice()]));
  }

  clone() {
    const f = new Fields();
    f.#replace(this.entries());
    return f;
  }

  [symbolDispose]() {}
}

class RequestOptions {
  /** @type {bigint | undefined} */ #connect;
  /** @type {bigint | undefined} */ #firstByte;
  /** @type {bigint | undefined} */ #betweenBytes;

  connectTimeout() {
    return this.#connect;
  }
  /** @param {bigint | undefined} d */
  setConnectTimeout(d) {
    this.#connect = d;
  }
  firstByteTimeout() {
    return this.#firstByte;
  }
  /** @param {bigint | undefined} d */
  setFirstByteTimeout(d) {
    this.#firstByte = d;
  }
  betweenBytesTimeout() {
    return this.#betweenBytes;
  }
  /** @param {bigint | undefined} d */
  setBetweenBytesTimeout(d) {
    this.#betweenBytes = d;
  }

  /** @param {RequestOptions | undefined} o */
  static millis(o) {
    /** @param {bigint | undefined} ns */
    const ms = (ns) => (ns === undefined ? undefined : Math.min(MAX_TIMEOUT_MS, Math.max(1, Number(ns / 1_000_000n))));
    return o ? { connectMs: ms(o.#connect), firstByteMs: ms(o.#firstByte), betweenBytesMs: ms(o.#betweenBytes) } : {};
  }
}

/**
 * Request body bytes of one instance written and not yet sent or discarded (see
 * MAX_UNSENT_REQUEST_BYTES): in the worker, and handed to the host until it reports them written
 * out or dropped.
 */
class UnsentBytes {
  /** written into bodies not handed to the host yet */
  bytes = 0;
  /** handed to the host, a running total compared with the host's (mod 2^32) */
  handedOver = 0;
  /** @param {number} limit @param {FlowWords} flow */
  constructor(limit, flow) {
    this.limit = limit;
    this.flow = flow;
  }

  held() {
    return this.bytes + ((this.handedOver - this.flow.bodyBytesDone()) | 0);
  }
}

/** The body a plugin writes for a request: buffered, capped, sent when finished. */
class OutgoingBody {
  /** @type {Uint8Array[]} */ #chunks = [];
  #size = 0;
  #streamTaken = false;
  #finished = false;
  /** its bytes no longer count as unsent: sent, or the request can no longer be sent */
  #released = false;
  #limit;
  /** @type {Waiter} */ #waiter;
  /** @type {UnsentBytes} */ #unsent;
  /** @type {(() => void) | undefined} */ #onFinish;

  /** @param {symbol} token @param {Waiter} waiter @param {number} limit @param {UnsentBytes} unsent */
  constructor(token, waiter, limit, unsent) {
    if (token !== INTERNAL) throw trap('wasi:http/types.outgoing-body has no constructor');
    this.#waiter = waiter;
    this.#limit = limit;
    this.#unsent = unsent;
  }

  write() {
    if (this.#streamTaken || this.#finished) throw undefined;
    this.#streamTaken = true;
    /** @type {Sink} */
    const sink = {
      // a released body (its request sent, or dropped) takes no more bytes
      closed: () => this.#finished || this.#released,
      capacity: () => Math.max(0, Math.min(IO_CHUNK, this.#limit - this.#size + 1)),
      write: (bytes) => {
        if (this.#size + bytes.length > this.#limit) {
          throw streamFailed(`request body over ${this.#limit} bytes`, {
            tag: 'HTTP-request-body-size',
            val: BigInt(this.#size + bytes.length),
          });
        }
        if (this.#unsent.held() + bytes.length > this.#unsent.limit) {
          // not sent: written here, or handed to the host and not yet written out to the upstream
          throw trap(`the plugin holds more than ${this.#unsent.limit} bytes of request bodies it has not sent`);
        }
        this.#chunks.push(bytes.slice());
        this.#size += bytes.length;
        this.#unsent.bytes += bytes.length;
      },
    };
    return new OutputStream(INTERNAL, this.#waiter, sink);
  }

  /** @param {OutgoingBody} body @param {Fields | undefined} trailers */
  static finish(body, trailers) {
    if (body.#finished) throw { tag: 'internal-error', val: 'body already finished' };
    if (trailers) throw { tag: 'internal-error', val: 'request trailers are not supported' };
    body.#finished = true;
    body.#onFinish?.();
  }

  /**
   * The body's bytes, once, as they are handed to the host: they count as unsent until the host
   * reports them written out or dropped. @param {OutgoingBody} body
   */
  static handOver(body) {
    const size = body.#size;
    const chunks = body.#chunks;
    OutgoingBody.release(body);
    if (size === 0) return null;
    body.#unsent.handedOver = (body.#unsent.handedOver + size) | 0;
    const out = new Uint8Array(size);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  /** Drops the body's bytes from the instance's unsent total (and from memory). @param {OutgoingBody} body */
  static release(body) {
    if (body.#released) return;
    body.#released = true;
    body.#unsent.bytes -= body.#size;
    body.#chunks = [];
  }

  /** @param {OutgoingBody} body */
  static isFinished(body) {
    return body.#finished;
  }

  /** @param {OutgoingBody} body @param {() => void} fn */
  static onFinish(body, fn) {
    body.#onFinish = fn;
  }

  // dropped unfinished, its request can never be sent
  [symbolDispose]() {
    if (!this.#finished) OutgoingBody.release(this);
  }
}

/**
 * The request class is made per import object: its bodies need that object's waiter, limit and
 * unsent total.
 * @param {Waiter} waiter
 * @param {number} bodyLimit
 * @param {UnsentBytes} unsent
 */
function defineOutgoingRequest(waiter, bodyLimit, unsent) {
  class OutgoingRequest {
    /** @type {Variant} */ #method = { tag: 'get' };
    /** @type {Variant | undefined} */ #scheme;
    /** @type {string | undefined} */ #authority;
    /** @type {string | undefined} */ #path;
    /** @type {Fields} */ #headers;
    /** @type {OutgoingBody} */ #body;
    #bodyTaken = false;
    #sent = false;

    /** @param {Fields} headers */
    constructor(headers) {
      this.#headers = Fields._lock(headers);
      this.#body = new OutgoingBody(INTERNAL, waiter, bodyLimit, unsent);
    }

    body() {
      if (this.#bodyTaken) throw undefined;
      this.#bodyTaken = true;
      return this.#body;
    }
    method() {
      return this.#method;
    }
    /** @param {Variant} method */
    setMethod(method) {
      if (method.tag === 'other' && !TOKEN.test(String(method.val))) throw undefined;
      this.#method = method;
    }
    pathWithQuery() {
      return this.#path;
    }
    /** @param {string | undefined} path */
    setPathWithQuery(path) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
      if (path !== undefined && /[\x00-\x20\x7f]/.test(path)) throw undefined;
      this.#path = path;
    }
    scheme() {
      return this.#scheme;
    }
    /** @param {Variant | undefined} scheme */
    setScheme(scheme) {
      this.#scheme = scheme;
    }
    authority() {
      return this.#authority;
    }
    /** @param {string | undefined} authority */
    setAuthority(authority) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
      if (authority !== undefined && /[\x00-\x20\x7f]/.test(authority)) throw undefined;
      this.#authority = authority;
    }
    headers() {
      return this.#headers;
    }

    /** @param {OutgoingRequest} r @param {RequestOptions | undefined} options @param {number} id */
    static message(r, options, id) {
      if (r.#sent) throw { tag: 'internal-error', val: 'request already sent' };
      r.#sent = true;
      const m = r.#method;
      const method = m.tag === 'other' ? String(m.val) : m.tag.toUpperCase();
      const s = r.#scheme;
      const scheme =
        s === undefined ? undefined : s.tag === 'other' ? String(s.val).toLowerCase() : s.tag.toLowerCase();
      /** @type {HttpRequestMessage} */
      const message = {
        type: ToHost.REQUEST,
        id,
        method,
        scheme,
        authority: r.#authority,
        path: r.#path,
        headers: r.#headers.entries(),
        body: null,
        timeouts: RequestOptions.millis(options),
      };
      return { message, body: r.#bodyTaken ? r.#body : undefined };
    }

    // dropped unsent
    [symbolDispose]() {
      if (!this.#sent) OutgoingBody.release(this.#body);
    }
  }
  return OutgoingRequest;
}

/**
 * @typedef {object} Pending
 * @property {number} id
 * @property {{ status: number, headers: Array<[string, Uint8Array]> } | undefined} head
 * @property {Variant | undefined} error error before the head
 * @property {Variant | undefined} bodyError error after the head
 * @property {Uint8Array[]} chunks
 * @property {boolean} ended
 * @property {boolean} aborted
 */

export class HttpClient {
  /** @type {Map<number, Pending>} */ pending = new Map();
  nextId = 1;
  /** @type {WasiHost} */ host;
  /**
   * response body bytes received and not yet read or discarded; the host holds responses back at
   * maxUnread of them and what is still on the way (see MAX_UNREAD_RESPONSE_BYTES)
   */
  unread = 0;
  maxUnread = MAX_UNREAD_RESPONSE_BYTES;
  /** @type {FlowWords} */ flow;
  /** requests handed to the host, a running total compared with the host's FINISHED (mod 2^32) */
  handedOver = 0;
  maxInHost = MAX_REQUESTS_IN_HOST;

  /** @param {WasiHost} host @param {FlowWords} flow */
  constructor(host, flow) {
    this.host = host;
    this.flow = flow;
    this.maxUnread = host.maxUnreadResponseBytes ?? MAX_UNREAD_RESPONSE_BYTES;
    this.maxInHost = host.maxRequestsInHost ?? MAX_REQUESTS_IN_HOST;
  }

  /** Requests the host has and is not done with. */
  inHost() {
    return (this.handedOver - this.flow.finishedRequests()) | 0;
  }

  /** @param {HttpEvent} e */
  apply(e) {
    const p = this.pending.get(e.id);
    if (!p) {
      // a body chunk of a request the guest dropped meanwhile: given up at once
      if (e.type === HttpEventType.CHUNK) this.#release(e.data.length);
      return;
    }
    if (e.type === HttpEventType.HEAD) p.head = { status: e.status, headers: e.headers };
    else if (e.type === HttpEventType.CHUNK) {
      p.chunks.push(e.data);
      this.unread += e.data.length;
    } else if (e.type === HttpEventType.END) p.ended = true;
    else if (e.type === HttpEventType.ERROR) {
      if (p.head) p.bodyError = e.code;
      else p.error = e.code;
      p.ended = true;
    }
  }

  /** @param {number} bytes */
  consumed(bytes) {
    this.unread -= bytes;
    this.#release(bytes);
  }

  /** @param {number} bytes given up by the guest: the host counts them no more */
  #release(bytes) {
    if (this.flow.release(bytes)) this.host.post({ type: ToHost.RESUME });
  }

  /** @param {Pending} p */
  abort(p) {
    if (p.aborted) return;
    p.aborted = true;
    let dropped = 0;
    for (const c of p.chunks.splice(0)) dropped += c.length;
    this.unread -= dropped;
    if (dropped > 0) this.#release(dropped);
    this.pending.delete(p.id);
    if (!p.ended) this.host.post({ type: ToHost.ABORT, id: p.id });
  }

  /**
   * Why waiting for more of `p` (its head, or its body) cannot end, if it cannot: the host holds
   * this instance's responses back until the guest reads or drops others (and a request waiting for
   * a slot gets none while paused responses hold them), and `p` has nothing to hand out.
   * @param {Pending} p
   */
  starved(p) {
    if (p.chunks.length > 0 || p.ended || p.aborted || p.error !== undefined || !this.flow.heldBack()) return undefined;
    return this.overCap();
  }

  overCap() {
    return `the plugin left more than ${this.maxUnread} bytes of response bodies unread`;
  }

  /**
   * Blocks while the host has maxInHost of this instance's requests it is not done with (each ends
   * by the call's deadline at the latest; a dropped one as soon as the host sees the drop).
   * @param {Waiter} waiter
   */
  waitForRoom(waiter) {
    if (this.inHost() < this.maxInHost) return;
    this.flow.waitingForSlot(true);
    try {
      waiter.waitUntil(() => this.inHost() < this.maxInHost);
    } finally {
      this.flow.waitingForSlot(false);
    }
  }
}

class FutureIncomingResponse {
  /** @type {Pending} */ #p;
  /** @type {HttpClient} */ #client;
  /** @type {Waiter} */ #waiter;
  #taken = false;

  /** @param {symbol} token @param {HttpClient} client @param {Waiter} waiter @param {Pending} p */
  constructor(token, client, waiter, p) {
    if (token !== INTERNAL) throw trap('wasi:http/types.future-incoming-response has no constructor');
    this.#client = client;
    this.#waiter = waiter;
    this.#p = p;
  }

  subscribe() {
    const p = this.#p;
    const client = this.#client;
    return new Pollable(
      INTERNAL,
      this.#waiter,
      () => p.head !== undefined || p.error !== undefined || p.aborted,
      undefined,
      () => (p.head === undefined ? client.starved(p) : undefined),
    );
  }

  get() {
    this.#waiter.drain();
    const p = this.#p;
    if (this.#taken) return { tag: 'err', val: undefined };
    if (p.error) {
      this.#taken = true;
      this.#client.pending.delete(p.id);
      return { tag: 'ok', val: { tag: 'err', val: p.error } };
    }
    if (p.head) {
      this.#taken = true;
      const response = new IncomingResponse(INTERNAL, this.#client, this.#waiter, p);
      return { tag: 'ok', val: { tag: 'ok', val: response } };
    }
    return undefined;
  }

  [symbolDispose]() {
    if (!this.#taken) this.#client.abort(this.#p);
  }
}

class IncomingResponse {
  /** @type {Pending} */ #p;
  /** @type {HttpClient} */ #client;
  /** @type {Waiter} */ #waiter;
  #consumed = false;
  /** @type {Fields} */ #headers;

  /** @param {symbol} token @param {HttpClient} client @param {Waiter} waiter @param {Pending} p */
  constructor(token, client, waiter, p) {
    if (token !== INTERNAL) throw trap('wasi:http/types.incoming-response has no constructor');
    this.#client = client;
    this.#waiter = waiter;
    this.#p = p;
    this.#headers = Fields._trusted(p.head?.headers ?? []);
  }

  status() {
    return this.#p.head?.status ?? 0;
  }
  headers() {
    return this.#headers;
  }
  consume() {
    if (this.#consumed) throw undefined;
    this.#consumed = true;
    return new IncomingBody(INTERNAL, this.#client, this.#waiter, this.#p);
  }
  [symbolDispose]() {
    if (!this.#consumed) this.#client.abort(this.#p);
  }
}

class IncomingBody {
  /** @type {Pending} */ #p;
  /** @type {HttpClient} */ #client;
  /** @type {Waiter} */ #waiter;
  #streamTaken = false;

  /** @param {symbol} token @param {HttpClient} client @param {Waiter} waiter @param {Pending} p */
  constructor(token, client, waiter, p) {
    if (token !== INTERNAL) throw trap('wasi:http/types.incoming-body has no constructor');
    this.#client = client;
    this.#waiter = waiter;
    this.#p = p;
  }

  stream() {
    if (this.#streamTaken) throw undefined;
    this.#streamTaken = true;
    const p = this.#p;
    const client = this.#client;
    let failed = false;
    /** @type {Source} */
    const source = {
      ready: () => p.chunks.length > 0 || p.ended || p.aborted,
      read: (max) => {
        const first = p.chunks[0];
        if (first) {
          if (first.length <= max) {
            p.chunks.shift();
            client.consumed(first.length);
            return first;
          }
          p.chunks[0] = first.subarray(max);
          client.consumed(max);
          return first.subarray(0, max);
        }
        if (p.bodyError && !failed) {
          failed = true;
          return { error: ioError(`response body failed: ${p.bodyError.tag}`, p.bodyError) };
        }
        if (p.ended || p.aborted) {
          client.pending.delete(p.id);
          return 'closed';
        }
        return new Uint8Array(0);
      },
      dispose: () => client.abort(p),
      starved: () => client.starved(p),
    };
    return new InputStream(INTERNAL, this.#waiter, source);
  }

  /** @param {IncomingBody} body */
  static finish(body) {
    if (!body.#streamTaken) body.#client.abort(body.#p);
    return new FutureTrailers(INTERNAL, body.#waiter);
  }

  [symbolDispose]() {
    if (!this.#streamTaken) this.#client.abort(this.#p);
  }
}

class FutureTrailers {
  #taken = false;
  /** @type {Waiter} */ #waiter;

  /** @param {symbol} token @param {Waiter} waiter */
  constructor(token, waiter) {
    if (token !== INTERNAL) throw trap('wasi:http/types.future-trailers has no constructor');
    this.#waiter = waiter;
  }
  subscribe() {
    return new Pollable(INTERNAL, this.#waiter, () => true);
  }
  get() {
    if (this.#taken) return { tag: 'err', val: undefined };
    this.#taken = true;
    return { tag: 'ok', val: { tag: 'ok', val: undefined } };
  }
}

/** Server-side types: a source never serves HTTP, so these exist only to satisfy the interface. */
class OutgoingResponse {
  #status = 200;
  /** @type {Fields} */ #headers;
  /** @param {Fields} headers */
  constructor(headers) {
    this.#headers = Fields._lock(headers);
  }
  statusCode() {
    return this.#status;
  }
  /** @param {number} status */
  setStatusCode(status) {
    if (status < 100 || status > 999) throw undefined;
    this.#status = status;
  }
  headers() {
    return this.#headers;
  }
  body() {
    throw undefined;
  }
}

class IncomingRequest {
  /** @param {symbol} token */
  constructor(token) {
    if (token !== INTERNAL) throw trap('wasi:http/types.incoming-request has no constructor');
  }
}

class ResponseOutparam {
  /** @param {symbol} token */
  constructor(token) {
    if (token !== INTERNAL) throw trap('wasi:http/types.response-outparam has no constructor');
  }
  static set() {
    throw trap('a source cannot serve HTTP');
  }
}

/**
 * The wasi:http interfaces, keyed as jco's instantiate() expects, and what the instance makes the
 * host hold.
 * @param {WasiHost} host @param {HttpClient} client @param {Waiter} waiter @param {FlowWords} flow
 */
export function httpImports(host, client, waiter, flow) {
  const unsent = new UnsentBytes(host.maxUnsentRequestBytes ?? MAX_UNSENT_REQUEST_BYTES, flow);
  const OutgoingRequest = defineOutgoingRequest(waiter, host.maxRequestBodyBytes, unsent);

  /**
   * @param {InstanceType<typeof OutgoingRequest>} request
   * @param {RequestOptions | undefined} options
   */
  function handle(request, options) {
    const id = client.nextId++;
    const { message, body } = OutgoingRequest.message(request, options, id);
    /** @type {Pending} */
    const p = { id, head: undefined, error: undefined, bodyError: undefined, chunks: [], ended: false, aborted: false };
    client.pending.set(id, p);
    const send = () => {
      if (p.aborted) {
        if (body) OutgoingBody.release(body);
        return;
      }
      // the host holds this instance's responses back: one more request would only add to them
      if (flow.heldBack()) throw trap(client.overCap());
      client.waitForRoom(waiter);
      const bytes = body ? OutgoingBody.handOver(body) : null;
      client.handedOver = (client.handedOver + 1) | 0;
      // the body is this message's own copy: moved to the host, not copied again
      if (bytes) host.post({ ...message, body: bytes }, [bytes.buffer]);
      else host.post({ ...message, body: null });
    };
    if (body && !OutgoingBody.isFinished(body)) OutgoingBody.onFinish(body, send);
    else send();
    return new FutureIncomingResponse(INTERNAL, client, waiter, p);
  }

  /**
   * Why the instance should be retired once its call is answered: what it makes the host hold is
   * past half a cap. Guests keep some of it in normal use (componentize-js's engine leaves the body
   * of a response it never reads), and the cap would otherwise trap a later call.
   */
  const pressure = () => {
    if (client.unread > client.maxUnread / 2) return `it left ${client.unread} bytes of response bodies unread`;
    const unsentBytes = unsent.held();
    if (unsentBytes > unsent.limit / 2) return `it holds ${unsentBytes} bytes of request bodies it has not sent`;
    return undefined;
  };
  const interfaces = {
    'wasi:http/outgoing-handler': { handle },
    'wasi:http/types': {
      Fields,
      FutureIncomingResponse,
      FutureTrailers,
      IncomingBody,
      IncomingRequest,
      IncomingResponse,
      OutgoingBody,
      OutgoingRequest,
      OutgoingResponse,
      RequestOptions,
      ResponseOutparam,
      /** @param {IoError} err */
      httpErrorCode: (err) => (err instanceof IoError ? IoError.httpCodeOf(err) : undefined),
    },
  };
  return { interfaces, pressure };
}
