import { describe, expect, it } from 'vitest';
import { HostAllowlist } from '../allowlist.js';
import { HOST_OWNED_HEADERS } from '../worker/header-rules.mjs';
import { createImports } from '../worker/imports.mjs';
import type { RequestMessage } from '../worker/messages.mjs';
import { RequestFailure, RequestPolicy } from './request-policy.js';

const enc = (s: string) => new TextEncoder().encode(s);

function request(headers: Array<[string, Uint8Array]>): RequestMessage {
  return {
    type: 'request',
    id: 1,
    method: 'GET',
    scheme: 'https',
    authority: 'up.test',
    path: '/',
    headers,
    body: null,
    timeouts: {},
  };
}

describe('the host-owned header list, as both threads apply it', () => {
  const names = Object.keys(HOST_OWNED_HEADERS);

  it('has both kinds of rule and only lowercase names', () => {
    expect(Object.values(HOST_OWNED_HEADERS)).toContain('refused');
    expect(Object.values(HOST_OWNED_HEADERS)).toContain('dropped');
    for (const name of names) expect(name).toBe(name.toLowerCase());
  });

  it("is what the guest's fields refuse, in any case, and no more", () => {
    const noop = () => undefined;
    const { imports } = createImports({
      getSetting: noop,
      log: noop,
      output: noop,
      exit: () => {
        throw new Error('exit');
      },
      post: noop,
      receive: noop,
      signalValue: () => 0,
      wait: noop,
      maxRequestBodyBytes: 16,
    });
    const { Fields } = imports['wasi:http/types'];
    for (const name of names) {
      const fields = new Fields();
      const set = () => fields.append(name.toUpperCase(), enc('x'));
      if (HOST_OWNED_HEADERS[name] === 'refused') expect(set).toThrow(expect.objectContaining({ tag: 'forbidden' }));
      else expect(set).not.toThrow();
    }
    expect(() => new Fields().append('X-Custom', enc('x'))).not.toThrow();
  });

  it('is what the request policy drops from what it sends, setting Host and Content-Length itself', () => {
    const policy = new RequestPolicy(new HostAllowlist(['https://up.test']), 1024);
    const { target, headers } = policy.check(
      request([...names.map((name): [string, Uint8Array] => [name.toUpperCase(), enc('x')]), ['X-Custom', enc('y')]]),
    );
    expect(target.authority).toBe('up.test');
    expect({ ...headers }).toEqual({ 'X-Custom': 'y', Host: 'up.test' });
  });

  it('refuses a malformed header before dropping a host-owned one', () => {
    const policy = new RequestPolicy(new HostAllowlist(['https://up.test']), 1024);
    const failure = (() => {
      try {
        policy.check(request([['Host', enc('a\r\nb')]]));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(RequestFailure);
    expect((failure as RequestFailure).code).toEqual({ tag: 'HTTP-request-denied' });
  });
});
