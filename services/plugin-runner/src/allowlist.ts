/**
 * The manifest's allowed_hosts, and the parsing of an outgoing request's scheme + authority into the
 * one host name that is matched, connected to and sent as Host. Every check runs on the parsed,
 * normalised form, never on the raw strings the plugin handed over.
 */

export type Scheme = 'http' | 'https';

export const DEFAULT_PORTS: Readonly<Record<Scheme, number>> = { http: 80, https: 443 };

export interface HostRule {
  /** the entry as written in the manifest */
  pattern: string;
  scheme: Scheme;
  /** lowercase, no trailing dot; for a wildcard rule, the part after "*." */
  host: string;
  wildcard: boolean;
  port: number;
}

export interface RequestTarget {
  scheme: Scheme;
  /** lowercase ASCII (punycode) host name, canonical IPv4, or IPv6 without brackets; no trailing dot */
  host: string;
  port: number;
  /** what goes into the Host header: host, bracketed if IPv6, plus ":port" unless it is the default */
  authority: string;
  /** path and query, starting with "/" */
  path: string;
}

/** A refused target: `code` is the wasi:http error-code tag the plugin sees. */
export interface TargetProblem {
  code: 'HTTP-request-denied' | 'HTTP-request-URI-invalid' | 'HTTP-request-URI-too-long';
  reason: string;
}

export const MAX_PATH_LENGTH = 8192;
const LABEL = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/;
const RULE = /^(https?):\/\/(\*\.)?([^/:?#@\s[\]]+)(?::(\d{1,5}))?$/i;

function stripTrailingDot(host: string): string {
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

function validHostName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  return host.split('.').every((label) => label.length <= 63 && LABEL.test(label));
}

/** Parses one allowed_hosts entry; throws an Error naming the entry when it is not valid. */
export function parseHostRule(pattern: string): HostRule {
  const m = RULE.exec(pattern);
  if (!m) {
    throw new Error(`allowed host '${pattern}' is not of the form http(s)://host[:port] or http(s)://*.host[:port]`);
  }
  const scheme = (m[1] as string).toLowerCase() as Scheme;
  const host = stripTrailingDot((m[3] as string).toLowerCase());
  if (!validHostName(host)) throw new Error(`allowed host '${pattern}' has an invalid host name`);
  if (m[2] && !host.includes('.')) throw new Error(`allowed host '${pattern}' wildcards a top-level domain`);
  const port = m[4] === undefined ? DEFAULT_PORTS[scheme] : Number(m[4]);
  if (port < 1 || port > 65535) throw new Error(`allowed host '${pattern}' has port ${port} out of range`);
  return { pattern, scheme, host, wildcard: m[2] !== undefined, port };
}

/**
 * Parses what a plugin put in an outgoing request (wasi:http scheme, authority, path-with-query).
 * Userinfo, a path, query or fragment smuggled into the authority, control characters and anything
 * but http/https are refused.
 */
export function parseRequestTarget(
  scheme: string | undefined,
  authority: string | undefined,
  pathWithQuery: string | undefined,
): RequestTarget | TargetProblem {
  const s = (scheme ?? 'https').toLowerCase();
  if (s !== 'http' && s !== 'https')
    return { code: 'HTTP-request-denied', reason: `scheme '${scheme}' is not allowed` };
  if (!authority) return { code: 'HTTP-request-URI-invalid', reason: 'the request has no authority (host)' };
  if (authority.includes('@'))
    return { code: 'HTTP-request-denied', reason: 'userinfo in the authority is not allowed' };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\s\x00-\x1f\x7f/\\?#%]/.test(authority)) {
    return {
      code: 'HTTP-request-URI-invalid',
      reason: `authority '${JSON.stringify(authority)}' has invalid characters`,
    };
  }
  let url: URL;
  try {
    url = new URL(`${s}://${authority}/`);
  } catch {
    return { code: 'HTTP-request-URI-invalid', reason: `authority ${JSON.stringify(authority)} is not valid` };
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) {
    return { code: 'HTTP-request-denied', reason: `authority ${JSON.stringify(authority)} is not a plain host[:port]` };
  }
  let host = url.hostname;
  const ipv6 = host.startsWith('[');
  if (ipv6) host = host.slice(1, -1);
  else {
    host = stripTrailingDot(host);
    if (!/^[0-9.]+$/.test(host) && !validHostName(host)) {
      return { code: 'HTTP-request-URI-invalid', reason: `host '${host}' is not a valid host name` };
    }
  }
  const port = url.port === '' ? DEFAULT_PORTS[s] : Number(url.port);
  const path = pathWithQuery === undefined || pathWithQuery === '' ? '/' : pathWithQuery;
  if (path.length > MAX_PATH_LENGTH) {
    return { code: 'HTTP-request-URI-too-long', reason: `path is ${path.length} bytes, over ${MAX_PATH_LENGTH}` };
  }
  if (!/^\/[\x21-\x7e]*$/.test(path)) {
    return {
      code: 'HTTP-request-URI-invalid',
      reason: 'path must start with "/" and be printable ASCII without spaces',
    };
  }
  const hostPart = ipv6 ? `[${host}]` : host;
  return {
    scheme: s,
    host,
    port,
    authority: port === DEFAULT_PORTS[s] ? hostPart : `${hostPart}:${port}`,
    path,
  };
}

export function isTargetProblem(t: RequestTarget | TargetProblem): t is TargetProblem {
  return 'code' in t;
}

export function ruleMatches(rule: HostRule, target: RequestTarget): boolean {
  if (rule.scheme !== target.scheme || rule.port !== target.port) return false;
  if (!rule.wildcard) return target.host === rule.host;
  return target.host.length > rule.host.length + 1 && target.host.endsWith(`.${rule.host}`);
}

/** A source's allowed_hosts. */
export class HostAllowlist {
  readonly rules: readonly HostRule[];

  constructor(patterns: readonly string[]) {
    this.rules = patterns.map(parseHostRule);
  }

  /** The rule that allows the target, or undefined when none does. */
  match(target: RequestTarget): HostRule | undefined {
    return this.rules.find((rule) => ruleMatches(rule, target));
  }
}
