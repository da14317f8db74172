/**
 * One API client must not degrade a source for everyone: against a real `awasm serve` on port 0
 * with the demo plugin, over real HTTP/2 (the CLI's Connect gRPC client, @grpc/grpc-js and raw
 * HTTP/2 and HTTP/1.1 requests), forged, foreign and malformed cursors, an oversized source id and
 * a request body that is not protobuf are refused with INVALID_ARGUMENT before any plugin work,
 * with short messages, and leave the source healthy.
 */

import { writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import { join } from 'node:path';
import { buildDemoPackage } from '@awasm/cli';
import { startFixtureSite } from '@awasm/plugin-demo-library';
import { Listing } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { HealthState } from '@awasm/shared/gen/awasm/v1/source_health_pb.js';
import {
  SearchRequestSchema,
  SearchResponseSchema,
  SourceService,
} from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { type Client, Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { savedAdminKey, withApiKey } from '../support/auth.js';
import { awasm, awasmBin, startProcess, tempDir } from '../support/index.js';

const SOURCE = 'demo-library';

let data: Awaited<ReturnType<typeof tempDir>>;
let site: Awaited<ReturnType<typeof startFixtureSite>>;
let server: Awaited<ReturnType<typeof startProcess>>;
let url: string;
let sources: Client<typeof SourceService>;
/** the first admin's key, saved by the first start (a restart on the same data makes none) */
let adminKey: string;
const cli = (args: string[]) => awasm(['--server', url, '--api-key', adminKey, ...args]);

async function startServer() {
  server = await startProcess(
    process.execPath,
    [
      awasmBin,
      'serve',
      '--port',
      '0',
      '--data-dir',
      join(data.path, 'data'),
      '--log-level',
      'warn',
      '--connect-to',
      `demo-library.awasm.test:80=127.0.0.1:${site.port}`,
    ],
    /awasm listening on (http:\/\/\S+)/,
  );
  url = server.match[1] as string;
  adminKey ??= savedAdminKey(url);
  sources = createClient(SourceService, createGrpcTransport({ baseUrl: url, interceptors: [withApiKey(adminKey)] }));
}

beforeAll(async () => {
  data = await tempDir('client-abuse');
  site = await startFixtureSite({ host: '127.0.0.1', port: 0 });
  const packageFile = join(data.path, 'demo.awpkg');
  await writeFile(packageFile, await buildDemoPackage());
  await startServer();
  const install = await cli(['plugin', 'install', packageFile]);
  expect(install.code, install.stderr).toBe(0);
  // two items a page, so the listings have a next page and a cursor
  expect((await cli(['plugin', 'settings', SOURCE, 'page_size=2'])).code).toBe(0);
});

afterAll(async () => {
  await server?.stop();
  await site?.close();
  await data?.remove();
});

/** The ConnectError a call failed with; fails the test when the call succeeded. */
async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('the call succeeded but should have been refused');
}

async function demoHealth() {
  const { sources: all } = await sources.listSources({});
  return all.find((s) => s.id === SOURCE)?.health;
}

/** A raw gRPC call over HTTP/2: one envelope holding `message`, answered with the grpc-status it got. */
function rawGrpc(path: string, message: Uint8Array): Promise<{ status: string; message: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on('error', reject);
    const request = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${adminKey}`,
    });
    let status: { status: string; message: string } | undefined;
    const take = (headers: http2.IncomingHttpHeaders) => {
      if (headers['grpc-status'] !== undefined) {
        status = {
          status: String(headers['grpc-status']),
          message: decodeURIComponent(String(headers['grpc-message'] ?? '')),
        };
      }
    };
    request.on('response', take);
    request.on('trailers', take);
    request.on('data', () => {});
    request.on('close', () => {
      session.close();
      if (status) resolve(status);
      else reject(new Error('no grpc-status in the answer'));
    });
    const envelope = Buffer.alloc(5 + message.length);
    envelope.writeUInt32BE(message.length, 1);
    envelope.set(message, 5);
    request.end(envelope);
  });
}

describe("cursors are the server's own, bound to source, call and query", () => {
  let popularCursor: string;

  it('a cursor the server handed out pages on, and only for the call and query it came from', async () => {
    const first = await sources.listMedia({ sourceId: SOURCE, listing: Listing.POPULAR });
    expect(first.items).toHaveLength(2);
    popularCursor = first.nextCursor;
    expect(popularCursor).not.toBe('');
    // opaque: not the plugin's page number
    expect(popularCursor).not.toMatch(/^\d+$/);
    const second = await sources.listMedia({ sourceId: SOURCE, listing: Listing.POPULAR, cursor: popularCursor });
    expect(second.items).toHaveLength(2);
    expect(second.items.map((m) => m.id)).not.toEqual(first.items.map((m) => m.id));

    // the same cursor for another listing, another call, another query or another source
    const foreign = [
      sources.listMedia({ sourceId: SOURCE, listing: Listing.LATEST, cursor: popularCursor }),
      sources.search({ sourceId: SOURCE, query: 'a', cursor: popularCursor }),
      sources.listUnits({ sourceId: SOURCE, mediaId: first.items[0]?.id ?? 'x', cursor: popularCursor }),
      sources.listMedia({ sourceId: 'other-source', listing: Listing.POPULAR, cursor: popularCursor }),
    ];
    for (const call of foreign) {
      const error = await refusal(call);
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toMatch(/^cursor /);
    }
  });

  it('a search cursor is bound to its query and filters', async () => {
    const first = await sources.search({ sourceId: SOURCE, query: 'the' });
    if (first.nextCursor === '') throw new Error('the demo search for "the" should have a second page at 2 a page');
    const again = await sources.search({ sourceId: SOURCE, query: 'the', cursor: first.nextCursor });
    expect(again.items.length).toBeGreaterThan(0);
    const otherQuery = await refusal(sources.search({ sourceId: SOURCE, query: 'thee', cursor: first.nextCursor }));
    expect(otherQuery.code).toBe(Code.InvalidArgument);
    const otherFilters = await refusal(
      sources.search({
        sourceId: SOURCE,
        query: 'the',
        cursor: first.nextCursor,
        filters: [{ id: 'kind', values: ['book'] }],
      }),
    );
    expect(otherFilters.code).toBe(Code.InvalidArgument);
  });

  it('forged and malformed cursors are INVALID_ARGUMENT naming the cursor, and leave the source healthy', async () => {
    const [good, tag] = popularCursor.split('.') as [string, string];
    const forged = [
      '2', // a page number, as the plugin's own cursors are
      '999999999',
      `${Buffer.from('3').toString('base64url')}.${tag}`, // another page under the tag of page 2
      `${good}.${Buffer.alloc(32).toString('base64url')}`,
      'not a cursor at all!',
      'x'.repeat(100_000),
    ];
    for (const cursor of forged) {
      const error = await refusal(sources.listMedia({ sourceId: SOURCE, listing: Listing.POPULAR, cursor }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toMatch(/^cursor /);
      expect(error.rawMessage.length).toBeLessThan(300);
    }
    const health = await demoHealth();
    expect(health?.state).toBe(HealthState.HEALTHY);
    expect(health?.consecutiveFailures).toBe(0);
  });

  it('five forged cursors in a row do not mark the source unhealthy for everyone', async () => {
    for (let i = 0; i < 5; i += 1) {
      const error = await refusal(sources.search({ sourceId: SOURCE, query: 'alice', cursor: String(i + 2) }));
      expect(error.code).toBe(Code.InvalidArgument);
    }
    const health = await demoHealth();
    expect(health?.state).toBe(HealthState.HEALTHY);
    expect(health?.consecutiveFailures).toBe(0);
    expect((await sources.search({ sourceId: SOURCE, query: 'alice' })).items.length).toBeGreaterThan(0);
  });

  it('cursors survive a restart of the server (the secret is kept in the data directory)', async () => {
    await server.stop();
    await startServer();
    const second = await sources.listMedia({ sourceId: SOURCE, listing: Listing.POPULAR, cursor: popularCursor });
    expect(second.items).toHaveLength(2);
  });
});

describe('oversized input is never echoed', () => {
  it('a 16 KiB source id is INVALID_ARGUMENT with a short grpc-message (grpc-js)', async () => {
    const client = new grpc.Client(url.replace('http://', ''), grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${adminKey}`);
    try {
      const sourceId = 'a'.repeat(16 * 1024);
      const error = await new Promise<grpc.ServiceError | null>((resolve) => {
        client.makeUnaryRequest(
          '/awasm.v1.SourceService/Search',
          (request: ReturnType<typeof create<typeof SearchRequestSchema>>) =>
            Buffer.from(toBinary(SearchRequestSchema, request)),
          (bytes: Buffer) => fromBinary(SearchResponseSchema, bytes),
          create(SearchRequestSchema, { sourceId, query: 'alice' }),
          metadata,
          (e) => resolve(e),
        );
      });
      expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error?.details).toMatch(/^source_id '/);
      expect(error?.details.length).toBeLessThan(300);
    } finally {
      client.close();
    }
  });

  it('an oversized plugin id and media id are refused with short messages too', async () => {
    const plugin = await cli(['plugin', 'enable', 'b'.repeat(16 * 1024)]);
    expect(plugin.code).toBe(1);
    expect(plugin.stderr).toContain('InvalidArgument: plugin_id');
    expect(plugin.stderr.length).toBeLessThan(400);
    const media = await refusal(sources.getMedia({ sourceId: SOURCE, mediaId: 'm'.repeat(16 * 1024) }));
    expect(media.code).toBe(Code.InvalidArgument);
    expect(media.rawMessage.length).toBeLessThan(300);
  });
});

describe('a request body that is not protobuf is INVALID_ARGUMENT', () => {
  // a tag of field 1, length-delimited, claiming 16 bytes that never come; then a truncated varint
  const garbage = [Uint8Array.from([0x0a, 0x10, 0x41]), Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])];

  it('over raw HTTP/2 gRPC, for a unary and a client-streaming method', async () => {
    for (const body of garbage) {
      const unary = await rawGrpc('/awasm.v1.SourceService/Search', body);
      expect(unary.status).toBe(String(grpc.status.INVALID_ARGUMENT));
      expect(unary.message).toContain('awasm.v1.SearchRequest');
      const streamed = await rawGrpc('/awasm.v1.PluginService/Install', body);
      expect(streamed.status).toBe(String(grpc.status.INVALID_ARGUMENT));
    }
    expect((await demoHealth())?.state).toBe(HealthState.HEALTHY);
  });

  it('over a raw Connect POST (HTTP/1.1)', async () => {
    for (const body of garbage) {
      const response = await fetch(`${url}/awasm.v1.SourceService/Search`, {
        method: 'POST',
        headers: {
          'content-type': 'application/proto',
          'connect-protocol-version': '1',
          authorization: `Bearer ${adminKey}`,
        },
        body,
      });
      expect(response.status).toBe(400);
      const answer = (await response.json()) as { code: string; message: string };
      expect(answer.code).toBe('invalid_argument');
      expect(answer.message).toContain('awasm.v1.SearchRequest');
    }
  });

  it('a valid body still works over raw HTTP/2', async () => {
    const ok = await rawGrpc(
      '/awasm.v1.SourceService/Search',
      toBinary(SearchRequestSchema, create(SearchRequestSchema, { sourceId: SOURCE, query: 'alice' })),
    );
    expect(ok.status).toBe('0');
  });
});
