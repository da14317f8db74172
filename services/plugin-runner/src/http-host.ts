/**
 * The host side of every source's wasi:http, one SourceHttp per source: it serves each instance's
 * HTTP port (attach), holds the source's slots (max_concurrency) and rate-limit admissions, and
 * passes each request through the request policy (http-host/request-policy.ts) to the transport
 * (http-host/transport.ts). The messages it serves are in worker/messages.mjs.
 */
import type { MessagePort } from 'node:worker_threads';
import type { HostAllowlist } from './allowlist.js';
import { HostScheduler, type SourceScheduler } from './host-scheduler.js';
import { InstanceFlow } from './http-host/instance-flow.js';
import { RequestFailure, RequestPolicy } from './http-host/request-policy.js';
import { Cancel, HttpTransport, type LookupFn, type TransportCounters } from './http-host/transport.js';
import type { Logger } from './logger.js';
import { ChannelWriter, MAX_UNREAD_RESPONSE_BYTES } from './worker/http-channel.mjs';
import {
  type ErrorCode,
  type HostMessage,
  type HttpBatch,
  type HttpEvent,
  HttpEventType,
  type RequestMessage,
  ToHost,
} from './worker/messages.mjs';

export { parseConnectTo } from './http-host/request-policy.js';
export type { LookupFn } from './http-host/transport.js';
export type { ErrorCode, HttpEvent, RequestMessage };

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

export interface HttpStats extends TransportCounters {
  requests: number;
  denied: number;
  maxInFlight: number;
  /** refused because no rate-limit slot started before the call's deadline */
  rateLimited: number;
}

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

/**
 * The host side of one source's wasi:http: every request passes the request policy, waits for its
 * rate-limit admission and a slot (at most max_concurrency in flight per source), and goes out
 * through the transport (one keep-alive pool per source), its response streamed back as events.
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
  private refusals = { since: 0, logged: 0, suppressed: 0 };
  private readonly requestPolicy: RequestPolicy;
  private readonly transport: HttpTransport;
  readonly scheduler: SourceScheduler;

  constructor(private readonly policy: HttpPolicy) {
    const scheduler = policy.scheduler ?? new HostScheduler().forSource(policy.sourceId, undefined);
    this.scheduler = scheduler;
    this.requestPolicy = new RequestPolicy(policy.allowlist, policy.maxResponseBytes);
    this.transport = new HttpTransport({
      sourceId: policy.sourceId,
      maxConcurrency: policy.maxConcurrency,
      maxResponseBytes: policy.maxResponseBytes,
      connectTo: policy.connectTo,
      allowPrivateAddresses: policy.allowPrivateAddresses,
      lookup: policy.lookup,
      logger: policy.logger,
      counters: this.stats,
      onRetryAfter: (target, status, retryAfter) => void scheduler.observe(target, status, retryAfter),
    });
  }

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
          if (e.type !== HttpEventType.CHUNK) continue;
          const data = new Uint8Array(e.data);
          transfer.push(data.buffer);
          events[i] = { id: e.id, type: HttpEventType.CHUNK, data };
        }
        const posted: HttpBatch = { seq, events };
        port.postMessage(posted, transfer);
      }
      channel.wake();
    };
    const emit = (event: HttpEvent) => {
      if (closed) return;
      if (event.type === HttpEventType.CHUNK) flow.chunkEmitted(event.data.length);
      if (batch) batch.push(event);
      else {
        batch = [event];
        queueMicrotask(flush);
      }
    };
    // every request leaves `active` (or the deferred ones) exactly once, and the worker is told then
    const handle = (msg: HostMessage) => {
      if (msg.type === ToHost.ABORT) {
        const cancel = active.get(msg.id);
        if (!cancel) return;
        active.delete(msg.id);
        cancel.abort();
        flow.requestFinished();
        return;
      }
      if (msg.type === ToHost.RESUME) {
        flow.resume();
        return;
      }
      if (msg.type !== ToHost.REQUEST || active.has(msg.id)) return;
      if (cancelled) {
        emit({ id: msg.id, type: HttpEventType.ERROR, code: CALL_CANCELLED });
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
    const deferred: HostMessage[] = [];
    /** deferred requests not dropped yet: an abort of one drops both, before any work */
    const deferredRequests = new Set<number>();
    let draining = false;
    const defer = (msg: HostMessage) => {
      if (msg.type === ToHost.ABORT && deferredRequests.delete(msg.id)) {
        flow.requestFinished();
        return;
      }
      if (msg.type === ToHost.REQUEST) deferredRequests.add(msg.id);
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
        if (msg.type === ToHost.REQUEST && !deferredRequests.delete(msg.id)) continue;
        handle(msg);
      }
      burst = 0;
      if (deferred.length > 0) {
        draining = true;
        setImmediate(drain);
      }
    };
    port.on('message', (msg: HostMessage) => {
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
          emit({ id, type: HttpEventType.ERROR, code: CALL_CANCELLED });
          cancel.abort();
          flow.requestFinished();
        }
        active.clear();
        for (const id of deferredRequests) {
          emit({ id, type: HttpEventType.ERROR, code: CALL_CANCELLED });
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
    this.transport.close();
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
      const { target, headers } = this.requestPolicy.check(msg);
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
      const resolving = this.transport.resolve(target);
      const address = resolving instanceof Promise ? await resolving : resolving;
      if (signal.aborted) return;
      this.stats.requests++;
      log.debug(
        { source, method: msg.method, url: `${target.scheme}://${target.authority}${target.path}` },
        'plugin request',
      );
      await this.transport.perform(msg, target, headers, address, deadline, emit, signal, flow, bodyDone);
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
        emit({ id, type: HttpEventType.ERROR, code: err.code });
      } else {
        this.stats.failed++;
        const message = String((err as Error)?.message ?? err);
        log.error({ source, authority: msg.authority, err: message }, 'plugin request failed in the host');
        emit({ id, type: HttpEventType.ERROR, code: { tag: 'internal-error', val: message } });
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
}
