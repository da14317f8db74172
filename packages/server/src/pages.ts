/**
 * Plain HTTP pages served next to the API on the same port (Prometheus' /metrics): connect-node
 * hands every path that is no RPC to its fallback, which serves these and answers 404 otherwise.
 */
import type http from 'node:http';
import type { ConnectNodeAdapterOptions } from '@connectrpc/connect-node';

type NodeHandler = NonNullable<ConnectNodeAdapterOptions['fallback']>;

/** What a page answers to GET: its content type and body, rendered per request. */
export interface PageContent {
  contentType: string;
  body: string;
}

/** A read-only page: GET and HEAD render it, any other method is 405. */
export interface Page {
  /** The path it answers, without a query ("/metrics"). */
  path: string;
  /** What the page shows, for the message of a failed render ("metrics failed: ..."). */
  name: string;
  render(): Promise<PageContent>;
}

/** Prometheus exposition at `GET /metrics`. */
export function metricsPage(render: () => Promise<PageContent>): Page {
  return { path: '/metrics', name: 'metrics', render };
}

/** The fallback serving `pages`; any other path is 404, as connect-node answers by default. */
export function servePages(pages: readonly Page[]): NodeHandler {
  const byPath = new Map(pages.map((page) => [page.path, page]));
  return (req, res) => {
    const reply = (status: number, headers: Record<string, string>, body?: string) => {
      // HTTP/1.1 and HTTP/2 responses share writeHead and end; TypeScript cannot call them on the union
      const out = res as http.ServerResponse;
      out.writeHead(status, headers);
      out.end(req.method === 'HEAD' ? undefined : body);
    };
    const page = byPath.get((req.url ?? '').split('?')[0] ?? '');
    if (!page) {
      reply(404, {});
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }, 'method not allowed\n');
      return;
    }
    page.render().then(
      ({ contentType, body }) => reply(200, { 'content-type': contentType }, body),
      (error: Error) => reply(500, { 'content-type': 'text/plain' }, `${page.name} failed: ${error.message}\n`),
    );
  };
}
