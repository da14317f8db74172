/**
 * How one source's allowed requests reach the network: Node's http/https with one keep-alive pool
 * per source, DNS (pinned: the socket connects to the address the policy chose, never a second
 * lookup), timeouts, response size caps, and the pause of response streams an instance's flow asks for.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { RequestTarget } from '../allowlist.js';
import type { Logger } from '../logger.js';
import { type ErrorCode, type HttpEvent, HttpEventType, type RequestMessage } from '../worker/messages.mjs';
import type { InstanceFlow } from './instance-flow.js';
import { type Address, chooseAddress, type OutgoingHeaders, RequestFailure } from './request-policy.js';

export type LookupFn = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

/** Response header section cap, enforced by Node's parser. */
export const MAX_RESPONSE_HEADER_BYTES = 32 * 1024;

const defaultLookup: LookupFn = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * One plugin request's cancellation (the plugin dropped it, or its worker went away): a flag and one
 * hook, made for every request, where an AbortController and its listeners cost several times more.
 */
export class Cancel {
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

/** What the transport counts into the source's stats. */
export interface TransportCounters {
  failed: number;
  bytesIn: number;
  /** request bodies sent */
  bytesOut: number;
}

export interface TransportOptions {
  sourceId: string;
  maxConcurrency: number;
  maxResponseBytes: number;
  /** "host:port" -> "ip:port" (or "host:port"), operator-approved, so private targets are allowed */
  connectTo: ReadonlyMap<string, { host: string; port: number }>;
  allowPrivateAddresses: boolean;
  lookup?: LookupFn;
  logger: Logger;
  counters: TransportCounters;
  /** a response carried Retry-After (the scheduler honours it) */
  onRetryAfter(target: RequestTarget, status: number, retryAfter: string): void;
}

export function mapNodeError(err: NodeJS.ErrnoException, gotHead: boolean): ErrorCode {
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

export class HttpTransport {
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly lookup: LookupFn;

  constructor(private readonly options: TransportOptions) {
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxConcurrency,
      maxFreeSockets: options.maxConcurrency,
    };
    this.agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
    this.lookup = options.lookup ?? defaultLookup;
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /**
   * The address to connect to: connectTo's, or a DNS answer that passes the address policy. Without
   * a DNS lookup (an IP address, or connectTo to one) it is there at once, not a turn later.
   */
  resolve(target: RequestTarget): Address | Promise<Address> {
    const mapped = this.options.connectTo.get(`${target.host}:${target.port}`);
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

  private choose(
    target: RequestTarget,
    host: string,
    answers: Array<{ address: string; family: number }>,
    mapped: boolean,
    port: number,
  ): Address {
    return chooseAddress(target, host, answers, mapped || this.options.allowPrivateAddresses, port);
  }

  /**
   * Performs one checked request, streaming its outcome through `emit`; throws a RequestFailure only
   * when the call has no time left.
   */
  perform(
    msg: RequestMessage,
    target: RequestTarget,
    headers: OutgoingHeaders,
    address: Address,
    deadline: number,
    emit: (e: HttpEvent) => void,
    signal: Cancel,
    flow: InstanceFlow | undefined,
    bodyDone: (() => void) | undefined,
  ): Promise<void> {
    const { id } = msg;
    const max = this.options.maxResponseBytes;
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
        this.options.counters.failed++;
        this.options.logger.debug(
          { source: this.options.sourceId, url: `${target.scheme}://${target.authority}`, reason },
          'plugin request failed',
        );
        req.destroy();
        finish({ id, type: HttpEventType.ERROR, code });
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
        if (typeof retryAfter === 'string') this.options.onRetryAfter(target, res.statusCode ?? 0, retryAfter);
        const raw = res.rawHeaders;
        const headerList: Array<[string, Uint8Array]> = [];
        for (let i = 0; i + 1 < raw.length; i += 2) {
          headerList.push([raw[i] as string, new Uint8Array(Buffer.from(raw[i + 1] as string, 'latin1'))]);
        }
        emit({ id, type: HttpEventType.HEAD, status: res.statusCode ?? 0, headers: headerList });
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
          this.options.counters.bytesIn += chunk.length;
          if (received > max) {
            fail({ tag: 'HTTP-response-body-size', val: BigInt(received) }, `response body over ${max} bytes`);
            return;
          }
          emit({ id, type: HttpEventType.CHUNK, data: chunk });
        });
        res.on('end', () => finish({ id, type: HttpEventType.END }));
        res.on('error', (err) => fail(mapNodeError(err, true), err.message));
        res.on('aborted', () => fail({ tag: 'HTTP-response-incomplete' }, 'response aborted'));
      });
      if (msg.body) {
        this.options.counters.bytesOut += msg.body.length;
        if (bodyDone) req.once('finish', bodyDone);
      }
      req.end(msg.body ?? undefined);
    });
  }
}
