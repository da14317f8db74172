import { Health, HealthCheckResponse_ServingStatus } from '@awasm/shared/gen/grpc/health/v1/health_pb.js';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { addHealth, HealthStatus } from './health.js';

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = HealthCheckResponse_ServingStatus;

function setup(health = new HealthStatus()) {
  const transport = createRouterTransport((router) => addHealth(router, health));
  return { health, client: createClient(Health, transport) };
}

async function nextStatus(it: AsyncIterator<{ status: HealthCheckResponse_ServingStatus }>) {
  const r = await it.next();
  if (r.done) throw new Error('stream ended');
  return r.value.status;
}

describe('HealthStatus', () => {
  it('starts with the overall status and knows only what was set', () => {
    const h = new HealthStatus('NOT_SERVING');
    expect(h.get('')).toBe('NOT_SERVING');
    expect(h.get('awasm.v1.SourceService')).toBeUndefined();
    h.set('awasm.v1.SourceService', 'SERVING');
    expect(h.entries()).toEqual([
      ['', 'NOT_SERVING'],
      ['awasm.v1.SourceService', 'SERVING'],
    ]);
  });

  it('shutdown sets everything NOT_SERVING for good', () => {
    const h = new HealthStatus();
    h.set('a', 'SERVING');
    h.shutdown();
    h.set('a', 'SERVING');
    expect(h.entries()).toEqual([
      ['', 'NOT_SERVING'],
      ['a', 'NOT_SERVING'],
    ]);
  });
});

describe('grpc.health.v1.Health (in-memory transport)', () => {
  it('Check reports the overall status for "" and the status of a named service', async () => {
    const { health, client } = setup();
    health.set('awasm.v1.SourceService', 'SERVING');
    expect((await client.check({ service: '' })).status).toBe(SERVING);
    expect((await client.check({ service: 'awasm.v1.SourceService' })).status).toBe(SERVING);
    health.set('awasm.v1.SourceService', 'NOT_SERVING');
    expect((await client.check({ service: 'awasm.v1.SourceService' })).status).toBe(NOT_SERVING);
    health.set('', 'NOT_SERVING');
    expect((await client.check({})).status).toBe(NOT_SERVING);
  });

  it('Check of an unknown service fails with NOT_FOUND', async () => {
    const { client } = setup();
    const error = await client.check({ service: 'nope.v1.Nothing' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
    expect((error as ConnectError).rawMessage).toContain('nope.v1.Nothing');
  });

  it('List returns every known service', async () => {
    const { health, client } = setup();
    health.set('a.A', 'SERVING');
    health.set('b.B', 'NOT_SERVING');
    const res = await client.list({});
    expect(Object.fromEntries(Object.entries(res.statuses).map(([k, v]) => [k, v.status]))).toEqual({
      '': SERVING,
      'a.A': SERVING,
      'b.B': NOT_SERVING,
    });
  });

  it('Watch sends the current status, then each change, and unsubscribes when cancelled', async () => {
    const { health, client } = setup();
    health.set('svc.S', 'SERVING');
    const abort = new AbortController();
    const stream = client.watch({ service: 'svc.S' }, { signal: abort.signal })[Symbol.asyncIterator]();
    expect(await nextStatus(stream)).toBe(SERVING);
    expect(health.watcherCount()).toBe(1);
    health.set('svc.S', 'NOT_SERVING');
    expect(await nextStatus(stream)).toBe(NOT_SERVING);
    health.set('svc.S', 'NOT_SERVING'); // no change: nothing sent
    health.set('svc.S', 'SERVING');
    expect(await nextStatus(stream)).toBe(SERVING);
    abort.abort();
    await expect(stream.next()).rejects.toMatchObject({ code: Code.Canceled });
    await expect.poll(() => health.watcherCount()).toBe(0);
  });

  it('Watch of an unknown service sends SERVICE_UNKNOWN and stays open until it becomes known', async () => {
    const { health, client } = setup();
    const abort = new AbortController();
    const stream = client.watch({ service: 'later.L' }, { signal: abort.signal })[Symbol.asyncIterator]();
    expect(await nextStatus(stream)).toBe(SERVICE_UNKNOWN);
    health.set('later.L', 'SERVING');
    expect(await nextStatus(stream)).toBe(SERVING);
    abort.abort();
    await expect(stream.next()).rejects.toBeInstanceOf(ConnectError);
  });

  it('shutdown sends NOT_SERVING to watchers and ends their streams', async () => {
    const { health, client } = setup();
    const overall = client.watch({ service: '' })[Symbol.asyncIterator]();
    const unknown = client.watch({ service: 'x.X' })[Symbol.asyncIterator]();
    expect(await nextStatus(overall)).toBe(SERVING);
    expect(await nextStatus(unknown)).toBe(SERVICE_UNKNOWN);
    health.shutdown();
    expect(await nextStatus(overall)).toBe(NOT_SERVING);
    expect((await overall.next()).done).toBe(true);
    expect((await unknown.next()).done).toBe(true);
    expect(health.watcherCount()).toBe(0);
  });
});
