import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostAllowlist, isTargetProblem, MAX_PATH_LENGTH, parseRequestTarget } from './allowlist.js';
import { checkedPath } from './http-host/request-policy.js';
import {
  CALL_CANCELLED,
  type HttpEvent,
  type HttpPolicy,
  MESSAGES_PER_INSTANCE_PER_TURN,
  parseConnectTo,
  type RequestMessage,
  SourceHttp,
} from './http-host.js';
import { silentLogger } from './logger.js';
import { BatchReader, channelBuffer, MAILBOX_BYTES } from './worker/http-channel.mjs';

let server: http.Server;
let port: number;
const seen: Array<{ url: string; headers: http.IncomingHttpHeaders; raw: string[]; body: string }> = [];
let open = 0;
let maxOpen = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, raw: req.rawHeaders, body });
      open++;
      maxOpen = Math.max(maxOpen, open);
      res.on('close', () => open--);
      const url = req.url ?? '/';
      if (url === '/redirect') res.writeHead(301, { location: 'http://127.0.0.1:1/elsewhere' }).end();
      else if (url === '/big') res.end(Buffer.alloc(5000, 'b'));
      else if (url.startsWith('/big/')) res.end(Buffer.alloc(Number(url.slice(5)), 'b'));
      else if (url === '/declared-big') {
        res.writeHead(200, { 'content-length': '999999' });
        res.write('partial');
      } else if (url.startsWith('/slow')) setTimeout(() => res.end('slow'), 100);
      else if (url === '/hang') {
        // never answers
      } else res.end(`ok ${req.method} ${url}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function policy(overrides: Partial<HttpPolicy> = {}): HttpPolicy {
  return {
    sourceId: 'test',
    allowlist: new HostAllowlist(['http://up.test', 'http://rebind.test']),
    maxResponseBytes: 1024,
    maxConcurrency: 2,
    connectTo: parseConnectTo({ 'up.test:80': `127.0.0.1:${port}` }),
    allowPrivateAddresses: false,
    logger: silentLogger,
    ...overrides,
  };
}

let nextId = 1;
function message(authority: string, path = '/', extra: Partial<RequestMessage> = {}): RequestMessage {
  return {
    type: 'request',
    id: nextId++,
    method: 'GET',
    scheme: 'http',
    authority,
    path,
    headers: [],
    body: null,
    timeouts: {},
    ...extra,
  };
}

/** Runs one request and collects its events; the body chunks are joined. */
async function run(h: SourceHttp, msg: RequestMessage, deadlineMs = 5000) {
  const events: HttpEvent[] = [];
  await h.request(msg, Date.now() + deadlineMs, (e) => events.push(e), new AbortController().signal);
  const head = events.find((e) => e.type === 'head');
  const error = events.find((e) => e.type === 'error');
  const body = Buffer.concat(events.flatMap((e) => (e.type === 'chunk' ? [e.data] : []))).toString();
  return {
    status: head?.type === 'head' ? head.status : undefined,
    headers:
      head?.type === 'head'
        ? Object.fromEntries(head.headers.map(([k, v]) => [k.toLowerCase(), Buffer.from(v).toString()]))
        : {},
    body,
    error: error?.type === 'error' ? error.code : undefined,
    ended: events.some((e) => e.type === 'end'),
  };
}

describe('SourceHttp', () => {
  it('performs an allowed request through connectTo with the original Host header', async () => {
    const h = new SourceHttp(policy());
    const before = seen.length;
    const r = await run(
      h,
      message('up.test', '/hello?x=1', { headers: [['X-Test', new TextEncoder().encode('yes')]] }),
    );
    expect(r).toMatchObject({ status: 200, body: 'ok GET /hello?x=1', ended: true, error: undefined });
    expect(seen[before]?.headers.host).toBe('up.test');
    expect(seen[before]?.headers['x-test']).toBe('yes');
    expect(h.stats).toMatchObject({ requests: 1, denied: 0 });
    h.close();
  });

  it('refuses an undeclared host without connecting', async () => {
    const h = new SourceHttp(policy());
    const before = seen.length;
    expect((await run(h, message(`127.0.0.1:${port}`))).error).toEqual({ tag: 'HTTP-request-denied' });
    expect((await run(h, message('up.test', '/', { scheme: 'https' }))).error).toEqual({ tag: 'HTTP-request-denied' });
    expect((await run(h, message(`up.test@127.0.0.1:${port}`))).error).toEqual({ tag: 'HTTP-request-denied' });
    expect((await run(h, message('up.test', '/', { method: 'CONNECT' }))).error).toEqual({
      tag: 'HTTP-request-method-invalid',
    });
    expect(seen.length).toBe(before);
    expect(h.stats.denied).toBe(3);
    h.close();
  });

  it('logs refusals at most 20 times per window, counting every one', async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_obj: Record<string, unknown>, msg: string) => warnings.push(msg) };
    const h = new SourceHttp(policy({ logger }));
    for (let i = 0; i < 50; i++) await run(h, message(`evil${i}.test`));
    expect(h.stats.denied).toBe(50);
    expect(warnings).toEqual(Array(20).fill('plugin request refused'));
    h.close();
  });

  it('sends the body with its real length and drops framing headers the plugin set', async () => {
    const h = new SourceHttp(policy());
    const enc = new TextEncoder();
    const before = seen.length;
    const r = await run(
      h,
      message('up.test', '/post', {
        method: 'POST',
        body: enc.encode('payload'),
        headers: [
          ['Content-Length', enc.encode('2')],
          ['Transfer-Encoding', enc.encode('chunked')],
          ['Host', enc.encode('evil.test')],
        ],
      }),
    );
    expect(r.status).toBe(200);
    expect(seen[before]).toMatchObject({ body: 'payload', headers: { host: 'up.test', 'content-length': '7' } });
    expect(seen[before]?.headers['transfer-encoding']).toBeUndefined();
    expect((await run(h, message('up.test', '/', { headers: [['X-Bad', enc.encode('a\r\nb')]] }))).error).toEqual({
      tag: 'HTTP-request-denied',
    });
    h.close();
  });

  it('sends repeated headers each, and a header of any token name', async () => {
    const h = new SourceHttp(policy());
    const enc = new TextEncoder();
    const before = seen.length;
    const r = await run(
      h,
      message('up.test', '/headers', {
        headers: [
          ['X-Many', enc.encode('one')],
          ['X-Many', enc.encode('two')],
          ['X-Many', enc.encode('three')],
          ['__proto__', enc.encode('plain')],
        ],
      }),
    );
    expect(r.status).toBe(200);
    expect(seen[before]?.headers['x-many']).toBe('one, two, three');
    const raw = seen[before]?.raw ?? [];
    expect(raw[raw.indexOf('__proto__') + 1]).toBe('plain');
    h.close();
  });

  it('checks paths as parseRequestTarget does, for authorities it has parsed before', () => {
    const paths = [
      undefined,
      '',
      '/',
      '/ok?q=1&r=%20',
      'relative',
      '//double',
      '/a b',
      '/tab\t',
      '/nul\0',
      '/del\x7f',
      '/é',
      '/\r\nHost: evil.test',
      `/${'a'.repeat(MAX_PATH_LENGTH - 1)}`,
      `/${'a'.repeat(MAX_PATH_LENGTH)}`,
    ];
    for (const path of paths) {
      const parsed = parseRequestTarget('http', 'up.test', path);
      let mine: string;
      try {
        mine = checkedPath(path);
      } catch (err) {
        mine = `refused ${(err as { code: { tag: string } }).code.tag}`;
      }
      expect(mine, JSON.stringify(path)).toBe(isTargetProblem(parsed) ? `refused ${parsed.code}` : parsed.path);
    }
  });

  it('gives a repeated request the verdict of the first, in the same order of checks', async () => {
    const h = new SourceHttp(policy());
    for (let i = 0; i < 2; i++) {
      expect((await run(h, message('up.test', '/a b'))).error).toEqual({ tag: 'HTTP-request-URI-invalid' });
      expect((await run(h, message('evil.test', '/a b'))).error).toEqual({ tag: 'HTTP-request-URI-invalid' });
      expect((await run(h, message('evil.test', '/'))).error).toEqual({ tag: 'HTTP-request-denied' });
      expect((await run(h, message('up.test:81', '/'))).error).toEqual({ tag: 'HTTP-request-denied' });
      expect((await run(h, message('user@up.test', '/'))).error).toEqual({ tag: 'HTTP-request-denied' });
      expect((await run(h, message('up.test/x', '/'))).error).toEqual({ tag: 'HTTP-request-URI-invalid' });
      expect((await run(h, message('up.test', '/', { scheme: 'ftp' }))).error).toEqual({ tag: 'HTTP-request-denied' });
      expect((await run(h, message('up.test', '/', { scheme: 'https' }))).error).toEqual({
        tag: 'HTTP-request-denied',
      });
      // too long to be kept, judged afresh each time
      expect((await run(h, message(`${'a'.repeat(400)}.test`, '/'))).error).toEqual({
        tag: 'HTTP-request-URI-invalid',
      });
      expect((await run(h, message('up.test', '/', { scheme: `http${'s'.repeat(40)}` }))).error).toEqual({
        tag: 'HTTP-request-denied',
      });
      expect((await run(h, message('UP.test.', `/again-${i}`))).status).toBe(200);
    }
    expect(seen.at(-1)?.url).toBe('/again-1');
    expect(seen.at(-1)?.headers.host).toBe('up.test');
    h.close();
  });

  it('returns a redirect as a response instead of following it', async () => {
    const h = new SourceHttp(policy());
    const r = await run(h, message('up.test', '/redirect'));
    expect(r).toMatchObject({ status: 301, ended: true });
    expect(r.headers.location).toBe('http://127.0.0.1:1/elsewhere');
    h.close();
  });

  it('fails a body over max_response_bytes, counted or declared', async () => {
    const h = new SourceHttp(policy());
    const big = await run(h, message('up.test', '/big'));
    expect(big.status).toBe(200);
    expect(big.error).toEqual({ tag: 'HTTP-response-body-size', val: expect.any(BigInt) });
    expect(big.body.length).toBeLessThanOrEqual(1024);
    expect(big.ended).toBe(false);
    const declared = await run(h, message('up.test', '/declared-big'));
    expect(declared.error).toEqual({ tag: 'HTTP-response-body-size', val: 999999n });
    h.close();
  });

  it('refuses a private DNS answer unless the operator allows private addresses', async () => {
    const lookup = async () => [{ address: '127.0.0.1', family: 4 }];
    const strict = new SourceHttp(policy({ lookup, allowlist: new HostAllowlist([`http://rebind.test:${port}`]) }));
    const before = seen.length;
    expect((await run(strict, message(`rebind.test:${port}`))).error).toEqual({ tag: 'destination-IP-prohibited' });
    expect(seen.length).toBe(before);
    strict.close();

    const mixed = new SourceHttp(
      policy({
        lookup: async () => [
          { address: '10.0.0.1', family: 4 },
          { address: '127.0.0.1', family: 4 },
        ],
        allowlist: new HostAllowlist([`http://rebind.test:${port}`]),
      }),
    );
    expect((await run(mixed, message(`rebind.test:${port}`))).error).toEqual({ tag: 'destination-IP-prohibited' });
    mixed.close();

    const open = new SourceHttp(
      policy({ lookup, allowPrivateAddresses: true, allowlist: new HostAllowlist([`http://rebind.test:${port}`]) }),
    );
    expect(await run(open, message(`rebind.test:${port}`, '/in'))).toMatchObject({ status: 200, body: 'ok GET /in' });
    expect(seen.at(-1)?.headers.host).toBe(`rebind.test:${port}`);
    open.close();
  });

  it('reports a DNS failure as DNS-error', async () => {
    const lookup = async () => {
      throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
    };
    const h = new SourceHttp(policy({ lookup }));
    expect((await run(h, message('rebind.test'))).error).toEqual({
      tag: 'DNS-error',
      val: { rcode: 'ENOTFOUND', infoCode: undefined },
    });
    h.close();
  });

  it('keeps at most max_concurrency requests in flight', async () => {
    const h = new SourceHttp(policy({ maxConcurrency: 2 }));
    maxOpen = 0;
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => run(h, message('up.test', `/slow${i}`))));
    expect(results.map((r) => r.body)).toEqual(Array(6).fill('slow'));
    expect(maxOpen).toBeLessThanOrEqual(2);
    expect(h.stats.maxInFlight).toBe(2);
    expect(h.active).toBe(0);
    h.close();
  });

  it('ends a request at the call deadline and when aborted', async () => {
    const h = new SourceHttp(policy());
    expect((await run(h, message('up.test', '/hang'), 200)).error).toEqual({ tag: 'HTTP-response-timeout' });
    expect((await run(h, message('up.test', '/hang', { timeouts: { firstByteMs: 50 } }))).error).toEqual({
      tag: 'HTTP-response-timeout',
    });
    const ac = new AbortController();
    const events: HttpEvent[] = [];
    const pending = h.request(message('up.test', '/hang'), Date.now() + 5000, (e) => events.push(e), ac.signal);
    setTimeout(() => ac.abort(), 50);
    await pending;
    expect(events).toEqual([]);
    expect(h.active).toBe(0);
    h.close();
  });

  it('serves a worker port: without a mailbox, events are posted in numbered batches and the signal word is bumped for each', async () => {
    const h = new SourceHttp(policy());
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const { detach } = h.attach(port1, signal, () => Date.now() + 5000);
    port2.postMessage(message('up.test', '/via-port'));
    const events: HttpEvent[] = [];
    const seqs: number[] = [];
    for (let i = 0; i < 500 && !events.some((e) => e.type === 'end'); i++) {
      await new Promise((r) => setTimeout(r, 10));
      for (let m = receiveMessageOnPort(port2); m; m = receiveMessageOnPort(port2)) {
        const batch = m.message as { seq: number; events: HttpEvent[] };
        events.push(...batch.events);
        seqs.push(batch.seq);
      }
    }
    expect(events.map((e) => e.type)).toEqual(['head', 'chunk', 'end']);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(Atomics.load(signal, 0)).toBe(seqs.length);
    detach();
    port2.close();
    h.close();
  });

  it('serves a worker port with a mailbox: a batch goes there when it is empty, else by the port, and they are taken in order', async () => {
    const h = new SourceHttp(policy({ maxResponseBytes: 4 * MAILBOX_BYTES }));
    const { port1, port2 } = new MessageChannel();
    const buffer = channelBuffer();
    const signal = new Int32Array(buffer);
    const { detach } = h.attach(port1, signal, () => Date.now() + 5000);
    // one small response, then one whose body comes in several reads while the mailbox is still full
    port2.postMessage(message('up.test', '/via-port'));
    port2.postMessage(message('up.test', `/big/${MAILBOX_BYTES + 1000}`));
    const reader = new BatchReader(buffer, port2);
    const events: HttpEvent[] = [];
    for (let i = 0; i < 500 && events.filter((e) => e.type === 'end').length < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
      for (let batch = reader.next(); batch; batch = reader.next()) events.push(...(batch as HttpEvent[]));
    }
    const ids = [...new Set(events.map((e) => e.id))];
    expect(ids).toHaveLength(2);
    const small = events.filter((e) => e.id === ids[0]);
    expect(small.map((e) => e.type)).toEqual(['head', 'chunk', 'end']);
    const head = small[0] as Extract<HttpEvent, { type: 'head' }>;
    expect(head.status).toBe(200);
    expect(head.headers.some(([name]) => name.toLowerCase() === 'content-length')).toBe(true);
    const bigBytes = events
      .filter((e): e is Extract<HttpEvent, { type: 'chunk' }> => e.id === ids[1] && e.type === 'chunk')
      .reduce((n, e) => n + e.data.length, 0);
    expect(bigBytes).toBe(MAILBOX_BYTES + 1000);
    expect(reader.taken.mailbox).toBeGreaterThanOrEqual(1);
    expect(reader.taken.port).toBeGreaterThanOrEqual(1);
    expect(Atomics.load(signal, 0)).toBe(reader.taken.mailbox + reader.taken.port);
    detach();
    port2.close();
    h.close();
  });

  it('ends a request the worker aborts, and those still in flight when it detaches', async () => {
    const h = new SourceHttp(policy());
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const { detach } = h.attach(port1, signal, () => Date.now() + 5000);
    const first = message('up.test', '/hang');
    port2.postMessage(first);
    port2.postMessage(message('up.test', '/hang'));
    for (let i = 0; i < 200 && h.active < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(h.active).toBe(2);
    port2.postMessage({ type: 'abort', id: first.id });
    for (let i = 0; i < 200 && h.active > 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(h.active).toBe(1);
    detach();
    for (let i = 0; i < 200 && h.active > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(h.active).toBe(0);
    // an aborted request reports nothing
    expect(receiveMessageOnPort(port2)).toBeUndefined();
    port2.close();
    h.close();
  });

  it('cancelCall aborts every request of the instance with an error event for each and refuses new ones until callStarted', async () => {
    const h = new SourceHttp(policy({ maxConcurrency: 1 }));
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const attached = h.attach(port1, signal, () => Date.now() + 5000);
    const inFlight = message('up.test', '/hang');
    // waits for the one slot
    const queued = message('up.test', '/hang');
    port2.postMessage(inFlight);
    port2.postMessage(queued);
    for (let i = 0; i < 200 && h.active < 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(h.active).toBe(1);
    const events: HttpEvent[] = [];
    const collect = async (until: () => boolean) => {
      for (let i = 0; i < 200 && !until(); i++) {
        await new Promise((r) => setTimeout(r, 5));
        for (let m = receiveMessageOnPort(port2); m; m = receiveMessageOnPort(port2)) {
          events.push(...(m.message as { events: HttpEvent[] }).events);
        }
      }
    };
    attached.cancelCall();
    await collect(() => events.length >= 2 && h.active === 0);
    expect(events.map((e) => [e.id, e.type === 'error' ? e.code : e.type]).sort()).toEqual(
      [
        [inFlight.id, CALL_CANCELLED],
        [queued.id, CALL_CANCELLED],
      ].sort(),
    );
    expect(h.active).toBe(0);
    // the cancelled call goes on sending: refused at once, nothing reaches the upstream
    const before = seen.length;
    const late = message('up.test', '/after-cancel');
    port2.postMessage(late);
    await collect(() => events.length >= 3);
    expect(events[2]).toEqual({ id: late.id, type: 'error', code: CALL_CANCELLED });
    attached.callStarted();
    const next = message('up.test', '/next-call');
    port2.postMessage(next);
    await collect(() => events.some((e) => e.id === next.id && e.type === 'end'));
    expect(events.filter((e) => e.id === next.id).map((e) => e.type)).toEqual(['head', 'chunk', 'end']);
    expect(seen.slice(before).map((r) => r.url)).toEqual(['/next-call']);
    attached.detach();
    port2.close();
    h.close();
  });

  describe('per-instance bounds', () => {
    /** A second upstream: a body of /stream/<bytes>, or a POST it never reads (/sink). */
    let upstream: http.Server;
    let upstreamPort: number;
    beforeAll(async () => {
      const chunk = Buffer.alloc(64 * 1024, 's');
      upstream = http.createServer((req, res) => {
        if (req.url === '/sink') {
          req.pause();
          return;
        }
        if (req.method === 'POST') {
          req.resume();
          req.on('end', () => res.end('took it'));
          return;
        }
        const total = Number((req.url ?? '').slice('/stream/'.length));
        let sent = 0;
        const more = () => {
          while (sent < total) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', more);
              return;
            }
          }
          res.end();
        };
        more();
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      upstreamPort = (upstream.address() as AddressInfo).port;
    });
    afterAll(async () => {
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    });

    const attachTo = (h: SourceHttp, maxUnread?: number) => {
      const { port1, port2 } = new MessageChannel();
      const buffer = channelBuffer();
      const attached = h.attach(port1, new Int32Array(buffer), () => Date.now() + 10_000, undefined, maxUnread);
      const reader = new BatchReader(buffer, port2);
      const events: HttpEvent[] = [];
      const pump = async (until: () => boolean, rounds = 400) => {
        for (let i = 0; i < rounds && !until(); i++) {
          await new Promise((r) => setTimeout(r, 5));
          for (let batch = reader.next(); batch; batch = reader.next()) events.push(...(batch as HttpEvent[]));
        }
      };
      return { attached, port2, reader, events, pump };
    };
    const streamPolicy = () =>
      policy({
        maxResponseBytes: 64 * 1024 * 1024,
        connectTo: parseConnectTo({ 'up.test:80': `127.0.0.1:${upstreamPort}` }),
      });
    const bodyBytes = (events: HttpEvent[]) => events.reduce((n, e) => n + (e.type === 'chunk' ? e.data.length : 0), 0);

    it('pauses an instance at its unread cap, keeps what Node buffers for the paused socket small, and resumes when the guest gives up half', async () => {
      const h = new SourceHttp(streamPolicy());
      const cap = 1024 * 1024;
      const total = 16 * 1024 * 1024;
      const { attached, port2, reader, events, pump } = attachTo(h, cap);
      port2.postMessage(message('up.test', `/stream/${total}`));
      await pump(() => attached.flow.heldBack);
      expect(attached.flow.heldBack).toBe(true);
      // settle: nothing more reaches the guest, and the socket is not read much further
      await pump(() => false, 20);
      const emitted = bodyBytes(events);
      expect(emitted).toBeGreaterThan(cap);
      expect(emitted).toBeLessThan(cap + 256 * 1024);
      expect(attached.flow.unread).toBe(emitted);
      const agents = (h as unknown as { transport: { agents: { http: http.Agent } } }).transport.agents;
      const sockets = Object.values(agents.http.sockets).flat();
      const bytesRead = sockets.reduce((n, socket) => n + (socket?.bytesRead ?? 0), 0);
      console.log(`paused at ${emitted} bytes emitted; the host's socket had read ${bytesRead}`);
      expect(bytesRead - emitted).toBeLessThan(1024 * 1024);
      // the guest reads half: the worker side asks for more, once
      expect(reader.flow.release(emitted - cap / 2 - 1)).toBe(false);
      expect(reader.flow.release(1)).toBe(true);
      port2.postMessage({ type: 'resume' });
      await pump(() => bodyBytes(events) > emitted);
      expect(bodyBytes(events)).toBeGreaterThan(emitted);
      // reading everything as it comes lets the whole body through
      await pump(() => {
        if (reader.flow.release(attached.flow.unread)) port2.postMessage({ type: 'resume' });
        return events.some((e) => e.type === 'end');
      });
      expect(bodyBytes(events)).toBe(total);
      expect(attached.flow.holds).toBeGreaterThan(1);
      attached.detach();
      port2.close();
      h.close();
    });

    it('reports a request body done when it is written out or dropped, never while it waits', async () => {
      const h = new SourceHttp({ ...streamPolicy(), maxConcurrency: 1 });
      const { attached, port2, reader, events, pump } = attachTo(h);
      const body = (n: number) => ({ body: new Uint8Array(n), method: 'POST' });
      port2.postMessage(message('up.test', '/taken', body(1000)));
      await pump(() => events.some((e) => e.type === 'end'));
      expect(reader.flow.bodyBytesDone()).toBe(1000);
      // a 4 MiB body to an upstream that never reads, and one queued behind it for the one slot
      const stuck = message('up.test', '/sink', body(4 * 1024 * 1024));
      const queued = message('up.test', '/sink', body(3000));
      port2.postMessage(stuck);
      port2.postMessage(queued);
      await pump(() => false, 40);
      expect(reader.flow.bodyBytesDone()).toBe(1000);
      expect(reader.flow.finishedRequests()).toBe(1);
      port2.postMessage({ type: 'abort', id: queued.id });
      await pump(() => reader.flow.bodyBytesDone() === 4000);
      expect(reader.flow.bodyBytesDone()).toBe(4000);
      port2.postMessage({ type: 'abort', id: stuck.id });
      await pump(() => reader.flow.bodyBytesDone() === 4000 + 4 * 1024 * 1024);
      expect(reader.flow.bodyBytesDone()).toBe(4000 + 4 * 1024 * 1024);
      expect(reader.flow.finishedRequests()).toBe(3);
      expect(h.active).toBe(0);
      attached.detach();
      port2.close();
      h.close();
    });

    it('handles a burst of one instance over turns, and a request dropped before its turn never starts', async () => {
      const h = new SourceHttp(policy({ maxConcurrency: 2 }));
      const { attached, port2, reader, pump } = attachTo(h);
      const before = seen.length;
      const burst = Array.from({ length: 4 * MESSAGES_PER_INSTANCE_PER_TURN }, () => message('up.test', '/hang'));
      for (const m of burst) port2.postMessage(m);
      for (const m of burst) port2.postMessage({ type: 'abort', id: m.id });
      await pump(() => reader.flow.finishedRequests() === burst.length && h.active === 0);
      expect(reader.flow.finishedRequests()).toBe(burst.length);
      expect(h.active).toBe(0);
      // only requests of the first turns got to the upstream (two at a time); the rest were dropped
      // while they waited for their turn
      expect(seen.length - before).toBeLessThanOrEqual(2);
      attached.detach();
      port2.close();
      h.close();
    });

    it('arms no timer for a guest timeout longer than the call has left', async () => {
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.name);
      process.on('warning', onWarning);
      try {
        const h = new SourceHttp(policy());
        const huge = Number.MAX_SAFE_INTEGER;
        const r = await run(
          h,
          message('up.test', '/slow', { timeouts: { connectMs: huge, firstByteMs: huge, betweenBytesMs: huge } }),
        );
        expect(r.body).toBe('slow');
        h.close();
        await new Promise((resolve) => setTimeout(resolve, 10));
      } finally {
        process.off('warning', onWarning);
      }
      expect(warnings).toEqual([]);
    });
  });

  it('verifies TLS certificates: a self-signed upstream fails with TLS-certificate-error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'awasm-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
          '-days',
          '2',
          '-subj',
          '/CN=secure.test',
          '-addext',
          'subjectAltName=DNS:secure.test',
        ],
        { stdio: 'ignore' },
      );
      let reached = 0;
      const tls = https.createServer(
        { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
        (_req, res) => {
          reached++;
          res.end('secret');
        },
      );
      await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
      const tlsPort = (tls.address() as AddressInfo).port;
      const h = new SourceHttp(
        policy({
          allowlist: new HostAllowlist(['https://secure.test']),
          connectTo: parseConnectTo({ 'secure.test:443': `127.0.0.1:${tlsPort}` }),
        }),
      );
      expect((await run(h, message('secure.test', '/', { scheme: 'https' }))).error).toEqual({
        tag: 'TLS-certificate-error',
      });
      expect(reached).toBe(0);
      h.close();
      tls.closeAllConnections();
      await new Promise((resolve) => tls.close(resolve));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses connectTo entries and refuses malformed ones', () => {
    expect(parseConnectTo({ 'Demo.Test:80': '127.0.0.1:9000', '[::1]:443': '[::1]:8443' })).toEqual(
      new Map([
        ['demo.test:80', { host: '127.0.0.1', port: 9000 }],
        ['::1:443', { host: '::1', port: 8443 }],
      ]),
    );
    expect(() => parseConnectTo({ 'demo.test': '127.0.0.1:9000' })).toThrow(/must map host:port to host:port/);
  });
});
