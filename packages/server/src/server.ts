import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { file_awasm_v1_source_error } from '@awasm/shared/gen/awasm/v1/source_error_pb.js';
import { Health } from '@awasm/shared/gen/grpc/health/v1/health_pb.js';
import type { DescFile, DescService } from '@bufbuild/protobuf';
import { type ConnectRouter, type ConnectRouterOptions, createContextValues } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { type Authenticator, authenticate, withRemoteAddress } from './auth.js';
import { addHealth, HealthStatus } from './health.js';
import { type Page, servePages } from './pages.js';
import { addReflection } from './reflection.js';
import { checkRequestBodies, invalidStreamMessages, refuseInvalidBodies } from './request-validation.js';

export interface ServerOptions {
  /** Registers the API's services on the router (connect-es style: routes live apart from the server). */
  routes: (router: ConnectRouter) => void;
  /** The services `routes` registers: described by reflection and reported SERVING by health. */
  services: readonly DescService[];
  /**
   * More files for reflection to describe though no service imports them (types sent in error
   * details). awasm/v1/source_error.proto is always described.
   */
  files?: readonly DescFile[];
  /** Address to bind; loopback unless the operator asks for more. */
  host?: string;
  /** Port to bind; 0 picks a free one (see the returned `port`). */
  port?: number;
  /** How long close() lets open calls finish before it cuts their connections (ms). */
  closeGraceMs?: number;
  /** Router options: interceptors, read/write limits, compression, ... */
  router?: ConnectRouterOptions;
  /**
   * Finds each call's caller (see auth.ts) before any other interceptor of `router` runs; without
   * it every caller is anonymous.
   */
  authenticate?: Authenticator;
  /**
   * Plain HTTP pages on the same port (HTTP/1.1 or HTTP/2), such as `metricsPage(...)` for
   * Prometheus; any other path that is no RPC is 404.
   */
  pages?: readonly Page[];
}

export interface RunningServer {
  /** The port the server listens on. */
  port: number;
  /** Base URL, e.g. "http://127.0.0.1:50051": the target for gRPC, gRPC-Web and Connect clients. */
  url: string;
  /** Serving status reported by grpc.health.v1.Health; every service in `services` starts SERVING. */
  health: HealthStatus;
  /**
   * Stops accepting connections, marks everything NOT_SERVING, lets open calls finish for
   * `closeGraceMs`, then destroys what is left (streams, sessions, sockets). Resolves when every
   * connection is gone. Safe to call more than once.
   */
  close(): Promise<void>;
}

/** The HTTP/2 connection preface starts with "PRI" (RFC 9113 3.4); no HTTP/1 request does. */
const H2_PREFACE_START = Buffer.from('PRI', 'latin1');

/**
 * Starts one server for gRPC (HTTP/2 cleartext with prior knowledge: Dart package:grpc, grpcio,
 * grpc-go, grpcurl), gRPC-Web and Connect (over HTTP/2 or HTTP/1.1, for browsers and curl), all
 * from the same router, plus gRPC health (grpc.health.v1) and server reflection (v1 and v1alpha).
 */
export async function createServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const graceMs = options.closeGraceMs ?? 2000;
  const health = new HealthStatus('SERVING');
  for (const service of [...options.services, Health]) health.set(service.typeName, 'SERVING');

  const gate = options.router?.requestGate;
  const handler = connectNodeAdapter({
    ...options.router,
    // a body that is not valid protobuf is INVALID_ARGUMENT, not Connect's INTERNAL (request-validation.ts)
    interceptors: [
      invalidStreamMessages,
      ...(options.authenticate ? [authenticate(options.authenticate)] : []),
      ...(options.router?.interceptors ?? []),
    ],
    // the peer's address, for limits per address such as the login throttle
    contextValues: (req) => withRemoteAddress(createContextValues(), req.socket.remoteAddress),
    async requestGate(context) {
      refuseInvalidBodies(context);
      await gate?.(context);
    },
    routes(router) {
      options.routes(router);
      addHealth(router, health);
      addReflection(router, [...options.services, Health], [file_awasm_v1_source_error, ...(options.files ?? [])]);
      checkRequestBodies(router.handlers, options.router?.readMaxBytes ?? 0xffffffff);
    },
    fallback: servePages(options.pages ?? []),
  });

  // every path that is no RPC reaches the pages (connect-node's fallback)
  const serve = handler as (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ) => void;
  const h2 = http2.createServer({}, serve);
  const h1 = http.createServer(serve);
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<net.Socket>();
  h2.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    // A session error (peer reset, protocol error) ends that session only.
    session.on('error', () => session.destroy());
  });

  // Route each connection by its first bytes: the HTTP/2 preface goes to the HTTP/2 server,
  // anything else to the HTTP/1.1 server. Both get the same Connect handler.
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE_START.length);
      const isH2 = head.subarray(0, n).equals(H2_PREFACE_START.subarray(0, n));
      if (isH2 && head.length < H2_PREFACE_START.length) return;
      socket.off('data', onData);
      socket.pause();
      socket.unshift(head);
      if (isH2) {
        // The HTTP/2 session reads the unshifted bytes from the socket's buffer itself.
        h2.emit('connection', socket);
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  const port = address.port;
  const url = `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      health.shutdown();
      server.close(() => resolve());
      for (const session of sessions) session.close();
      h1.closeIdleConnections();
      const idle = setInterval(() => h1.closeIdleConnections(), 50);
      const cut = setTimeout(() => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      cut.unref();
      server.once('close', () => {
        clearInterval(idle);
        clearTimeout(cut);
      });
    });
    return closing;
  };

  return { port, url, health, close };
}
