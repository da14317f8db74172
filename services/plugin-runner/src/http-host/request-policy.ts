/**
 * What a source's request must pass before any I/O, and which address it may reach after DNS: its
 * target parsed and matched against allowed_hosts, its method, headers and body size, then the
 * address policy on the DNS answers. Every refusal is a RequestFailure carrying the wasi:http
 * error code the guest sees.
 */
import { nonPublicReason } from '../address-policy.js';
import {
  type HostAllowlist,
  isTargetProblem,
  MAX_PATH_LENGTH,
  parseRequestTarget,
  type RequestTarget,
} from '../allowlist.js';
import { isHostOwnedHeader, TOKEN } from '../worker/header-rules.mjs';
import type { ErrorCode, RequestMessage } from '../worker/messages.mjs';

/** Request header section cap (names + values). */
export const MAX_REQUEST_HEADER_BYTES = 64 * 1024;
/** (scheme, authority) pairs whose parsed and allowlist-checked form a source keeps; past it, all are dropped. */
const MAX_KNOWN_AUTHORITIES = 256;
/** Longest scheme and authority kept (a host name is at most 253 bytes, plus brackets and a port). */
const MAX_KEPT_SCHEME = 16;
const MAX_KEPT_AUTHORITY = 300;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const BAD_VALUE = /[\x00\r\n]/;
const PATH = /^\/[\x21-\x7e]*$/;

/** A request the host refuses or cannot perform; `code` is what the guest gets. */
export class RequestFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    reason: string,
  ) {
    super(reason);
  }
}

/** The headers sent upstream: latin1 text, repeated names as arrays, no prototype. */
export type OutgoingHeaders = Record<string, string | string[]>;

/** Where a request connects: an address the policy allowed, and the port. */
export interface Address {
  address: string;
  family: number;
  port: number;
}

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

/**
 * A scheme and authority as parseRequestTarget and the allowlist judged them (the target's path is
 * "/"). A refusal of the scheme or authority comes before the path's, the allowlist's after it.
 */
type KnownAuthority =
  | { ok: true; target: RequestTarget }
  | { ok: false; afterPath: boolean; code: ErrorCode; reason: string };

/** The checks of one source's requests that need no I/O. */
export class RequestPolicy {
  /** scheme -> authority -> its verdict; see target() */
  private readonly authorities = new Map<string | undefined, Map<string | undefined, KnownAuthority>>();
  private knownAuthorities = 0;

  constructor(
    private readonly allowlist: HostAllowlist,
    /** a request body's cap (the manifest's max_response_bytes) */
    private readonly maxBodyBytes: number,
  ) {}

  /**
   * Allowlist, method, headers and body checks. Returns the target and the headers to send (latin1
   * text, without the ones the host owns; Host and Content-Length are added).
   */
  check(msg: RequestMessage): { target: RequestTarget; headers: OutgoingHeaders } {
    const target = this.target(msg.scheme, msg.authority, msg.path);
    if (!TOKEN.test(msg.method) || /^(CONNECT|TRACE)$/i.test(msg.method)) {
      throw new RequestFailure({ tag: 'HTTP-request-method-invalid' }, `method ${msg.method} is not allowed`);
    }
    let size = 0;
    // no prototype: a plugin's header may be called __proto__
    const headers: OutgoingHeaders = Object.create(null);
    for (const [name, value] of msg.headers) {
      size += name.length + value.length + 4;
      const text = Buffer.from(value.buffer, value.byteOffset, value.length).toString('latin1');
      if (!TOKEN.test(name) || BAD_VALUE.test(text)) {
        throw new RequestFailure({ tag: 'HTTP-request-denied' }, `header ${JSON.stringify(name)} is malformed`);
      }
      if (isHostOwnedHeader(name)) continue;
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
    if (msg.body && msg.body.length > this.maxBodyBytes) {
      throw new RequestFailure(
        { tag: 'HTTP-request-body-size', val: BigInt(msg.body.length) },
        `request body is ${msg.body.length} bytes, over ${this.maxBodyBytes}`,
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
        return verdict(known, path);
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
    return verdict(known, path);
  }

  private judgeAuthority(scheme: string | undefined, authority: string | undefined): KnownAuthority {
    const target = parseRequestTarget(scheme, authority, '/');
    if (isTargetProblem(target)) {
      return { ok: false, afterPath: false, code: { tag: target.code }, reason: target.reason };
    }
    if (!this.allowlist.match(target)) {
      return {
        ok: false,
        afterPath: true,
        code: { tag: 'HTTP-request-denied' },
        reason: `${target.scheme}://${target.authority} is not in allowed_hosts`,
      };
    }
    return { ok: true, target };
  }
}

function verdict(known: KnownAuthority, path: string | undefined): RequestTarget {
  if (!known.ok) {
    if (known.afterPath) checkedPath(path);
    throw new RequestFailure(known.code, known.reason);
  }
  return { ...known.target, path: checkedPath(path) };
}

/**
 * The first DNS answer the address policy allows; with `anyAddress` (an operator's connectTo, or
 * private addresses allowed) the first answer.
 */
export function chooseAddress(
  target: RequestTarget,
  host: string,
  answers: Array<{ address: string; family: number }>,
  anyAddress: boolean,
  port: number,
): Address {
  if (answers.length === 0) throw new RequestFailure({ tag: 'destination-not-found' }, `${host} has no addresses`);
  if (anyAddress) return { ...(answers[0] as { address: string; family: number }), port };
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
