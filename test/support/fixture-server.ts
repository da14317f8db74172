import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Fixture {
  url: string;
  port: number;
  /** every request the server received, in order */
  requests: Array<{ method: string; url: string; host: string | undefined }>;
  /** the most requests that were open at once */
  maxConcurrent: number;
  /** requests whose connection closed before a response was sent */
  abandoned: number;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** An HTTP server on 127.0.0.1 that records what reaches it. */
export async function fixtureServer(handler: Handler = (_req, res) => res.end('fixture')): Promise<Fixture> {
  let open = 0;
  const fixture: Fixture = {
    url: '',
    port: 0,
    requests: [],
    maxConcurrent: 0,
    abandoned: 0,
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    fixture.requests.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host });
    open++;
    fixture.maxConcurrent = Math.max(fixture.maxConcurrent, open);
    res.on('close', () => {
      open--;
      if (!res.writableEnded) fixture.abandoned++;
    });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  fixture.port = port;
  fixture.url = `http://127.0.0.1:${port}`;
  fixture.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fixture;
}
