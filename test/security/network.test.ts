import { PluginCallError, type RunnerPool } from '@awasm/plugin-runner';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Fixture, fixtureServer } from '../support/fixture-server.js';
import { captureLogger } from '../support/logging.js';
import { rejection } from '../support/rejection.js';
import { type Built, newPool, spec } from '../support/runner.js';
import { buildPlugin } from './helpers.js';

// The fetcher plugin against the host's wasi:http: only http://allowed.awasm.test is in its
// allowed_hosts, and the operator maps that name to the upstream fixture on loopback (connectTo).
// `forbidden` is another loopback server the plugin must never reach.

let plugin: Built;
let upstream: Fixture;
let forbidden: Fixture;
let pool: RunnerPool;
const logger = captureLogger();

const ALLOWED = 'allowed.awasm.test';

const failure = (promise: Promise<unknown>) => rejection(promise, PluginCallError);

/** One request through raw wasi:http: the plugin reports the exact error-code tag. */
function raw(
  p: RunnerPool,
  id: string,
  authority: string,
  options: { scheme?: string; path?: string; headers?: Array<[string, string]>; method?: string; body?: string } = {},
) {
  const request = {
    scheme: options.scheme ?? 'http',
    authority,
    path: options.path ?? '/raw',
    headers: options.headers ?? [],
    ...(options.method ? { method: options.method } : {}),
    ...(options.body === undefined ? {} : { body: options.body }),
  };
  return p.call(id, 'getMedia', [JSON.stringify(request)]) as Promise<{ id: string; title: string }>;
}

async function refusedWith(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await failure(promise);
  expect(err.kind).toBe('source-error');
  expect(err.sourceError).toEqual({ tag: 'network', val: code });
}

beforeAll(async () => {
  plugin = await buildPlugin('fetcher');
  forbidden = await fixtureServer((_req, res) => res.end('secret'));
  upstream = await fixtureServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/redirect-loopback') {
      res.writeHead(302, { location: `${forbidden.url}/secret` }).end();
    } else if (path === '/redirect-metadata') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    } else if (path === '/big') {
      res.end(Buffer.alloc(2 * 1024 * 1024, 'a'));
    } else if (path === '/headers') {
      res.end(JSON.stringify(req.headers));
    } else if (path.startsWith('/slow')) {
      setTimeout(() => res.end('slow'), 150);
    } else if (path === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(JSON.stringify({ headers: req.headers, body: Buffer.concat(chunks).toString() })));
    } else if (path === '/drip') {
      // a very slow body: one byte now and then, never finishing
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('d');
      const timer = setInterval(() => res.write('d'), 100);
      res.on('close', () => clearInterval(timer));
    } else if (path === '/tarpit') {
      // never answers
    } else {
      res.end(`hello ${req.headers.host} ${path}`);
    }
  });
  pool = newPool({ connectTo: { [`${ALLOWED}:80`]: `127.0.0.1:${upstream.port}` }, logger });
  await pool.load(
    spec('net', plugin, {
      allowedHosts: [`http://${ALLOWED}`],
      limits: { maxConcurrency: 2, callTimeoutMs: 10_000, requestsPerSecond: 1000 },
    }),
  );
});

afterAll(async () => {
  await pool?.close();
  await upstream?.close();
  await forbidden?.close();
});

describe('outgoing HTTP is limited to allowed_hosts', () => {
  it('refuses an undeclared loopback host with HTTP-request-denied, and nothing reaches it', async () => {
    const viaFetch = await failure(pool.call('net', 'search', [`${forbidden.url}/steal`, []]));
    expect(viaFetch.kind).toBe('source-error');
    expect(viaFetch.sourceError?.tag).toBe('network');

    await refusedWith(raw(pool, 'net', `127.0.0.1:${forbidden.port}`), 'HTTP-request-denied');
    await refusedWith(raw(pool, 'net', `localhost:${forbidden.port}`), 'HTTP-request-denied');

    expect(forbidden.requests).toEqual([]);
    expect(pool.stats('net')?.http.denied).toBeGreaterThanOrEqual(3);
    const refusal = logger.records.find((r) => r.msg === 'plugin request refused');
    expect(refusal?.obj.reason).toMatch(/not in allowed_hosts/);
    // the instance is still healthy
    expect(await pool.call('net', 'list', ['popular'])).toMatchObject({ items: [{ title: 'listing popular' }] });
  });

  it('lets an allowed host through connectTo, sending the original Host header', async () => {
    const page = (await pool.call('net', 'search', [`http://${ALLOWED}/hello`, []])) as {
      items: Array<{ id: string; title: string }>;
    };
    expect(page.items[0]).toMatchObject({ id: '200', title: `hello ${ALLOWED} /hello` });
    expect(upstream.requests.at(-1)).toMatchObject({ host: ALLOWED, url: '/hello' });
  });

  it('matches on the parsed host: case, a trailing dot and the default port are the same host', async () => {
    for (const authority of [ALLOWED.toUpperCase(), `${ALLOWED}.`, `${ALLOWED}:80`]) {
      const media = await raw(pool, 'net', authority, { path: '/same' });
      expect(media).toMatchObject({ id: '200', title: `hello ${ALLOWED} /same` });
    }
  });

  it('refuses host string tricks, numeric IP forms, other ports and other schemes', async () => {
    const p = forbidden.port;
    const denied = [
      `${ALLOWED}@127.0.0.1:${p}`,
      `${ALLOWED}:${p}@127.0.0.1`,
      `${ALLOWED}:8080`,
      `${ALLOWED}.evil.test`,
      `evil.test.${ALLOWED}`,
      `evil-${ALLOWED}`,
      `evil.test`,
      `2130706433:${p}`,
      `0x7f000001:${p}`,
      `127.1:${p}`,
      `[::1]:${p}`,
      `[::ffff:127.0.0.1]:${p}`,
      `xn--llowed-4of.awasm.test`,
    ];
    for (const authority of denied) {
      await refusedWith(raw(pool, 'net', authority), 'HTTP-request-denied');
    }
    await refusedWith(raw(pool, 'net', ALLOWED, { scheme: 'https' }), 'HTTP-request-denied');
    await refusedWith(raw(pool, 'net', ALLOWED, { scheme: 'ftp' }), 'HTTP-request-denied');
    await refusedWith(raw(pool, 'net', `${ALLOWED}%2f@127.0.0.1:${p}`), 'HTTP-request-denied');
    await refusedWith(raw(pool, 'net', `127.0.0.1%2f.${ALLOWED}`), 'HTTP-request-URI-invalid');
    for (const authority of [`${ALLOWED}..`, `${ALLOWED}:0`, `${ALLOWED}:65536`, `${ALLOWED}:80:80`]) {
      const err = await failure(raw(pool, 'net', authority));
      expect(err.sourceError?.tag).toBe('network');
      expect(['HTTP-request-URI-invalid', 'HTTP-request-denied']).toContain(err.sourceError?.val);
    }
    expect(forbidden.requests).toEqual([]);
  });

  it('keeps Host and framing headers under host control and refuses CR/LF injection', async () => {
    await refusedWith(raw(pool, 'net', ALLOWED, { headers: [['Host', 'evil.test']] }), 'header Host: forbidden');
    await refusedWith(
      raw(pool, 'net', ALLOWED, { headers: [['X-Note', 'a\r\nHost: evil.test']] }),
      'header X-Note: invalid-syntax',
    );
    await refusedWith(raw(pool, 'net', ALLOWED, { headers: [['Bad Name', 'x']] }), 'header Bad Name: invalid-syntax');
    await refusedWith(
      raw(pool, 'net', ALLOWED, { headers: [['X-A\r\nHost', 'evil.test']] }),
      'header X-A\r\nHost: invalid-syntax',
    );
    await refusedWith(raw(pool, 'net', ALLOWED, { headers: [['X-Nul', 'a\u0000b']] }), 'header X-Nul: invalid-syntax');
    for (const name of ['Transfer-Encoding', 'Connection', 'Upgrade']) {
      await refusedWith(raw(pool, 'net', ALLOWED, { headers: [[name, 'x']] }), `header ${name}: forbidden`);
    }
    const media = await raw(pool, 'net', ALLOWED, {
      path: '/headers',
      headers: [
        ['Content-Length', '99'],
        ['X-Ok', 'fine'],
      ],
    });
    const seen = JSON.parse(media.title) as Record<string, string>;
    expect(seen.host).toBe(ALLOWED);
    expect(seen['x-ok']).toBe('fine');
    expect(seen['content-length']).toBeUndefined();

    // a Content-Length that does not match the body is replaced by the real length: no smuggling
    const posted = await raw(pool, 'net', ALLOWED, {
      path: '/echo',
      method: 'POST',
      headers: [['Content-Length', '3']],
      body: 'hello world, then a second request',
    });
    const echo = JSON.parse(posted.title) as { headers: Record<string, string>; body: string };
    expect(echo.body).toBe('hello world, then a second request');
    expect(echo.headers['content-length']).toBe('34');
    expect(echo.headers.host).toBe(ALLOWED);
    expect(pool.stats('net')?.http.bytesOut).toBeGreaterThanOrEqual(34);
  });

  it('returns redirects to the plugin; following one to loopback or a metadata address is refused', async () => {
    const page = (await pool.call('net', 'search', [`http://${ALLOWED}/redirect-loopback`, []])) as {
      items: Array<{ id: string; description?: string }>;
    };
    expect(page.items[0]).toMatchObject({ id: '302', description: `${forbidden.url}/secret` });
    const follow = await failure(pool.call('net', 'search', [page.items[0]?.description, []]));
    expect(follow.sourceError?.tag).toBe('network');

    const meta = (await pool.call('net', 'search', [`http://${ALLOWED}/redirect-metadata`, []])) as {
      items: Array<{ id: string; description?: string }>;
    };
    expect(meta.items[0]?.id).toBe('302');
    await refusedWith(raw(pool, 'net', '169.254.169.254', { path: '/latest/meta-data/' }), 'HTTP-request-denied');
    expect(forbidden.requests).toEqual([]);
  });

  it('fails a response body over max_response_bytes with HTTP-response-body-size', async () => {
    await refusedWith(raw(pool, 'net', ALLOWED, { path: '/big' }), 'body: HTTP-response-body-size');
    const viaFetch = await failure(pool.call('net', 'search', [`http://${ALLOWED}/big`, []]));
    expect(viaFetch.sourceError?.tag).toBe('network');
    expect(await pool.call('net', 'list', ['latest'])).toMatchObject({ items: [{ title: 'listing latest' }] });
  });

  it('keeps at most max_concurrency requests in flight and queues the rest', async () => {
    const before = upstream.requests.length;
    const urls = Array.from({ length: 8 }, (_, i) => `http://${ALLOWED}/slow${i}`);
    const assets = (await pool.call('net', 'getAssets', [JSON.stringify(urls)])) as Array<{ text: string }>;
    expect(assets.map((a) => a.text)).toEqual(urls.map(() => '200:slow'));
    expect(upstream.requests.length - before).toBe(8);
    expect(upstream.maxConcurrent).toBeLessThanOrEqual(2);
    expect(pool.stats('net')?.http.maxInFlight).toBe(2);
  });

  it('ends a call reading a body that drips forever at its deadline, and the instance serves again', async () => {
    const abandoned = upstream.abandoned;
    const err = await failure(pool.call('net', 'search', [`http://${ALLOWED}/drip`, []], { timeoutMs: 800 }));
    expect(err.kind).toBe('deadline-exceeded');
    await vi.waitFor(() => expect(upstream.abandoned).toBeGreaterThan(abandoned), { timeout: 5000 });
    expect(await pool.call('net', 'list', ['popular'])).toMatchObject({ items: [{ title: 'listing popular' }] });
  });

  it('caps a flood of concurrent requests: max_concurrency in flight, a bounded queue, the rest refused', async () => {
    const before = upstream.requests.length;
    upstream.maxConcurrent = 0;
    const assets = (await pool.call('net', 'getAssets', [
      JSON.stringify({ url: `http://${ALLOWED}/slow-flood`, count: 120 }),
    ])) as Array<{ text: string }>;
    const served = assets.filter((a) => a.text === '200:slow').length;
    const refused = assets.filter((a) => a.text.startsWith('error:')).length;
    expect(served + refused).toBe(120);
    // 2 in flight plus 16 x 2 waiting; everything past that failed at once
    expect(served).toBeLessThanOrEqual(2 + 32);
    expect(served).toBeGreaterThanOrEqual(2);
    expect(refused).toBeGreaterThanOrEqual(120 - 34);
    expect(upstream.requests.length - before).toBe(served);
    expect(upstream.maxConcurrent).toBeLessThanOrEqual(2);
    expect(await pool.call('net', 'list', ['popular'])).toMatchObject({ items: [{ title: 'listing popular' }] });
  });

  it('ends a call stuck on a tarpit at its deadline and drops the upstream connection', async () => {
    const err = await failure(pool.call('net', 'search', [`http://${ALLOWED}/tarpit`, []], { timeoutMs: 1000 }));
    expect(err.kind).toBe('deadline-exceeded');
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    await vi.waitFor(() => expect(upstream.abandoned).toBeGreaterThanOrEqual(1), { timeout: 5000 });
    expect(await pool.call('net', 'list', ['popular'])).toMatchObject({ items: [{ title: 'listing popular' }] });
  });
});

describe('numeric IP forms', () => {
  it('are canonicalised before matching: a manifest that lists a loopback IP still cannot reach it', async () => {
    const p = forbidden.port;
    const ip = newPool({ logger });
    try {
      await ip.load(
        spec('ip', plugin, {
          allowedHosts: [`http://127.0.0.1:${p}`, `http://2130706433:${p}`, `http://0x7f000001:${p}`],
        }),
      );
      // every numeric spelling of 127.0.0.1 is the same host, and loopback is refused after "DNS"
      for (const authority of [
        `127.0.0.1:${p}`,
        `2130706433:${p}`,
        `0x7f000001:${p}`,
        `127.1:${p}`,
        `0177.0.0.1:${p}`,
      ]) {
        await refusedWith(raw(ip, 'ip', authority), 'destination-IP-prohibited');
      }
      // IPv6 loopback forms do not match an IPv4 rule at all
      for (const authority of [`[::1]:${p}`, `[::ffff:127.0.0.1]:${p}`, `[0:0:0:0:0:0:0:1]:${p}`]) {
        await refusedWith(raw(ip, 'ip', authority), 'HTTP-request-denied');
      }
      expect(forbidden.requests).toEqual([]);
      expect(
        logger.records.some((r) => r.obj.source === 'ip' && /127\.0\.0\.1, .*loopback/.test(String(r.obj.reason))),
      ).toBe(true);
    } finally {
      await ip.close();
    }
  });
});

describe('the address policy applies after DNS', () => {
  const answers: Record<string, string | string[]> = {
    'rebind.awasm.test': '127.0.0.1',
    'meta.awasm.test': '169.254.169.254',
    'lan.awasm.test': '10.1.2.3',
    'mapped.awasm.test': '::ffff:127.0.0.1',
    // every answer of a multi-address reply is checked; none of these may be used
    'many.awasm.test': ['0.0.0.0', '192.168.1.20', '100.64.0.1', 'fd12:3456::1', 'fe80::1', '::1', '64:ff9b::7f00:1'],
  };
  const lookups: string[] = [];
  const lookup = async (hostname: string) => {
    lookups.push(hostname);
    const address = answers[hostname];
    if (!address) throw Object.assign(new Error(`no such host ${hostname}`), { code: 'ENOTFOUND' });
    return (Array.isArray(address) ? address : [address]).map((a) => ({ address: a, family: a.includes(':') ? 6 : 4 }));
  };
  const allowedHosts = () => [
    `http://rebind.awasm.test:${forbidden.port}`,
    'http://meta.awasm.test',
    'http://lan.awasm.test',
    `http://mapped.awasm.test:${forbidden.port}`,
    `http://many.awasm.test:${forbidden.port}`,
    'http://nxdomain.awasm.test',
  ];

  it('refuses an allowed name whose answer is loopback, link-local metadata, private or mapped loopback', async () => {
    const dns = newPool({ lookup, logger });
    try {
      await dns.load(spec('dns', plugin, { allowedHosts: allowedHosts() }));
      await refusedWith(raw(dns, 'dns', `rebind.awasm.test:${forbidden.port}`), 'destination-IP-prohibited');
      await refusedWith(raw(dns, 'dns', 'meta.awasm.test'), 'destination-IP-prohibited');
      await refusedWith(raw(dns, 'dns', 'lan.awasm.test'), 'destination-IP-prohibited');
      await refusedWith(raw(dns, 'dns', `mapped.awasm.test:${forbidden.port}`), 'destination-IP-prohibited');
      await refusedWith(raw(dns, 'dns', `many.awasm.test:${forbidden.port}`), 'destination-IP-prohibited');
      await refusedWith(raw(dns, 'dns', 'nxdomain.awasm.test'), 'DNS-error');
      // the resolver the test controls was asked, and nothing reached loopback
      expect(lookups).toEqual(expect.arrayContaining(['rebind.awasm.test', 'many.awasm.test', 'nxdomain.awasm.test']));
      expect(forbidden.requests).toEqual([]);
      const refusal = logger.records.find(
        (r) => r.msg === 'plugin request refused' && /loopback/.test(String(r.obj.reason)),
      );
      expect(refusal).toBeDefined();
    } finally {
      await dns.close();
    }
  });

  it('lets the operator allow private addresses (which shows the policy is what stopped them)', async () => {
    const open = newPool({ lookup, allowPrivateAddresses: true });
    try {
      await open.load(spec('dns-open', plugin, { allowedHosts: allowedHosts() }));
      const media = await raw(open, 'dns-open', `rebind.awasm.test:${forbidden.port}`, { path: '/opened' });
      expect(media).toMatchObject({ id: '200', title: 'secret' });
      expect(forbidden.requests).toEqual([
        { method: 'GET', url: '/opened', host: `rebind.awasm.test:${forbidden.port}` },
      ]);
    } finally {
      forbidden.requests.length = 0;
      await open.close();
    }
  });
});
