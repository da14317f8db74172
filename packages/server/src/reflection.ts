import {
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
  ServerReflection as ServerReflectionV1,
} from '@awasm/shared/gen/grpc/reflection/v1/reflection_pb.js';
import {
  ServerReflectionRequestSchema as ServerReflectionRequestSchemaV1alpha,
  type ServerReflectionRequest as ServerReflectionRequestV1alpha,
  ServerReflectionResponseSchema as ServerReflectionResponseSchemaV1alpha,
  type ServerReflectionResponse as ServerReflectionResponseV1alpha,
  ServerReflection as ServerReflectionV1alpha,
} from '@awasm/shared/gen/grpc/reflection/v1alpha/reflection_pb.js';
import {
  create,
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { Code, type ConnectRouter } from '@connectrpc/connect';

type ResponseInit = MessageInitShape<typeof ServerReflectionResponseSchema>;

/** The reflection services themselves; always listed, like other gRPC servers do. */
export const REFLECTION_SERVICES: readonly DescService[] = [ServerReflectionV1, ServerReflectionV1alpha];

/**
 * The descriptor index reflection answers from: the files of the given services and everything
 * they import, by file name and by every fully-qualified symbol they declare.
 */
export class DescriptorIndex {
  readonly services: readonly string[];
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  readonly #extensions = new Map<string, DescExtension[]>();

  /** `files` are described too (with their dependencies) though they declare no served service, e.g. error details. */
  constructor(services: readonly DescService[], files: readonly DescFile[] = []) {
    const names = new Set<string>();
    for (const service of services) {
      names.add(service.typeName);
      this.#addFile(service.file);
    }
    for (const file of files) this.#addFile(file);
    this.services = [...names].sort();
  }

  #addFile(file: DescFile): void {
    const name = file.proto.name;
    if (this.#files.has(name)) return;
    this.#files.set(name, file);
    const pkg = file.proto.package;
    for (const e of file.enums) this.#addEnum(file, e, pkg);
    for (const m of file.messages) this.#addMessage(file, m);
    for (const x of file.extensions) this.#addExtension(file, x);
    for (const s of file.services) {
      this.#symbols.set(s.typeName, file);
      for (const m of s.methods) this.#symbols.set(`${s.typeName}.${m.name}`, file);
    }
    for (const dep of file.dependencies) this.#addFile(dep);
  }

  /** Enum values live in the enum's parent scope, as in protoc (e.g. "awasm.v1.MEDIA_KIND_MANGA"). */
  #addEnum(file: DescFile, e: DescEnum, scope: string): void {
    this.#symbols.set(e.typeName, file);
    for (const v of e.values) this.#symbols.set(scope ? `${scope}.${v.name}` : v.name, file);
  }

  #addMessage(file: DescFile, m: DescMessage): void {
    this.#symbols.set(m.typeName, file);
    for (const f of m.fields) this.#symbols.set(`${m.typeName}.${f.name}`, file);
    for (const o of m.oneofs) this.#symbols.set(`${m.typeName}.${o.name}`, file);
    for (const e of m.nestedEnums) this.#addEnum(file, e, m.typeName);
    for (const n of m.nestedMessages) this.#addMessage(file, n);
    for (const x of m.nestedExtensions) this.#addExtension(file, x);
  }

  #addExtension(file: DescFile, x: DescExtension): void {
    this.#symbols.set(x.typeName, file);
    const list = this.#extensions.get(x.extendee.typeName) ?? [];
    list.push(x);
    this.#extensions.set(x.extendee.typeName, list);
  }

  fileByName(name: string): DescFile | undefined {
    return this.#files.get(name);
  }

  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.#symbols.get(symbol.startsWith('.') ? symbol.slice(1) : symbol);
  }

  /** Whether `typeName` is a message this index knows. */
  hasMessage(typeName: string): boolean {
    const file = this.#symbols.get(typeName);
    if (!file) return false;
    const find = (messages: readonly DescMessage[]): boolean =>
      messages.some((m) => m.typeName === typeName || find(m.nestedMessages));
    return find(file.messages);
  }

  extensionsOf(typeName: string): readonly DescExtension[] {
    return this.#extensions.get(typeName) ?? [];
  }

  /** `file` first, then every file it imports, transitively, each once. */
  withDependencies(file: DescFile): DescFile[] {
    const out: DescFile[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      out.push(f);
      for (const dep of f.dependencies) visit(dep);
    };
    visit(file);
    return out;
  }
}

function fileResponse(index: DescriptorIndex, file: DescFile): ResponseInit['messageResponse'] {
  return {
    case: 'fileDescriptorResponse',
    value: {
      fileDescriptorProto: index.withDependencies(file).map((f) => toBinary(FileDescriptorProtoSchema, f.proto)),
    },
  };
}

function errorResponse(code: Code, message: string): ResponseInit['messageResponse'] {
  return { case: 'errorResponse', value: { errorCode: code, errorMessage: message } };
}

/** Answers one reflection request (v1 wire shape). */
export function answerReflection(index: DescriptorIndex, request: ServerReflectionRequest): ServerReflectionResponse {
  const req = request.messageRequest;
  let messageResponse: ResponseInit['messageResponse'];
  switch (req.case) {
    case 'listServices':
      messageResponse = {
        case: 'listServicesResponse',
        value: { service: index.services.map((name) => ({ name })) },
      };
      break;
    case 'fileByFilename': {
      const file = index.fileByName(req.value);
      messageResponse = file ? fileResponse(index, file) : errorResponse(Code.NotFound, `file not found: ${req.value}`);
      break;
    }
    case 'fileContainingSymbol': {
      const file = index.fileContainingSymbol(req.value);
      messageResponse = file
        ? fileResponse(index, file)
        : errorResponse(Code.NotFound, `symbol not found: ${req.value}`);
      break;
    }
    case 'fileContainingExtension': {
      const { containingType, extensionNumber } = req.value;
      const ext = index.extensionsOf(containingType).find((x) => x.number === extensionNumber);
      messageResponse = ext
        ? fileResponse(index, ext.file)
        : errorResponse(Code.NotFound, `extension not found: ${containingType} ${extensionNumber}`);
      break;
    }
    case 'allExtensionNumbersOfType': {
      const typeName = req.value;
      messageResponse = index.hasMessage(typeName)
        ? {
            case: 'allExtensionNumbersResponse',
            value: { baseTypeName: typeName, extensionNumber: index.extensionsOf(typeName).map((x) => x.number) },
          }
        : errorResponse(Code.NotFound, `type not found: ${typeName}`);
      break;
    }
    default:
      messageResponse = errorResponse(Code.InvalidArgument, 'empty reflection request');
  }
  return create(ServerReflectionResponseSchema, {
    validHost: request.host,
    originalRequest: request,
    messageResponse,
  });
}

/** v1alpha is the same wire format as v1 under another package name: convert through bytes. */
function toV1(request: ServerReflectionRequestV1alpha): ServerReflectionRequest {
  return fromBinary(ServerReflectionRequestSchema, toBinary(ServerReflectionRequestSchemaV1alpha, request));
}

function toV1alpha(response: ServerReflectionResponse): ServerReflectionResponseV1alpha {
  return fromBinary(ServerReflectionResponseSchemaV1alpha, toBinary(ServerReflectionResponseSchema, response));
}

/**
 * Registers gRPC server reflection (grpc.reflection.v1 and v1alpha ServerReflectionInfo) on
 * `router`, describing `services` (and the reflection services themselves) with every file they
 * depend on, plus `files` that no service imports but clients need, such as the types sent in
 * error details. Returns the index it answers from.
 */
export function addReflection(
  router: ConnectRouter,
  services: readonly DescService[],
  files: readonly DescFile[] = [],
): DescriptorIndex {
  const index = new DescriptorIndex([...services, ...REFLECTION_SERVICES], files);
  router.service(ServerReflectionV1, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield answerReflection(index, request);
    },
  });
  router.service(ServerReflectionV1alpha, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield toV1alpha(answerReflection(index, toV1(request)));
    },
  });
  return index;
}
