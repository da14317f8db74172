import { describe, expect, it } from 'vitest';
import { ChannelWriter, channelBuffer, FlowWords } from './http-channel.mjs';
import { createImports } from './imports.mjs';

// biome-ignore lint/suspicious/noExplicitAny: the import object is untyped glue, exercised as jco would
type Any = any;

/** A fake host: posted messages are recorded, events are queued by the test and handed out on receive. */
function fakeHost(overrides: Record<string, unknown> = {}) {
  const posted: Array<Record<string, unknown>> = [];
  const events: Array<Record<string, unknown>> = [];
  const output: Array<[string, string]> = [];
  const logs: Array<[string, string]> = [];
  let signal = 0;
  // the channel's flow words: `flow` is the worker's view, `hostFlow` the host's
  const sab = channelBuffer();
  const flow = new FlowWords(sab);
  const hostFlow = new ChannelWriter(new Int32Array(sab)).flow;
  const host = {
    flow,
    getSetting: (key: string) => ({ token: 'abc' })[key as 'token'],
    log: (level: string, message: string) => logs.push([level, message]),
    output: (stream: string, bytes: Uint8Array) => output.push([stream, new TextDecoder().decode(bytes)]),
    exit: (code: number) => {
      throw new WebAssembly.RuntimeError(`exit(${code})`);
    },
    post: (m: Record<string, unknown>) => posted.push(m),
    receive: () => events.shift(),
    signalValue: () => signal,
    wait: (_seen: number, _ms: number) => {
      signal++;
    },
    maxRequestBodyBytes: 16,
    ...overrides,
  };
  const { imports, pressure } = createImports(host as Any);
  return { imports: imports as Record<string, Any>, posted, events, output, logs, pressure, hostFlow };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

const enc = (s: string) => new TextEncoder().encode(s);

describe('the filesystem, environment and process interfaces', () => {
  it('has no preopens, an empty environment, no arguments and no cwd', () => {
    const { imports } = fakeHost();
    expect(imports['wasi:filesystem/preopens'].getDirectories()).toEqual([]);
    expect(imports['wasi:cli/environment'].getEnvironment()).toEqual([]);
    expect(imports['wasi:cli/environment'].getArguments()).toEqual([]);
    expect(imports['wasi:cli/environment'].initialCwd()).toBeUndefined();
    expect(imports['wasi:cli/terminal-stdin'].getTerminalStdin()).toBeUndefined();
  });

  it('fails every descriptor operation with access, and descriptors cannot be made', () => {
    const { Descriptor } = fakeHost().imports['wasi:filesystem/types'];
    expect(() => new Descriptor()).toThrow(WebAssembly.RuntimeError);
    const fake = Object.create(Descriptor.prototype);
    for (const op of ['openAt', 'readViaStream', 'stat', 'readDirectory', 'readlinkAt', 'symlinkAt', 'unlinkFileAt']) {
      expect(thrown(() => fake[op]())).toBe('access');
    }
  });

  it('turns exit into a trap instead of ending the process', () => {
    const { imports } = fakeHost();
    expect(() => imports['wasi:cli/exit'].exit({ tag: 'err' })).toThrow('exit(1)');
    expect(() => imports['wasi:cli/exit'].exit({ tag: 'ok' })).toThrow('exit(0)');
  });

  it('reads stdin as closed and hands stdout and stderr to the host', () => {
    const { imports, output } = fakeHost();
    expect(thrown(() => imports['wasi:cli/stdin'].getStdin().read(10n))).toEqual({ tag: 'closed' });
    const out = imports['wasi:cli/stdout'].getStdout();
    out.blockingWriteAndFlush(enc('hello\n'));
    imports['wasi:cli/stderr'].getStderr().write(enc('oops'));
    expect(output).toEqual([
      ['stdout', 'hello\n'],
      ['stderr', 'oops'],
    ]);
    expect(out.checkWrite()).toBeGreaterThan(0n);
  });

  it('answers settings and log through the host', () => {
    const { imports, logs } = fakeHost();
    expect(imports['awasm:source/host'].getSetting('token')).toBe('abc');
    expect(imports['awasm:source/host'].getSetting('missing')).toBeUndefined();
    imports['awasm:source/host'].log('warn', 'careful');
    expect(logs).toEqual([['warn', 'careful']]);
  });

  it('gives real clocks and random bytes, refusing an oversized random request', () => {
    const { imports } = fakeHost();
    const a = imports['wasi:clocks/monotonic-clock'].now();
    expect(imports['wasi:clocks/monotonic-clock'].now()).toBeGreaterThanOrEqual(a);
    const wall = imports['wasi:clocks/wall-clock'].now();
    expect(Number(wall.seconds)).toBeGreaterThan(1_700_000_000);
    expect(imports['wasi:random/random'].getRandomBytes(32n)).toHaveLength(32);
    expect(() => imports['wasi:random/random'].getRandomBytes(1n << 30n)).toThrow(WebAssembly.RuntimeError);
  });
});

describe('wasi:io poll', () => {
  it('blocks on a clock pollable until its instant', () => {
    const { imports } = fakeHost({
      wait: (_s: number, ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms),
    });
    const clock = imports['wasi:clocks/monotonic-clock'];
    const start = clock.now();
    const p = clock.subscribeDuration(30_000_000n);
    expect(p.ready()).toBe(false);
    p.block();
    expect(clock.now() - start).toBeGreaterThanOrEqual(30_000_000n);
    expect(imports['wasi:io/poll'].poll([p, clock.subscribeDuration(10n ** 12n)])).toEqual(Uint32Array.from([0]));
    expect(() => imports['wasi:io/poll'].poll([])).toThrow(WebAssembly.RuntimeError);
  });
});

describe('wasi:http types', () => {
  it('validates fields: syntax, forbidden names, immutability', () => {
    const { Fields, OutgoingRequest } = fakeHost().imports['wasi:http/types'];
    const f = new Fields();
    f.append('X-A', enc('1'));
    f.append('x-a', enc('2'));
    expect(f.get('X-a').map((v: Uint8Array) => new TextDecoder().decode(v))).toEqual(['1', '2']);
    expect(thrown(() => f.append('Host', enc('evil')))).toEqual({ tag: 'forbidden' });
    expect(thrown(() => f.append('Transfer-Encoding', enc('chunked')))).toEqual({ tag: 'forbidden' });
    expect(thrown(() => f.append('X-B', enc('a\r\nHost: evil')))).toEqual({ tag: 'invalid-syntax' });
    expect(thrown(() => f.append('Bad Name', enc('x')))).toEqual({ tag: 'invalid-syntax' });
    expect(
      thrown(() =>
        Fields.fromList([
          ['ok', enc('1')],
          ['no\n', enc('2')],
        ]),
      ),
    ).toEqual({ tag: 'invalid-syntax' });
    const req = new OutgoingRequest(f);
    expect(thrown(() => req.headers().append('X-C', enc('3')))).toEqual({ tag: 'immutable' });
    expect(thrown(() => f.set('X-A', [enc('9')]))).toEqual({ tag: 'immutable' });
  });

  it('posts a request, then reads the response head and streamed body from host events', () => {
    const { imports, posted, events } = fakeHost();
    const { Fields, OutgoingRequest, OutgoingBody } = imports['wasi:http/types'];
    const req = new OutgoingRequest(Fields.fromList([['accept', enc('text/plain')]]));
    req.setMethod({ tag: 'post' });
    req.setScheme({ tag: 'HTTP' });
    req.setAuthority('up.test');
    req.setPathWithQuery('/p?q=1');
    const body = req.body();
    body.write().blockingWriteAndFlush(enc('data'));
    const future = imports['wasi:http/outgoing-handler'].handle(req, undefined);
    // not sent until the body is finished
    expect(posted).toEqual([]);
    OutgoingBody.finish(body, undefined);
    expect(posted).toEqual([
      {
        type: 'request',
        id: 1,
        method: 'POST',
        scheme: 'http',
        authority: 'up.test',
        path: '/p?q=1',
        headers: [['accept', enc('text/plain')]],
        body: enc('data'),
        timeouts: {},
      },
    ]);
    expect(future.get()).toBeUndefined();

    events.push({ id: 1, type: 'head', status: 201, headers: [['content-type', enc('text/plain')]] });
    events.push({ id: 1, type: 'chunk', data: enc('hello ') });
    future.subscribe().block();
    const outcome = future.get();
    expect(outcome.tag).toBe('ok');
    expect(outcome.val.tag).toBe('ok');
    const response = outcome.val.val;
    expect(response.status()).toBe(201);
    expect(thrown(() => response.headers().append('x', enc('y')))).toEqual({ tag: 'immutable' });
    expect(future.get()).toEqual({ tag: 'err', val: undefined });

    const stream = response.consume().stream();
    expect(new TextDecoder().decode(stream.read(3n))).toBe('hel');
    expect(new TextDecoder().decode(stream.read(100n))).toBe('lo ');
    expect(stream.read(100n)).toEqual(new Uint8Array(0));
    events.push({ id: 1, type: 'chunk', data: enc('world') });
    events.push({ id: 1, type: 'end' });
    expect(new TextDecoder().decode(stream.blockingRead(100n))).toBe('world');
    expect(thrown(() => stream.read(100n))).toEqual({ tag: 'closed' });
  });

  it('surfaces a refused request as its error-code, and a body failure through http-error-code', () => {
    const { imports, events } = fakeHost();
    const { Fields, OutgoingRequest, httpErrorCode } = imports['wasi:http/types'];
    const req = new OutgoingRequest(new Fields());
    req.setAuthority('evil.test');
    const future = imports['wasi:http/outgoing-handler'].handle(req, undefined);
    events.push({ id: 1, type: 'error', code: { tag: 'HTTP-request-denied' } });
    expect(future.get()).toEqual({ tag: 'ok', val: { tag: 'err', val: { tag: 'HTTP-request-denied' } } });

    const req2 = new OutgoingRequest(new Fields());
    req2.setAuthority('up.test');
    const f2 = imports['wasi:http/outgoing-handler'].handle(req2, undefined);
    events.push({ id: 2, type: 'head', status: 200, headers: [] });
    events.push({ id: 2, type: 'error', code: { tag: 'HTTP-response-body-size', val: 2048n } });
    const stream = f2.get().val.val.consume().stream();
    const err = thrown(() => stream.blockingRead(10n)) as Any;
    expect(err.tag).toBe('last-operation-failed');
    expect(httpErrorCode(err.val)).toEqual({ tag: 'HTTP-response-body-size', val: 2048n });
    expect(thrown(() => stream.read(10n))).toEqual({ tag: 'closed' });
  });

  it('caps the request body and aborts a response dropped before it ends', () => {
    const { imports, posted, events } = fakeHost();
    const { Fields, OutgoingRequest } = imports['wasi:http/types'];
    const req = new OutgoingRequest(new Fields());
    const out = req.body().write();
    expect(out.checkWrite()).toBe(17n);
    const err = thrown(() => out.write(enc('x'.repeat(17)))) as Any;
    expect(err.tag).toBe('last-operation-failed');
    expect(imports['wasi:http/types'].httpErrorCode(err.val)).toEqual({ tag: 'HTTP-request-body-size', val: 17n });

    const req2 = new OutgoingRequest(new Fields());
    req2.setAuthority('up.test');
    const future = imports['wasi:http/outgoing-handler'].handle(req2, undefined);
    events.push({ id: 1, type: 'head', status: 200, headers: [] });
    const response = future.get().val.val;
    response[Symbol.dispose ?? Symbol.for('dispose')]();
    expect(posted.at(-1)).toEqual({ type: 'abort', id: 1 });
  });

  it('counts unsent request bodies until they are sent or dropped, and closes a dropped request body', () => {
    // with room for two 16-byte bodies, bodies written and then sent or dropped must not add up
    const { imports, posted, pressure, hostFlow } = fakeHost({ maxUnsentRequestBytes: 32 });
    const { Fields, OutgoingRequest, OutgoingBody } = imports['wasi:http/types'];
    const dispose = Symbol.dispose ?? Symbol.for('dispose');
    for (let i = 0; i < 3; i++) {
      const sent = new OutgoingRequest(new Fields());
      sent.setAuthority('up.test');
      const body = sent.body();
      body.write().write(enc('x'.repeat(16)));
      imports['wasi:http/outgoing-handler'].handle(sent, undefined);
      OutgoingBody.finish(body, undefined);
      expect(posted.at(-1)).toMatchObject({ type: 'request', body: enc('x'.repeat(16)) });
      // the host wrote it out
      hostFlow.bodyDone(16);

      const dropped = new OutgoingRequest(new Fields());
      const out = dropped.body().write();
      out.write(enc('y'.repeat(16)));
      dropped[dispose]();
      // its body can take no more bytes once the request is gone
      expect(thrown(() => out.write(enc('z')))).toEqual({ tag: 'closed' });
    }
    expect(posted.filter((m) => m.type === 'request')).toHaveLength(3);
    // while bodies that are kept do
    const kept = [0, 1, 2].map(() => new OutgoingRequest(new Fields()).body().write());
    kept[0].write(enc('k'.repeat(16)));
    expect(pressure()).toBeUndefined();
    kept[1].write(enc('k'.repeat(16)));
    expect(pressure()).toBe('it holds 32 bytes of request bodies it has not sent');
    expect(() => kept[2].write(enc('k'))).toThrow(
      'the plugin holds more than 32 bytes of request bodies it has not sent',
    );
  });

  it('counts a body handed to the host as unsent until the host reports it written out or dropped, and moves it', () => {
    const { imports, posted, hostFlow } = fakeHost({ maxUnsentRequestBytes: 32 });
    const { Fields, OutgoingRequest, OutgoingBody } = imports['wasi:http/types'];
    const send = () => {
      const req = new OutgoingRequest(new Fields());
      req.setAuthority('up.test');
      const body = req.body();
      body.write().write(enc('x'.repeat(16)));
      imports['wasi:http/outgoing-handler'].handle(req, undefined);
      OutgoingBody.finish(body, undefined);
    };
    send();
    send();
    // both are in the host, queued or being written: a third body is refused before it is copied
    expect(() => send()).toThrow('the plugin holds more than 32 bytes of request bodies it has not sent');
    expect(posted.filter((m) => m.type === 'request')).toHaveLength(2);
    hostFlow.bodyDone(16);
    send();
    expect(posted.filter((m) => m.type === 'request')).toHaveLength(3);
  });

  it('waits at MAX_REQUESTS_IN_HOST requests the host is not done with, dropped ones included', () => {
    let finishOnWait = 0;
    const host = fakeHost({
      maxRequestsInHost: 2,
      wait: () => {
        if (finishOnWait > 0) {
          finishOnWait--;
          host.hostFlow.requestFinished();
        }
      },
    });
    const { imports, posted } = host;
    const { Fields, OutgoingRequest } = imports['wasi:http/types'];
    const dispose = Symbol.dispose ?? Symbol.for('dispose');
    const sendAndDrop = () => {
      const req = new OutgoingRequest(new Fields());
      req.setAuthority('up.test');
      imports['wasi:http/outgoing-handler'].handle(req, undefined)[dispose]();
    };
    sendAndDrop();
    sendAndDrop();
    expect(posted.filter((m) => m.type === 'request')).toHaveLength(2);
    // the third waits until the host has seen to one of them
    finishOnWait = 1;
    sendAndDrop();
    expect(finishOnWait).toBe(0);
    expect(posted.filter((m) => m.type === 'request')).toHaveLength(3);
  });

  it('clamps guest timeouts to what a timer takes', () => {
    const { imports, posted } = fakeHost();
    const { Fields, OutgoingRequest, RequestOptions } = imports['wasi:http/types'];
    const options = new RequestOptions();
    const max = 2n ** 64n - 1n;
    options.setConnectTimeout(max);
    options.setFirstByteTimeout(max);
    options.setBetweenBytesTimeout(0n);
    const req = new OutgoingRequest(new Fields());
    req.setAuthority('up.test');
    imports['wasi:http/outgoing-handler'].handle(req, options);
    expect(posted.at(-1)?.timeouts).toEqual({ connectMs: 2 ** 31 - 1, firstByteMs: 2 ** 31 - 1, betweenBytesMs: 1 });
  });

  it('sleeps in slices however long a clock wait the guest asks for', () => {
    const waits: number[] = [];
    const { imports } = fakeHost({ wait: (_seen: number, ms: number) => waits.push(ms) });
    const clock = imports['wasi:clocks/monotonic-clock'];
    const forever = clock.subscribeDuration(2n ** 64n - 1n);
    const soon = clock.subscribeDuration(1_000_000n);
    expect(Array.from(imports['wasi:io/poll'].poll([forever, soon]))).toEqual([1]);
    expect(waits.every((ms) => Number.isInteger(ms) && ms >= 0 && ms <= 50)).toBe(true);
  });

  it('counts unread response bytes until they are read or their response is dropped', () => {
    // room for 8 unread bytes: bodies read, or dropped unread, over and over must not add up
    const { imports, events, pressure, hostFlow, posted } = fakeHost({ maxUnreadResponseBytes: 8 });
    const { Fields, OutgoingRequest } = imports['wasi:http/types'];
    const dispose = Symbol.dispose ?? Symbol.for('dispose');
    let id = 0;
    const get = () => {
      const req = new OutgoingRequest(new Fields());
      req.setAuthority('up.test');
      const future = imports['wasi:http/outgoing-handler'].handle(req, undefined);
      id++;
      events.push({ id, type: 'head', status: 200, headers: [] }, { id, type: 'chunk', data: enc('12345') });
      future.subscribe().block();
      return future.get().val.val;
    };
    for (let i = 0; i < 4; i++) {
      expect(pressure()).toBeUndefined();
      const stream = get().consume().stream();
      expect(new TextDecoder().decode(stream.read(3n))).toBe('123');
      expect(new TextDecoder().decode(stream.read(3n))).toBe('45');
      get()[dispose](); // dropped with its 5 bytes unread
    }
    // while bodies that are kept unread do: 5 is past half of 8, so the runner is told to retire
    // the instance, and 5 + 5 is over 8
    const kept = get();
    expect(kept.status()).toBe(200);
    expect(pressure()).toBe('it left 5 bytes of response bodies unread');
    // every byte read or dropped was reported to the host: 4 x 10, the kept 5 not
    expect(hostFlow.released()).toBe(40);
    // the host holds responses back until the guest gives up 4 more bytes: a guest waiting for a
    // body with nothing in it meanwhile would wait forever, and traps naming the cap
    const req = new OutgoingRequest(new Fields());
    req.setAuthority('up.test');
    const future = imports['wasi:http/outgoing-handler'].handle(req, undefined);
    id++;
    events.push({ id, type: 'head', status: 200, headers: [] });
    future.subscribe().block();
    const starving = future.get().val.val.consume().stream();
    expect(hostFlow.holdBack(44)).toBe(true);
    expect(() => starving.blockingRead(10n)).toThrow('the plugin left more than 8 bytes of response bodies unread');
    expect(() => imports['wasi:io/poll'].poll([starving.subscribe()])).toThrow('bytes of response bodies unread');
    // and a new request would only add to what the host holds back
    const another = new OutgoingRequest(new Fields());
    another.setAuthority('up.test');
    expect(() => imports['wasi:http/outgoing-handler'].handle(another, undefined)).toThrow(
      'the plugin left more than 8 bytes of response bodies unread',
    );
    // reading the kept body gives up enough: the worker asks the host to go on, once
    const keptBody = kept.consume().stream();
    expect(keptBody.read(3n)).toHaveLength(3);
    expect(posted.filter((m) => m.type === 'resume')).toHaveLength(0);
    expect(keptBody.read(3n)).toHaveLength(2);
    expect(posted.filter((m) => m.type === 'resume')).toHaveLength(1);
    expect(starving.read(10n)).toHaveLength(0);
  });
});
