/**
 * A request body that is not a valid protobuf message is the client's fault: INVALID_ARGUMENT.
 * Connect for Node answers INTERNAL for it ("parse binary: ..."), since it parses the binary form
 * with the same code path it uses for its own output. Two hooks fix that for every protocol
 * (gRPC, gRPC-Web, Connect) without touching the wire handling:
 * - for a method taking one message (unary, server streaming), the handler's body is read first
 *   and each uncompressed binary message is checked; a bad one is refused by the router's request
 *   gate, which Connect runs before it parses anything and answers in the caller's protocol;
 * - for a streamed request (client streaming), the messages are parsed while the implementation
 *   reads them, inside the interceptors, so an interceptor turns that parse error into INVALID_ARGUMENT.
 */
import type { DescMessage } from '@bufbuild/protobuf';
import { fromBinary } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextKey,
  createContextValues,
  type HandlerContext,
  type Interceptor,
} from '@connectrpc/connect';
import {
  createAsyncIterable,
  readAllBytes,
  type UniversalHandler,
  type UniversalServerRequest,
} from '@connectrpc/connect/protocol';
import { echo } from './echo.js';

const invalidBody = createContextKey<string | undefined>(undefined, { description: 'why the request body is invalid' });

const ENVELOPE_HEADER_BYTES = 5;
const COMPRESSED_FLAG = 0b1;

/** Content types whose body is enveloped binary protobuf: gRPC, gRPC-Web and Connect streaming. */
function enveloped(contentType: string): boolean {
  return /^application\/(grpc(-web)?(\+proto)?|connect\+proto)(;|$)/i.test(contentType);
}

/** Connect's unary binary form: the message itself, uncompressed unless content-encoding says so. */
function connectUnaryBinary(request: UniversalServerRequest): boolean {
  const encoding = request.header.get('content-encoding');
  return (
    /^application\/proto(;|$)/i.test(request.header.get('content-type') ?? '') && (!encoding || encoding === 'identity')
  );
}

/** Why the body does not parse as `input`, or undefined when it does (or when the library should judge). */
function bodyProblem(input: DescMessage, request: UniversalServerRequest, body: Uint8Array): string | undefined {
  const parse = (bytes: Uint8Array) => {
    try {
      fromBinary(input, bytes);
      return undefined;
    } catch (error) {
      return `request is not a valid ${input.typeName} message: ${echo((error as Error).message)}`;
    }
  };
  const contentType = request.header.get('content-type') ?? '';
  if (connectUnaryBinary(request)) return parse(body);
  if (!enveloped(contentType)) return undefined;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  for (let offset = 0; offset + ENVELOPE_HEADER_BYTES <= body.length; ) {
    const flags = body[offset] as number;
    const length = view.getUint32(offset + 1);
    const start = offset + ENVELOPE_HEADER_BYTES;
    // an incomplete envelope, a compressed message or an end-of-stream frame: Connect judges those
    if (start + length > body.length) return undefined;
    if (flags === 0) {
      const problem = parse(body.subarray(start, start + length));
      if (problem) return problem;
    } else if (flags & COMPRESSED_FLAG) {
      return undefined;
    }
    offset = start + length;
  }
  return undefined;
}

/**
 * Wraps the router's handlers of single-message methods so their body is checked before Connect
 * parses it. The body is read whole (as Connect does for these methods anyway, under the same
 * readMaxBytes) and handed on unchanged.
 */
export function checkRequestBodies(handlers: UniversalHandler[], readMaxBytes: number): void {
  handlers.forEach((handler, index) => {
    if (handler.method.methodKind !== 'unary' && handler.method.methodKind !== 'server_streaming') return;
    const input = handler.method.input;
    const checked = async (request: UniversalServerRequest) => {
      const body = request.body;
      if (typeof body !== 'object' || body === null || !(Symbol.asyncIterator in body)) return handler(request);
      let bytes: Uint8Array;
      try {
        bytes = await readAllBytes(body as AsyncIterable<Uint8Array>, readMaxBytes);
      } catch {
        // over the limit or cut off: let Connect see the same and answer as it does
        return handler({ ...request, body: createAsyncIterable([]) });
      }
      const problem = bodyProblem(input, request, bytes);
      const contextValues: ContextValues = request.contextValues ?? createContextValues();
      if (problem) contextValues.set(invalidBody, problem);
      return handler({ ...request, body: createAsyncIterable([bytes]), contextValues });
    };
    handlers[index] = Object.assign(checked, {
      protocolNames: handler.protocolNames,
      supportedContentType: handler.supportedContentType,
      allowedMethods: handler.allowedMethods,
      requestPath: handler.requestPath,
      service: handler.service,
      method: handler.method,
    });
  });
}

/** The router's request gate: refuses what checkRequestBodies found, before Connect parses it. */
export function refuseInvalidBodies(context: HandlerContext): void {
  const problem = context.values.get(invalidBody);
  if (problem) throw new ConnectError(problem, Code.InvalidArgument);
}

/** A streamed request's message that does not parse is INVALID_ARGUMENT too. */
export const invalidStreamMessages: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.Internal && error.rawMessage.startsWith('parse binary:')) {
      throw new ConnectError(
        `request is not a valid ${request.method.input.typeName} message: ${echo(error.rawMessage)}`,
        Code.InvalidArgument,
      );
    }
    throw error;
  }
};
