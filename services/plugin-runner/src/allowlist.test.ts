import { describe, expect, it } from 'vitest';
import { HostAllowlist, isTargetProblem, parseHostRule, parseRequestTarget, type RequestTarget } from './allowlist.js';

const list = new HostAllowlist(['https://allowed.com', 'http://plain.test:8080', 'https://*.cdn.example']);

function target(scheme: string | undefined, authority: string, path = '/'): RequestTarget {
  const t = parseRequestTarget(scheme, authority, path);
  if (isTargetProblem(t)) throw new Error(`unexpected problem: ${t.reason}`);
  return t;
}

/** The rule that allows the request, or the refusal code. */
function decide(scheme: string | undefined, authority: string, path = '/'): string {
  const t = parseRequestTarget(scheme, authority, path);
  if (isTargetProblem(t)) return t.code;
  return list.match(t)?.pattern ?? 'HTTP-request-denied';
}

describe('parseHostRule', () => {
  it('parses scheme, host, wildcard and port, defaulting the port by scheme', () => {
    expect(parseHostRule('https://allowed.com')).toEqual({
      pattern: 'https://allowed.com',
      scheme: 'https',
      host: 'allowed.com',
      wildcard: false,
      port: 443,
    });
    expect(parseHostRule('http://Plain.Test:8080')).toMatchObject({ scheme: 'http', host: 'plain.test', port: 8080 });
    expect(parseHostRule('https://*.cdn.example')).toMatchObject({ host: 'cdn.example', wildcard: true, port: 443 });
    expect(parseHostRule('http://a.test.')).toMatchObject({ host: 'a.test', port: 80 });
  });

  it('refuses paths, userinfo, other schemes, bad ports and bare wildcards', () => {
    for (const bad of [
      'https://allowed.com/',
      'https://allowed.com/path',
      'https://user@allowed.com',
      'ftp://allowed.com',
      'allowed.com',
      'https://allowed.com:0',
      'https://allowed.com:70000',
      'https://*.com',
      'https://*',
      'https://a*.allowed.com',
      'https://allowed.com?x',
      'https://[::1]',
      'https://bad_host-.com',
    ]) {
      expect(() => parseHostRule(bad), bad).toThrow(/allowed host/);
    }
  });
});

describe('parseRequestTarget', () => {
  it('normalises case, a trailing dot and the default port into one host and Host header', () => {
    expect(target('https', 'ALLOWED.com', '/a?b=1')).toEqual({
      scheme: 'https',
      host: 'allowed.com',
      port: 443,
      authority: 'allowed.com',
      path: '/a?b=1',
    });
    expect(target('https', 'allowed.com.:443')).toMatchObject({ host: 'allowed.com', authority: 'allowed.com' });
    expect(target('http', 'plain.test:8080')).toMatchObject({ port: 8080, authority: 'plain.test:8080' });
    expect(target(undefined, 'allowed.com')).toMatchObject({ scheme: 'https' });
    expect(target('http', 'x.test', '')).toMatchObject({ path: '/' });
  });

  it('puts numeric IPv4 forms and IPv6 into canonical form', () => {
    for (const form of ['2130706433', '0x7f000001', '127.1', '0177.0.0.1', '127.0.0.1']) {
      expect(target('http', form)).toMatchObject({ host: '127.0.0.1' });
    }
    expect(target('http', '[::FFFF:127.0.0.1]:81')).toMatchObject({
      host: '::ffff:7f00:1',
      port: 81,
      authority: '[::ffff:7f00:1]:81',
    });
  });

  it('refuses userinfo, smuggled paths, control characters, other schemes and bad paths', () => {
    const problem = (scheme: string | undefined, authority: string | undefined, path?: string) => {
      const t = parseRequestTarget(scheme, authority, path);
      return isTargetProblem(t) ? t.code : 'ok';
    };
    expect(problem('https', 'allowed.com@evil.com')).toBe('HTTP-request-denied');
    expect(problem('https', 'user:pw@allowed.com')).toBe('HTTP-request-denied');
    expect(problem('https', 'evil.com#@allowed.com')).toBe('HTTP-request-denied');
    expect(problem('https', 'evil.com#.allowed.com')).toBe('HTTP-request-URI-invalid');
    expect(problem('https', 'evil.com/allowed.com')).toBe('HTTP-request-URI-invalid');
    expect(problem('https', 'evil.com\\allowed.com')).toBe('HTTP-request-URI-invalid');
    expect(problem('https', 'evil.com?.allowed.com')).toBe('HTTP-request-URI-invalid');
    expect(problem('https', 'allowed.com\r\nX: y')).toBe('HTTP-request-URI-invalid');
    expect(problem('https', '%61llowed.com')).toBe('HTTP-request-URI-invalid');
    expect(problem('https', 'a..b.com')).toBe('HTTP-request-URI-invalid');
    expect(problem('https', undefined)).toBe('HTTP-request-URI-invalid');
    expect(problem('file', 'allowed.com')).toBe('HTTP-request-denied');
    expect(problem('ws', 'allowed.com')).toBe('HTTP-request-denied');
    expect(problem('https', 'allowed.com', 'relative')).toBe('HTTP-request-URI-invalid');
    expect(problem('https', 'allowed.com', '/a b')).toBe('HTTP-request-URI-invalid');
    expect(problem('https', 'allowed.com', '/\r\nHost: evil')).toBe('HTTP-request-URI-invalid');
    expect(problem('https', 'allowed.com', `/${'a'.repeat(9000)}`)).toBe('HTTP-request-URI-too-long');
  });
});

describe('HostAllowlist', () => {
  it('allows exactly the listed scheme, host and port', () => {
    expect(decide('https', 'allowed.com')).toBe('https://allowed.com');
    expect(decide('https', 'allowed.com:443')).toBe('https://allowed.com');
    expect(decide('https', 'ALLOWED.COM')).toBe('https://allowed.com');
    expect(decide('https', 'allowed.com.')).toBe('https://allowed.com');
    expect(decide('http', 'plain.test:8080')).toBe('http://plain.test:8080');
  });

  it('refuses another scheme or port of an allowed host', () => {
    expect(decide('http', 'allowed.com')).toBe('HTTP-request-denied');
    expect(decide('https', 'allowed.com:8443')).toBe('HTTP-request-denied');
    expect(decide('http', 'plain.test')).toBe('HTTP-request-denied');
    expect(decide('https', 'plain.test:8080')).toBe('HTTP-request-denied');
  });

  it('refuses suffix and prefix tricks, userinfo and look-alikes', () => {
    expect(decide('https', 'evil-allowed.com')).toBe('HTTP-request-denied');
    expect(decide('https', 'evilallowed.com')).toBe('HTTP-request-denied');
    expect(decide('https', 'allowed.com.evil.com')).toBe('HTTP-request-denied');
    expect(decide('https', 'evil.com.allowed.com')).toBe('HTTP-request-denied'); // not a wildcard rule
    expect(decide('https', 'allowed.com@evil.com')).toBe('HTTP-request-denied');
    expect(decide('https', 'allowed.com:443@evil.com')).toBe('HTTP-request-denied');
    // Cyrillic "а" in place of the Latin one: WHATWG URL turns it into punycode, which does not match
    expect(target('https', 'аllowed.com').host).toMatch(/^xn--/);
    expect(decide('https', 'аllowed.com')).toBe('HTTP-request-denied');
  });

  it('matches a wildcard on subdomains only, never the bare domain or a suffix look-alike', () => {
    expect(decide('https', 'img.cdn.example')).toBe('https://*.cdn.example');
    expect(decide('https', 'a.b.cdn.example')).toBe('https://*.cdn.example');
    expect(decide('https', 'IMG.CDN.EXAMPLE.')).toBe('https://*.cdn.example');
    expect(decide('https', 'cdn.example')).toBe('HTTP-request-denied');
    expect(decide('https', 'evilcdn.example')).toBe('HTTP-request-denied');
    expect(decide('https', 'img.cdn.example.evil.com')).toBe('HTTP-request-denied');
    expect(decide('http', 'img.cdn.example')).toBe('HTTP-request-denied');
  });

  it('refuses IP literals, which no rule names', () => {
    expect(decide('https', '127.0.0.1')).toBe('HTTP-request-denied');
    expect(decide('https', '2130706433')).toBe('HTTP-request-denied');
    expect(decide('https', '[::1]')).toBe('HTTP-request-denied');
  });

  it('allows nothing when the list is empty', () => {
    expect(new HostAllowlist([]).match(target('https', 'allowed.com'))).toBeUndefined();
  });
});
