import { Health } from '@awasm/shared/gen/grpc/health/v1/health_pb.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsPage } from './pages.js';
import { createServer, type RunningServer } from './server.js';

let server: RunningServer;
let failing = false;

beforeAll(async () => {
  server = await createServer({
    services: [],
    routes: () => {},
    pages: [
      metricsPage(async () => {
        if (failing) throw new Error('registry closed');
        return { contentType: 'text/plain; version=0.0.4', body: 'up 1\n' };
      }),
    ],
  });
});

afterAll(() => server.close());

async function fetchText(path: string, method = 'GET') {
  const res = await fetch(`${server.url}${path}`, { method });
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    allow: res.headers.get('allow'),
    body: await res.text(),
  };
}

describe('pages next to the API', () => {
  it('renders a page on GET (query ignored) and HEAD, and refuses other methods', async () => {
    expect(await fetchText('/metrics?x=1')).toMatchObject({
      status: 200,
      type: 'text/plain; version=0.0.4',
      body: 'up 1\n',
    });
    expect(await fetchText('/metrics', 'HEAD')).toMatchObject({ status: 200, body: '' });
    expect(await fetchText('/metrics', 'POST')).toMatchObject({ status: 405, allow: 'GET, HEAD' });
  });

  it('answers 404 for a path that is neither an RPC nor a page, and still serves the RPCs', async () => {
    expect((await fetchText('/nothing-here')).status).toBe(404);
    const rpc = await fetch(`${server.url}/${Health.typeName}/Check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(await rpc.json()).toEqual({ status: 'SERVING' });
  });

  it('answers 500 naming the page when it cannot render', async () => {
    failing = true;
    expect(await fetchText('/metrics')).toMatchObject({ status: 500, body: 'metrics failed: registry closed\n' });
    failing = false;
  });
});
