import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { MessagePort } from 'node:worker_threads';
import { nonPublicReason } from './address-policy.js';
import {
  type HostAllowlist,
  isTargetProblem,
  MAX_PATH_LENGTH,
  parseRequestTarget,
  type RequestTarget,
} from './allowlist.js';
import { HostScheduler, type SourceScheduler } from './host-scheduler.js';
import { ChannelWriter, type FlowWords, MAX_UNREAD_RESPONSE_BYTES } from './worker/http-channel.mjs';
import type { Logger } from './logger.js';

/** A wasi:http error-code variant as jco passes it. */
export interface ErrorCode {
  tag: string;
  val?: unknown;
}

/** What a plugin's worker posts for wasi:http/outgoing-handler.handle. */
export interface RequestMessage {
  type: 'request';
  id: number;
  method: string;
  scheme: string | undefined;
  authority: string | undefined;
  path: string | undefined;
  headers: Array<[string, Uint8Array]>;
  body: Uint8Array | null;
  timeouts: { connectMs?: number; firstByteMs?: number; betweenBytesMs?: number };
}

/** What SourceHttp.attach returns for one worker (one instance) of the source. */
export interface HttpAttachment {
  /** The worker is going away: aborts whatever is in flight without a word to it, closes the port. */
  detach(): void;
  /**
   * The instance's current call was given up (its client cancelled, or its deadline passed): every
   * request of the instance, queued or in flight, is aborted now and the guest gets an `error` event
   * for it (CALL_CANCELLED), and every request it sends from now on is refused the same way until
   * callStarted(). The instance stays usable.
   */
  cancelCall(): void;
  /** A new call starts on the instance: its requests are served again (no-op unless cancelled). */
  callStarted(): void;
  /** The instance's accounting of response and request body bytes (read-only use: stats, tests). */
  readonly flow: InstanceFlow;
}

/** The wasi:http error a request of a cancelled call gets. */
export const CALL_CANCELLED: ErrorCode = { tag: 'internal-error', val: 'the call was cancelled' };

export type HttpEvent =
  | { id: number; type: 'head'; status: number; headers: Array<[string, Uint8Array]> }
  | { id: number; type: 'chunk'; data: Uint8Array }
  | { id: number; type: 'end' }
  | { id: number; type: 'error'; code: ErrorCode };

type Address = { address: string; family: number; port: number };

export type LookupFn = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export interface HttpPolicy {
  sourceId: string;
  allowlist: HostAllowlist;
  maxResponseBytes: number;
  maxConcurrency: number;
  /** "host:port" -> "ip:port" (or "host:port"), operator-approved, so private targets are allowed */
  connectTo: ReadonlyMap<string, { host: string; port: number }>;
  allowPrivateAddresses: boolean;
  lookup?: LookupFn;
  logger: Logger;
  /** rate limits and Retry-After for this source's requests (default: its own, with no rate limit) */
  scheduler?: SourceScheduler;
}

export interface HttpStats {
  requests: number;
  denied: number;
  failed: number;
  bytesIn: number;
  /** request bodies sent */
  bytesOut: number;
  maxInFlight: number;
  /** refused because no rate-limit slot started before the call's deadline */
  rateLimited: number;
}

/** Request header section cap (names + values). */
export const MAX_REQUEST_HEADER_BYTES = 64 * 1024;
/** Response header section cap, enforced by Node's parser. */
export const MAX_RESPONSE_HEADER_BYTES = 32 * 1024;
/** Refusals logged per source per window; the rest are counted. */
const REFUSAL_LOGS = 20;
const REFUSAL_WINDOW_MS = 10_000;
/** Requests waiting for a slot beyond max_concurrency, as a multiple of it, before new ones fail. */
const QUEUE_FACTOR = 16;
/**
 * Messages of one instance the main thread handles in one turn of its event loop; the rest wait for
 * the next turn (setImmediate), so another instance's messages and I/O come in between and a plugin
 * sending requests in a loop cannot keep the main thread to itself.
 */
export const MESSAGES_PER_INSTANCE_PER_TURN = 32;
/** (scheme, authority) pairs whose parsed and allowlist-checked form a source keeps; past it, all are dropped. */
const MAX_KNOWN_AUTHORITIES = 256;
/** Longest scheme and authority kept (a host name is at most 253 bytes, plus brackets and a port). */
const MAX_KEPT_SCHEME = 16;
const MAX_KEPT_AUTHORITY = 300;

/** Headers the host sets or that would change the framing; a plugin's values are dropped. */
const HOST_OWNED = new Set([
  'host',
  'content-length',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'http2-settings',
  'expect',
]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const BAD_VALUE = /[\x00\r\n]/;
const PATH = /^\/[\x21-\x7e]*$/;

const defaultLookup: LookupFn = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Parses operator connectTo entries, throwing on a malformed one. */
export function parseConnectTo(map: Record<string, string> | undefined): Map<string, { host: string; port: number }> {
  const out = new Map<string, { host: string; port: number }>();
  for (const [from, to] of Object.entries(map ?? {})) {
    const f = /^([a-z0-9.-]+|\[[0-9a-f:.]+\]):(\d{1,5})$/i.exec(from);
    const t = /^([a-z0-9.-]+|\[[0-9a-f:.]+\]):(\d{1,5})$/i.exec(to);
    if (!f || !t) throw new Error(`connectTo entry '${from}' -> '${to}' must map host:port to host:port`);
    const fromHost = (f[1] as string)
      .toLowerCase()
      .replace(/^\[|\]$/g, '')
      .replace(/\.$/, '');
    out.set(`${fromHost}:${Number(f[2])}`, { host: (t[1] as string).replace(/^\[|\]$/g, ''), port: Number(t[2]) });
  }
  return out;
}

/**
 * One plugin request's cancellation (the plugin dropped it, or its worker went away): a flag and one
 * hook, made for every request, where an AbortController and its listeners cost several times more.
 */
class Cancel {
  aborted = false;
  private hook: (() => void) | undefined;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const hook = this.hook;
    this.hook = undefined;
    hook?.();
  }

  /** Runs `hook` on abort (one at a time; undefined removes it). */
  onAbort(hook: (() => void) | undefined): void {
    this.hook = hook;
  }
}

/** What a worker posts on its HTTP port. */
type PortMessage = RequestMessage | { type: 'abort'; id: number } | { type: 'resume' };

/**
 * One instance's share of the host's HTTP memory: response body bytes handed to it that its guest
 * has not read or dropped (counted against MAX_UNREAD_RESPONSE_BYTES: at the cap its response
 * streams are paused, so Node stops reading their sockets, until the guest has given up half), and
 * its request bodies, reported to the worker once written out or dropped (it counts them against
 * MAX_UNSENT_REQUEST_BYTES until then).
 */
export class InstanceFlow {
  /** response body bytes emitted to the worker, a running total compared with its RELEASED (mod 2^32) */
  private emitted = 0;
  private readonly streams = new Set<http.IncomingMessage>();
  /** this instance's responses are paused */
  heldBack = false;
  /** times its responses were paused */
  holds = 0;

  constructor(
    private readonly words: FlowWords,
    readonly maxUnread: number = MAX_UNREAD_RESPONSE_BYTES,
  ) {}

  /** Response body bytes handed to the instance that its guest has not read or dropped. */
  get unread(): number {
    return (this.emitted - this.words.released()) | 0;
  }

  /** Body bytes on their way to the instance. */
  chunkEmitted(bytes: number): void {
    this.emitted = (this.emitted + bytes) | 0;
    if (!this.heldBack && this.unread > this.maxUnread) this.holdBack();
  }

  private holdBack(): void {
    // the worker asks for more once the guest has given up half of the cap
    if (!this.words.holdBack(this.emitted - this.maxUnread / 2)) return;
    this.heldBack = true;
    this.holds++;
    for (const res of this.streams) res.pause();
  }

  /** The worker says its guest has read or dropped enough. */
  resume(): void {
    if (!this.heldBack) return;
    this.heldBack = false;
    if (this.unread > this.maxUnread) {
      this.holdBack();
      return;
    }
    for (const res of this.streams) res.resume();
  }

  /** A response of this instance whose body is on its way. */
  track(res: http.IncomingMessage): void {
    this.streams.add(res);
    if (this.heldBack) res.pause();
  }

  untrack(res: http.IncomingMessage): void {
    this.streams.delete(res);
  }

  bodyDone(bytes: number): void {
    this.words.bodyDone(bytes);
  }

  requestFinished(): void {
    this.words.requestFinished();
  }
}

/**
 * A scheme and authority as parseRequestTarget and the allowlist judged them (the target's path is
 * "/"). A refusal of the scheme or authority comes before the path's, the allowlist's after it.
 */
type KnownAuthority =
  | { ok: true; target: RequestTarget }
  | { ok: false; afterPath: boolean; code: ErrorCode; reason: string };

/**
 * The path checks of parseRequestTarget (allowlist.ts), for a request whose scheme and authority
 * were parsed before; `http-host.test.ts` holds the two to the same verdicts.
 */
export function checkedPath(pathWithQuery: string | undefined): string {
  const path = pathWithQuery === undefined || pathWithQuery === '' ? '/' : pathWithQuery;
  if (path.length > MAX_PATH_LENGTH) {
    throw new RequestFailure(
      { tag: 'HTTP-request-URI-too-long' },
      `path is ${path.length} bytes, over ${MAX_PATH_LENGTH}`,
    );
  }
  if (!PATH.test(path)) {
    throw new RequestFailure(
      { tag: 'HTTP-request-URI-invalid' },
      'path must start with "/" and be printable ASCII without spaces',
    );
  }
  return path;
}

class RequestFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    reason: string,
  ) {
    super(reason);
  }
}

function mapNodeError(err: NodeJS.ErrnoException, gotHead: boolean): ErrorCode {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return { tag: 'connection-refused' };
  if (code === 'ECONNRESET' || code === 'EPIPE')
    return { tag: gotHead ? 'HTTP-response-incomplete' : 'connection-terminated' };
  if (code === 'ETIMEDOUT') return { tag: 'connection-timeout' };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { tag: 'destination-unavailable' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return { tag: 'DNS-error', val: { rcode: code, infoCode: undefined } };
  if (code === 'HPE_HEADER_OVERFLOW') return { tag: 'HTTP-response-header-section-size', val: undefined };
  if (code.startsWith('HPE_')) return { tag: 'HTTP-protocol-error' };
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT/.test(code)) return { tag: 'TLS-certificate-error' };
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return { tag: 'TLS-protocol-error' };
  return { tag: 'internal-error', val: err.message };
}

/**
 * The host side of one source's wasi:http: every request is checked against the allowlist and the
 * address policy, performed with Node's http/https (one keep-alive pool per source), and streamed
 * back as events. At most max_concurrency requests are in flight per source.
 */
export class SourceHttp {
  readonly stats: HttpStats = {
    requests: 0,
    denied: 0,
    failed: 0,
    bytesIn: 0,
    bytesOut: 0,
    maxInFlight: 0,
    rateLimited: 0,
  };
  private inFlight = 0;
  /** requests waiting for a slot; called with true, a finished request's slot is handed over */
  private readonly waiting: Array<(slot: boolean) => void> = [];
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly lookup: LookupFn;
  private refusals = { since: 0, logged: 0, suppressed: 0 };
  /** scheme -> authority -> its verdict; see target() */
  private readonly authorities = new Map<string | undefined, Map<string | undefined, KnownAuthority>>();
  private knownAuthorities = 0;

  constructor(private readonly policy: HttpPolicy) {
    const agentOptions = { keepAlive: true, maxSockets: policy.maxConcurrency, maxFreeSockets: policy.maxConcurrency };
    this.agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
    this.lookup = policy.lookup ?? defaultLookup;
    this.scheduler = policy.scheduler ?? new HostScheduler().forSource(policy.sourceId, undefined);
  }

  readonly scheduler: SourceScheduler;

  /** Requests currently holding a slot. */
  get active(): number {
    return this.inFlight;
  }

  /**
   * Serves one worker's wasi:http port: requests come in as messages; the events of each turn of
   * the event loop go back as one numbered batch, in the mailbox of `signal`'s buffer when it has
   * one and the batch fits (http-channel.mjs), else on the port as `{ seq, events }`, each followed
   * by a bump of the signal word (the worker blocks on it with Atomics.wait).
   * Returns the attachment: detach() when the worker goes away, cancelCall() and callStarted()
   * around a call its caller gave up on (see HttpAttachment).
   */
  attach(
    port: MessagePort,
    signal: Int32Array,
    deadline: () => number,
    onRateLimited?: (retryAfterSeconds: number) => void,
    /** MAX_UNREAD_RESPONSE_BYTES unless given (tests give less) */
    maxUnreadResponseBytes = MAX_UNREAD_RESPONSE_BYTES,
  ): HttpAttachment {
    const active = new Map<number, Cancel>();
    // a rate-limit wait ends early only when the worker goes away or the call is cancelled (a
    // dropped request is let go after it)
    let admissions = new AbortController();
    let closed = false;
    // between cancelCall() and callStarted(): the cancelled call's requests are refused
    let cancelled = false;
    const channel = new ChannelWriter(signal);
    const flow = new InstanceFlow(channel.flow, maxUnreadResponseBytes);
    let nextSeq = 0;
    let batch: HttpEvent[] | undefined;
    const flush = () => {
      const events = batch;
      batch = undefined;
      if (closed || !events) return;
      const seq = nextSeq++;
      if (!channel.tryPut(seq, events)) {
        // body chunks are views of Node's read buffers: copied once, and the copies transferred
        const transfer: ArrayBuffer[] = [];
        for (let i = 0; i < events.length; i++) {
          const e = events[i] as HttpEvent;
          if (e.type !== 'chunk') continue;
          const data = new Uint8Array(e.data);
          transfer.push(data.buffer);
          events[i] = { id: e.id, type: 'chunk', data };
        }
        port.postMessage({ seq, events }, transfer);
      }
      channel.wake();
    };
    const emit = (event: HttpEvent) => {
      if (closed) return;
      if (event.type === 'chunk') flow.chunkEmitted(event.data.length);
      if (batch) batch.push(event);
      else {
        batch = [event];
        queueMicrotask(flush);
      }
    };
    // every request leaves `active` (or the deferred ones) exactly once, and the worker is told then
    const handle = (msg: PortMessage) => {
      if (msg.type === 'abort') {
        const cancel = active.get(msg.id);
        if (!cancel) return;
        active.delete(msg.id);
        cancel.abort();
        flow.requestFinished();
        return;
      }
      if (msg.type === 'resume') {
        flow.resume();
        return;
      }
      if (msg.type !== 'request' || active.has(msg.id)) return;
      if (cancelled) {
        emit({ id: msg.id, type: 'error', code: CALL_CANCELLED });
        flow.requestFinished();
        return;
      }
      const cancel = new Cancel();
      active.set(msg.id, cancel);
      void this.run(msg, deadline(), emit, cancel, admissions.signal, onRateLimited, flow).finally(() => {
        if (active.get(msg.id) !== cancel) return;
        active.delete(msg.id);
        flow.requestFinished();
      });
    };

    // at most MESSAGES_PER_INSTANCE_PER_TURN messages a turn: `burst` counts them, reset by an
    // immediate scheduled halfway (so a turn with few messages schedules nothing)
    let burst = 0;
    const endOfBurst = () => {
      burst = 0;
    };
    const deferred: PortMessage[] = [];
    /** deferred requests not dropped yet: an abort of one drops both, before any work */
    const deferredRequests = new Set<number>();
    let draining = false;
    const defer = (msg: PortMessage) => {
      if (msg.type === 'abort' && deferredRequests.delete(msg.id)) {
        flow.requestFinished();
        return;
      }
      if (msg.type === 'request') deferredRequests.add(msg.id);
      deferred.push(msg);
      if (!draining) {
        draining = true;
        setImmediate(drain);
      }
    };
    const drain = () => {
      draining = false;
      if (closed) return;
      const turn = deferred.splice(0, MESSAGES_PER_INSTANCE_PER_TURN);
      for (const msg of turn) {
        if (msg.type === 'request' && !deferredRequests.delete(msg.id)) continue;
        handle(msg);
      }
      burst = 0;
      if (deferred.length > 0) {
        draining = true;
        setImmediate(drain);
      }
    };
    port.on('message', (msg: PortMessage) => {
      if (closed) return;
      if (deferred.length > 0 || burst >= MESSAGES_PER_INSTANCE_PER_TURN) {
        defer(msg);
        return;
      }
      if (++burst === MESSAGES_PER_INSTANCE_PER_TURN / 2) setImmediate(endOfBurst);
      handle(msg);
    });
    return {
      flow,
      detach: () => {
        closed = true;
        admissions.abort();
        for (const cancel of active.values()) cancel.abort();
        active.clear();
        deferred.length = 0;
        deferredRequests.clear();
        port.close();
      },
      cancelCall: () => {
        if (closed) return;
        cancelled = true;
        admissions.abort();
        for (const [id, cancel] of active) {
          emit({ id, type: 'error', code: CALL_CANCELLED });
          cancel.abort();
          flow.requestFinished();
        }
        active.clear();
        for (const id of deferredRequests) {
          emit({ id, type: 'error', code: CALL_CANCELLED });
          flow.requestFinished();
        }
        deferredRequests.clear();
      },
      callStarted: () => {
        cancelled = false;
        if (admissions.signal.aborted) admissions = new AbortController();
      },
    };
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
    for (const wake of this.waiting.splice(0)) wake(false);
  }

  /** Performs one request, reporting its outcome through `emit`. Never throws. */
  request(
    msg: RequestMessage,
    deadline: number,
    emit: (e: HttpEvent) => void,
    signal: AbortSignal,
    onRateLimited?: (retryAfterSeconds: number) => void,
  ): Promise<void> {
    const cancel = new Cancel();
    if (signal.aborted) cancel.abort();
    else signal.addEventListener('abort', () => cancel.abort(), { once: true });
    return this.run(msg, deadline, emit, cancel, signal, onRateLimited);
  }

  private async run(
    msg: RequestMessage,
    deadline: number,
    emit: (e: HttpEvent) => void,
    signal: Cancel,
    admitSignal: AbortSignal,
    onRateLimited?: (retryAfterSeconds: number) => void,
    flow?: InstanceFlow,
  ): Promise<void> {
    const { id } = msg;
    const log = this.policy.logger;
    const source = this.policy.sourceId;
    let slot = false;
    // the body counts as unsent in the worker until it is written out or dropped (exactly once)
    let bodyHeld = msg.body?.length ?? 0;
    const bodyDone =
      bodyHeld === 0
        ? undefined
        : () => {
            if (bodyHeld === 0) return;
            flow?.bodyDone(bodyHeld);
            bodyHeld = 0;
            msg.body = null;
          };
    try {
      const { target, headers } = this.check(msg);
      const admission = await this.scheduler.admit(target, deadline, admitSignal);
      if (!admission.ok) {
        this.stats.rateLimited++;
        onRateLimited?.(admission.retryAfterSeconds);
        throw new RequestFailure({ tag: 'internal-error', val: admission.reason }, admission.reason);
      }
      if (signal.aborted) return;
      if (this.inFlight >= this.policy.maxConcurrency) {
        if (this.waiting.length >= this.policy.maxConcurrency * QUEUE_FACTOR) {
          throw new RequestFailure({ tag: 'connection-limit-reached' }, 'too many requests waiting for a slot');
        }
        // a request dropped while it waits leaves the line at once
        slot = await new Promise<boolean>((resolve) => {
          const wake = (handedOver: boolean) => {
            signal.onAbort(undefined);
            resolve(handedOver);
          };
          this.waiting.push(wake);
          signal.onAbort(() => {
            const at = this.waiting.indexOf(wake);
            if (at >= 0) this.waiting.splice(at, 1);
            resolve(false);
          });
        });
        if (!slot) return;
      } else {
        this.inFlight++;
        slot = true;
      }
      this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.inFlight);
      if (signal.aborted) return;
      const resolving = this.resolve(target);
      const address = resolving instanceof Promise ? await resolving : resolving;
      if (signal.aborted) return;
      this.stats.requests++;
      log.debug(
        { source, method: msg.method, url: `${target.scheme}://${target.authority}${target.path}` },
        'plugin request',
      );
      await this.perform(msg, target, headers, address, deadline, emit, signal, flow, bodyDone);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof RequestFailure) {
        if (err.code.tag === 'HTTP-request-denied' || err.code.tag === 'destination-IP-prohibited') {
          this.stats.denied++;
          this.logRefusal({ source, authority: msg.authority, scheme: msg.scheme, reason: err.message });
        } else {
          this.stats.failed++;
          log.debug({ source, authority: msg.authority, reason: err.message }, 'plugin request failed');
        }
        emit({ id, type: 'error', code: err.code });
      } else {
        this.stats.failed++;
        const message = String((err as Error)?.message ?? err);
        log.error({ source, authority: msg.authority, err: message }, 'plugin request failed in the host');
        emit({ id, type: 'error', code: { tag: 'internal-error', val: message } });
      }
    } finally {
      bodyDone?.();
      if (slot) {
        // the slot goes straight to the next request waiting, so none can slip in between
        const next = this.waiting.shift();
        if (next) next(true);
        else this.inFlight--;
      }
    }
  }

  /**
   * Refusals are logged at warn, at most REFUSAL_LOGS per window per source, so a plugin cannot
   * flood the host log with requests it knows will be refused; the rest are counted in a summary.
   */
  private logRefusal(obj: Record<string, unknown>): void {
    const now = Date.now();
    if (now - this.refusals.since > REFUSAL_WINDOW_MS) {
      if (this.refusals.suppressed > 0) {
        this.policy.logger.warn(
          { source: this.policy.sourceId, suppressed: this.refusals.suppressed },
          'more plugin requests were refused than were logged',
        );
      }
      this.refusals = { since: now, logged: 0, suppressed: 0 };
    }
    if (this.refusals.logged < REFUSAL_LOGS) {
      this.refusals.logged++;
      this.policy.logger.warn(obj, 'plugin request refused');
    } else this.refusals.suppressed++;
  }

  /**
   * Allowlist, method, headers and body checks that need no I/O. Returns the target and the headers
   * to send (latin1 text, without the ones the host owns; Host and Content-Length are added).
   */
  private check(msg: RequestMessage): { target: RequestTarget; headers: Record<string, string | string[]> } {
    const target = this.target(msg.scheme, msg.authority, msg.path);
    if (!TOKEN.test(msg.method) || /^(CONNECT|TRACE)$/i.test(msg.method)) {
      throw new RequestFailure({ tag: 'HTTP-request-method-invalid' }, `method ${msg.method} is not allowed`);
    }
    let size = 0;
    // no prototype: a plugin's header may be called __proto__
    const headers: Record<string, string | string[]> = Object.create(null);
    for (const [name, value] of msg.headers) {
      size += name.length + value.length + 4;
      const text = Buffer.from(value.buffer, value.byteOffset, value.length).toString('latin1');
      if (!TOKEN.test(name) || BAD_VALUE.test(text)) {
        throw new RequestFailure({ tag: 'HTTP-request-denied' }, `header ${JSON.stringify(name)} is malformed`);
      }
      if (HOST_OWNED.has(name.toLowerCase())) continue;
      const existing = headers[name];
      if (existing === undefined) headers[name] = text;
      else if (typeof existing === 'string') headers[name] = [existing, text];
      else existing.push(text);
    }
    if (size > MAX_REQUEST_HEADER_BYTES) {
      throw new RequestFailure(
        { tag: 'HTTP-request-header-section-size', val: size },
        `request headers are ${size} bytes, over ${MAX_REQUEST_HEADER_BYTES}`,
      );
    }
    if (msg.body && msg.body.length > this.policy.maxResponseBytes) {
      throw new RequestFailure(
        { tag: 'HTTP-request-body-size', val: BigInt(msg.body.length) },
        `request body is ${msg.body.length} bytes, over ${this.policy.maxResponseBytes}`,
      );
    }
    headers.Host = target.authority;
    if (msg.body) headers['Content-Length'] = String(msg.body.length);
    return { target, headers };
  }

  /**
   * The request's target, parsed by parseRequestTarget and matched against the allowlist. What the
   * scheme and authority come to is kept per pair (a source asks the same few hosts again and again,
   * and parsing the authority as a URL was most of the checks' time); the path is checked every time.
   */
  private target(scheme: string | undefined, authority: string | undefined, path: string | undefined): RequestTarget {
    let byAuthority = this.authorities.get(scheme);
    let known = byAuthority?.get(authority);
    if (!known) {
      known = this.judgeAuthority(scheme, authority);
      // only short strings are kept: what a plugin sends must not pin host memory
      if ((scheme?.length ?? 0) > MAX_KEPT_SCHEME || (authority?.length ?? 0) > MAX_KEPT_AUTHORITY) {
        return this.verdict(known, path);
      }
      if (this.knownAuthorities >= MAX_KNOWN_AUTHORITIES) {
        this.authorities.clear();
        this.knownAuthorities = 0;
        byAuthority = undefined;
      }
      if (!byAuthority) {
        byAuthority = new Map();
        this.authorities.set(scheme, byAuthority);
      }
      byAuthority.set(authority, known);
      this.knownAuthorities++;
    }
    return this.verdict(known, path);
  }

  private verdict(known: KnownAuthority, path: string | undefined): RequestTarget {
    if (!known.ok) {
      if (known.afterPath) checkedPath(path);
      throw new RequestFailure(known.code, known.reason);
    }
    return { ...known.target, path: checkedPath(path) };
  }

  private judgeAuthority(scheme: string | undefined, authority: string | undefined): KnownAuthority {
    const target = parseRequestTarget(scheme, authority, '/');
    if (isTargetProblem(target)) {
      return { ok: false, afterPath: false, code: { tag: target.code }, reason: target.reason };
    }
    if (!this.policy.allowlist.match(target)) {
      return {
        ok: false,
        afterPath: true,
        code: { tag: 'HTTP-request-denied' },
        reason: `${target.scheme}://${target.authority} is not in allowed_hosts`,
      };
    }
    return { ok: true, target };
  }

  /**
   * The address to connect to: connectTo's, or a DNS answer that passes the address policy. Without
   * a DNS lookup (an IP address, or connectTo to one) it is there at once, not a turn later.
   */
  private resolve(target: RequestTarget): Address | Promise<Address> {
    const mapped = this.policy.connectTo.get(`${target.host}:${target.port}`);
    const host = mapped?.host ?? target.host;
    const port = mapped?.port ?? target.port;
    const family = isIP(host);
    if (family) return this.choose(target, host, [{ address: host, family }], mapped !== undefined, port);
    return this.lookupAndChoose(target, host, mapped !== undefined, port);
  }

  private async lookupAndChoose(target: RequestTarget, host: string, mapped: boolean, port: number): Promise<Address> {
    let answers: Array<{ address: string; family: number }>;
    try {
      answers = await this.lookup(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
      throw new RequestFailure(
        { tag: 'DNS-error', val: { rcode: code, infoCode: undefined } },
        `DNS lookup of ${host} failed: ${code}`,
      );
    }
    return this.choose(target, host, answers, mapped, port);
  }

  /** The first answer the address policy allows (any, for connectTo or with private addresses allowed). */
  private choose(
    target: RequestTarget,
    host: string,
    answers: Array<{ address: string; family: number }>,
    mapped: boolean,
    port: number,
  ): Address {
    if (answers.length === 0) throw new RequestFailure({ tag: 'destination-not-found' }, `${host} has no addresses`);
    if (mapped || this.policy.allowPrivateAddresses)
      return { ...(answers[0] as { address: string; family: number }), port };
    const allowed = answers.filter((a) => nonPublicReason(a.address) === undefined);
    const chosen = allowed[0];
    if (!chosen) {
      const first = answers[0] as { address: string };
      throw new RequestFailure(
        { tag: 'destination-IP-prohibited' },
        `${target.host} resolves to ${first.address}, ${nonPublicReason(first.address)}`,
      );
    }
    return { ...chosen, port };
  }

  private perform(
    msg: RequestMessage,
    target: RequestTarget,
    headers: Record<string, string | string[]>,
    address: Address,
    deadline: number,
    emit: (e: HttpEvent) => void,
    signal: Cancel,
    flow: InstanceFlow | undefined,
    bodyDone: (() => void) | undefined,
  ): Promise<void> {
    const { id } = msg;
    const max = this.policy.maxResponseBytes;
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new RequestFailure({ tag: 'HTTP-response-timeout' }, 'the call has no time left');

    const pinned: LookupFunction = (_hostname, options, callback) => {
      if ((options as { all?: boolean }).all) {
        (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [
          { address: address.address, family: address.family },
        ]);
      } else callback(null, address.address, address.family);
    };
    const mod = target.scheme === 'https' ? https : http;

    return new Promise<void>((resolve) => {
      let gotHead = false;
      let done = false;
      let received = 0;
      let response: http.IncomingMessage | undefined;
      const timers: NodeJS.Timeout[] = [];
      const finish = (event?: HttpEvent) => {
        if (done) return;
        done = true;
        for (const t of timers) clearTimeout(t);
        signal.onAbort(undefined);
        if (response) flow?.untrack(response);
        if (event) emit(event);
        resolve();
      };
      const fail = (code: ErrorCode, reason: string) => {
        if (done) return;
        this.stats.failed++;
        this.policy.logger.debug(
          { source: this.policy.sourceId, url: `${target.scheme}://${target.authority}`, reason },
          'plugin request failed',
        );
        req.destroy();
        finish({ id, type: 'error', code });
      };
      const onAbort = () => {
        req.destroy();
        finish();
      };

      const req = mod.request({
        host: target.host,
        port: address.port,
        lookup: pinned,
        method: msg.method,
        path: target.path,
        headers,
        agent: target.scheme === 'https' ? this.agents.https : this.agents.http,
        maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
        ...(target.scheme === 'https' && !isIP(target.host) ? { servername: target.host } : {}),
      });
      signal.onAbort(onAbort);
      timers.push(setTimeout(() => fail({ tag: 'HTTP-response-timeout' }, 'call deadline reached'), remaining));
      // the plugin's own timeouts only when shorter than the deadline's (which also keeps a huge one
      // from reaching setTimeout, which would make it 1 ms and print a warning)
      const { firstByteMs, connectMs, betweenBytesMs } = msg.timeouts;
      if (firstByteMs !== undefined && firstByteMs < remaining) {
        timers.push(
          setTimeout(() => {
            if (!gotHead) fail({ tag: 'HTTP-response-timeout' }, 'first-byte timeout');
          }, firstByteMs),
        );
      }
      if (connectMs !== undefined && connectMs < remaining) {
        const ms = connectMs;
        req.on('socket', (socket) => {
          if (!socket.connecting) return;
          const t = setTimeout(() => fail({ tag: 'connection-timeout' }, 'connect timeout'), ms);
          timers.push(t);
          socket.once('connect', () => clearTimeout(t));
        });
      }
      if (betweenBytesMs !== undefined && betweenBytesMs < remaining) {
        req.setTimeout(betweenBytesMs, () =>
          fail({ tag: gotHead ? 'connection-read-timeout' : 'HTTP-response-timeout' }, 'between-bytes timeout'),
        );
      }
      req.on('error', (err) => fail(mapNodeError(err, gotHead), err.message));
      req.on('response', (res) => {
        gotHead = true;
        if (done) return;
        const retryAfter = res.headers['retry-after'];
        if (typeof retryAfter === 'string') void this.scheduler.observe(target, res.statusCode ?? 0, retryAfter);
        const raw = res.rawHeaders;
        const headerList: Array<[string, Uint8Array]> = [];
        for (let i = 0; i + 1 < raw.length; i += 2) {
          headerList.push([raw[i] as string, new Uint8Array(Buffer.from(raw[i + 1] as string, 'latin1'))]);
        }
        emit({ id, type: 'head', status: res.statusCode ?? 0, headers: headerList });
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > max) {
          fail(
            { tag: 'HTTP-response-body-size', val: BigInt(declared) },
            `declared body of ${declared} bytes is over ${max}`,
          );
          return;
        }
        if (flow) {
          response = res;
          flow.track(res);
        }
        res.on('data', (chunk: Buffer) => {
          if (done) return;
          received += chunk.length;
          this.stats.bytesIn += chunk.length;
          if (received > max) {
            fail({ tag: 'HTTP-response-body-size', val: BigInt(received) }, `response body over ${max} bytes`);
            return;
          }
          emit({ id, type: 'chunk', data: chunk });
        });
        res.on('end', () => finish({ id, type: 'end' }));
        res.on('error', (err) => fail(mapNodeError(err, true), err.message));
        res.on('aborted', () => fail({ tag: 'HTTP-response-incomplete' }, 'response aborted'));
      });
      if (msg.body) {
        this.stats.bytesOut += msg.body.length;
        if (bodyDone) req.once('finish', bodyDone);
      }
      req.end(msg.body ?? undefined);
    });
  }
}
