import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MediaKind, MediaSchema, MediaStatus } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { InstalledPluginSchema, PluginService } from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import { SourceErrorSchema } from '@awasm/shared/gen/awasm/v1/source_error_pb.js';
import { SourceService } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { Health, HealthCheckResponse_ServingStatus } from '@awasm/shared/gen/grpc/health/v1/health_pb.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter, createClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type RunningServer } from './server.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const grpcurl = join(repoRoot, '.cache', 'bin', 'grpcurl');
const python = join(repoRoot, '.venv', 'bin', 'python');

// ---- A tiny fake API, only for these tests (the real services live elsewhere). ----

const fixedMedia = create(MediaSchema, {
  sourceId: 'fake',
  id: 'm1',
  title: 'The Fixed Media',
  kind: MediaKind.BOOK,
  authors: ['A. Writer'],
  status: MediaStatus.COMPLETED,
  languages: ['en'],
});

function fakeRoutes(router: ConnectRouter): void {
  router.service(SourceService, {
    getMedia(req) {
      if (req.mediaId !== fixedMedia.id) {
        throw new ConnectError(`no media ${req.mediaId}`, Code.NotFound, undefined, [
          {
            desc: SourceErrorSchema,
            value: { sourceId: req.sourceId, message: 'gone', kind: { case: 'notFound', value: {} } },
          },
        ]);
      }
      return { media: fixedMedia };
    },
    search(req) {
      return { items: req.query ? [fixedMedia] : [], nextCursor: '' };
    },
    // Never answers: only the server's shutdown ends it.
    async listMedia() {
      await new Promise(() => {});
      return {};
    },
  });
  router.service(PluginService, {
    listInstalled() {
      return { plugins: [create(InstalledPluginSchema, { id: 'fake', name: 'Fake', enabled: true })] };
    },
    async install(requests) {
      const hash = createHash('sha256');
      let size = 0;
      for await (const req of requests) {
        hash.update(req.chunk);
        size += req.chunk.length;
      }
      return {
        plugin: {
          id: `upload-${size}`,
          packageSha256: hash.digest('hex'),
          installedAt: timestampFromMs(0),
        },
      };
    },
  });
}

function startFake(closeGraceMs?: number): Promise<RunningServer> {
  return createServer({
    routes: fakeRoutes,
    services: [SourceService, PluginService],
    ...(closeGraceMs === undefined ? {} : { closeGraceMs }),
  });
}

async function sh(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: 60_000, cwd: repoRoot });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap').length;
}

describe('gateway server on port 0', () => {
  let server: RunningServer;
  let target = '';

  beforeAll(async () => {
    // Installs grpcurl and the grpcio venv when missing; a no-op when they are there.
    const tools = await sh('bash', [join(repoRoot, 'scripts', 'install-tools.sh')]);
    expect(tools.code, tools.stderr).toBe(0);
    expect(existsSync(grpcurl)).toBe(true);
    expect(existsSync(python)).toBe(true);
    server = await startFake();
    target = `127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server?.close();
  });

  it('binds loopback on a free port', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('grpcurl lists the services through reflection', async () => {
    const { code, stdout, stderr } = await sh(grpcurl, ['-plaintext', target, 'list']);
    expect(code, stderr).toBe(0);
    expect(stdout.trim().split('\n')).toEqual([
      'awasm.v1.PluginService',
      'awasm.v1.SourceService',
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
    ]);
  });

  it('grpcurl describes awasm.v1.SourceService', async () => {
    const { code, stdout, stderr } = await sh(grpcurl, ['-plaintext', target, 'describe', 'awasm.v1.SourceService']);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('awasm.v1.SourceService is a service:');
    for (const rpc of ['ListSources', 'Search', 'ListMedia', 'GetMedia', 'ListUnits', 'GetAssets', 'GetFilters']) {
      expect(stdout).toContain(`rpc ${rpc} ( .awasm.v1.${rpc}Request ) returns ( .awasm.v1.${rpc}Response );`);
    }
    const media = await sh(grpcurl, ['-plaintext', target, 'describe', 'awasm.v1.Unit']);
    expect(media.stdout).toContain('optional double number = 5;');
    expect(media.stdout).toContain('.google.protobuf.Timestamp published_at = 8;');
  });

  it('grpcurl calls GetMedia with JSON built from reflected descriptors', async () => {
    const { code, stdout, stderr } = await sh(grpcurl, [
      '-plaintext',
      '-d',
      JSON.stringify({ source_id: 'fake', media_id: 'm1' }),
      target,
      'awasm.v1.SourceService/GetMedia',
    ]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      media: {
        sourceId: 'fake',
        id: 'm1',
        title: 'The Fixed Media',
        kind: 'MEDIA_KIND_BOOK',
        authors: ['A. Writer'],
        status: 'MEDIA_STATUS_COMPLETED',
        languages: ['en'],
      },
    });
  });

  it('grpcurl sees the status code and the SourceError detail of a failed call', async () => {
    const { code, stdout, stderr } = await sh(grpcurl, [
      '-plaintext',
      '-d',
      '{"source_id":"fake","media_id":"nope"}',
      target,
      'awasm.v1.SourceService/GetMedia',
    ]);
    expect(code).not.toBe(0);
    const out = stdout + stderr;
    expect(out).toContain('Code: NotFound');
    expect(out).toContain('Message: no media nope');
    expect(out).toContain('"@type": "type.googleapis.com/awasm.v1.SourceError"');
    expect(out).toContain('"notFound": {}');
  });

  it('grpcurl Health/Check reports SERVING, overall and per service, and follows changes', async () => {
    const check = async (service: string) => {
      const r = await sh(grpcurl, [
        '-plaintext',
        '-d',
        JSON.stringify({ service }),
        target,
        'grpc.health.v1.Health/Check',
      ]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { status: string };
    };
    expect(await check('')).toEqual({ status: 'SERVING' });
    expect(await check('awasm.v1.PluginService')).toEqual({ status: 'SERVING' });
    server.health.set('awasm.v1.PluginService', 'NOT_SERVING');
    try {
      expect(await check('awasm.v1.PluginService')).toEqual({ status: 'NOT_SERVING' });
    } finally {
      server.health.set('awasm.v1.PluginService', 'SERVING');
    }
  });

  it('a Python grpcio client calls Health/Check over HTTP/2', async () => {
    const script = join(repoRoot, 'test', 'e2e', 'python', 'health_check.py');
    const ok = await sh(python, [script, target, '', 'awasm.v1.SourceService']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ '': 'SERVING', 'awasm.v1.SourceService': 'SERVING' });
    const unknown = await sh(python, [script, target, 'nope.v1.Nothing']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('NOT_FOUND');
  });

  describe.each<[string, (baseUrl: string) => Transport]>([
    ['gRPC over HTTP/2', (baseUrl) => createGrpcTransport({ baseUrl })],
    ['gRPC-Web over HTTP/1.1', (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: '1.1' })],
    ['gRPC-Web over HTTP/2', (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: '2' })],
    ['Connect over HTTP/1.1', (baseUrl) => createConnectTransport({ baseUrl, httpVersion: '1.1' })],
    ['Connect over HTTP/2', (baseUrl) => createConnectTransport({ baseUrl, httpVersion: '2' })],
  ])('%s', (_name, transport) => {
    it('calls the API and health with real status codes', async () => {
      const t = transport(server.url);
      const sources = createClient(SourceService, t);
      const res = await sources.getMedia({ sourceId: 'fake', mediaId: 'm1' });
      expect(res.media?.title).toBe('The Fixed Media');
      const err = await sources.getMedia({ sourceId: 'fake', mediaId: 'x' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.NotFound);
      const [detail] = (err as ConnectError).findDetails(SourceErrorSchema);
      expect(detail?.kind.case).toBe('notFound');
      const unimplemented = await sources.getFilters({ sourceId: 'fake' }).catch((e: unknown) => e);
      expect((unimplemented as ConnectError).code).toBe(Code.Unimplemented);
      const health = await createClient(Health, t).check({ service: '' });
      expect(health.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    });
  });

  it('takes a package upload larger than 4 MB as a client stream', async () => {
    const plugins = createClient(PluginService, createGrpcTransport({ baseUrl: server.url }));
    const data = new Uint8Array(5 * 1024 * 1024 + 123).map((_, i) => (i * 7) % 251);
    async function* chunks() {
      for (let at = 0; at < data.length; at += 1024 * 1024) yield { chunk: data.subarray(at, at + 1024 * 1024) };
    }
    const res = await plugins.install(chunks());
    expect(res.plugin?.id).toBe(`upload-${data.length}`);
    expect(res.plugin?.packageSha256).toBe(createHash('sha256').update(data).digest('hex'));
  });
});

describe('gateway server shutdown', () => {
  it('close() ends open streams, hanging calls and idle connections promptly and releases every handle', async () => {
    const before = tcpHandles();
    const server = await startFake(300);
    const grpc = createGrpcTransport({ baseUrl: server.url });

    // An open Watch stream, already past its first message.
    const watch = createClient(Health, grpc).watch({ service: '' })[Symbol.asyncIterator]();
    expect((await watch.next()).value?.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    // A call whose handler never returns.
    const hanging = createClient(SourceService, grpc)
      .listMedia({ sourceId: 'fake' })
      .catch((e: unknown) => e);
    // An idle HTTP/1.1 keep-alive connection.
    const agent = new http.Agent({ keepAlive: true });
    await createClient(SourceService, createConnectTransport({ baseUrl: server.url, httpVersion: '1.1' })).search({
      sourceId: 'fake',
      query: 'q',
    });
    await new Promise<void>((resolve, reject) => {
      http
        .get(`${server.url}/nothing`, { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });

    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      server.close().then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), 5000);
      }),
    ]);
    clearTimeout(timer);
    expect(closed, 'close() did not finish within 5 s').toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);

    // The watcher was told NOT_SERVING (or cut off); either way the stream is over.
    const rest: number[] = [];
    try {
      for (let r = await watch.next(); !r.done; r = await watch.next()) rest.push(r.value.status);
    } catch (error) {
      expect(error).toBeInstanceOf(ConnectError);
    }
    expect(rest.every((s) => s === HealthCheckResponse_ServingStatus.NOT_SERVING)).toBe(true);
    const hangingError = await hanging;
    expect(hangingError).toBeInstanceOf(ConnectError);
    expect([Code.Unavailable, Code.Canceled, Code.Internal, Code.Unknown]).toContain(
      (hangingError as ConnectError).code,
    );

    // New connections are refused, and no socket of the server or its clients is left open.
    const after = await createClient(Health, createGrpcTransport({ baseUrl: server.url }))
      .check({})
      .catch((e: unknown) => e);
    expect((after as ConnectError).code).toBe(Code.Unavailable);
    agent.destroy();
    await expect.poll(tcpHandles, { timeout: 5000 }).toBeLessThanOrEqual(before);
    await server.close(); // idempotent
  });
});
