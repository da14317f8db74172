import { PluginService } from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import { file_awasm_v1_source_error } from '@awasm/shared/gen/awasm/v1/source_error_pb.js';
import { SourceService } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { Health } from '@awasm/shared/gen/grpc/health/v1/health_pb.js';
import {
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflection as ServerReflectionV1,
} from '@awasm/shared/gen/grpc/reflection/v1/reflection_pb.js';
import { ServerReflection as ServerReflectionV1alpha } from '@awasm/shared/gen/grpc/reflection/v1alpha/reflection_pb.js';
import { create, createFileRegistry, type DescFile, type DescService, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Code, createClient, createRouterTransport } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { addReflection } from './reflection.js';

type RequestInit = Partial<Pick<ServerReflectionRequest, 'host'>> & {
  messageRequest: ServerReflectionRequest['messageRequest'];
};

/** What the reflection service under test describes. */
interface Described {
  services: DescService[];
  files?: DescFile[];
}

function clients({ services, files }: Described) {
  const transport = createRouterTransport((router) => {
    addReflection(router, services, files);
  });
  return { v1: createClient(ServerReflectionV1, transport), v1alpha: createClient(ServerReflectionV1alpha, transport) };
}

const API: Described = { services: [SourceService, PluginService, Health], files: [file_awasm_v1_source_error] };

/** Sends all `requests` on one ServerReflectionInfo stream and collects the answers. */
async function ask(described: Described, ...requests: RequestInit[]): Promise<ServerReflectionResponse[]> {
  const { v1 } = clients(described);
  async function* input() {
    for (const r of requests) yield r;
  }
  const out: ServerReflectionResponse[] = [];
  for await (const res of v1.serverReflectionInfo(input())) out.push(res);
  return out;
}

async function askOne(described: Described, request: RequestInit): Promise<ServerReflectionResponse> {
  const [res] = await ask(described, request);
  if (!res) throw new Error('no response');
  return res;
}

function fileNames(res: ServerReflectionResponse): string[] {
  if (res.messageResponse.case !== 'fileDescriptorResponse') {
    throw new Error(`expected files, got ${res.messageResponse.case}: ${JSON.stringify(res.messageResponse.value)}`);
  }
  return res.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
}

function errorOf(res: ServerReflectionResponse) {
  if (res.messageResponse.case !== 'errorResponse') throw new Error(`expected error, got ${res.messageResponse.case}`);
  return res.messageResponse.value;
}

describe('gRPC server reflection (in-memory transport)', () => {
  it('lists the given services and the reflection services, sorted', async () => {
    const res = await askOne(API, { messageRequest: { case: 'listServices', value: '' } });
    expect(res.messageResponse.case).toBe('listServicesResponse');
    const names = res.messageResponse.case === 'listServicesResponse' ? res.messageResponse.value.service : [];
    expect(names.map((s) => s.name)).toEqual([
      'awasm.v1.PluginService',
      'awasm.v1.SourceService',
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
    ]);
  });

  it('answers file_containing_symbol with the file and its transitive dependencies', async () => {
    const res = await askOne(API, {
      host: 'example:1',
      messageRequest: { case: 'fileContainingSymbol', value: 'awasm.v1.SourceService' },
    });
    expect(res.validHost).toBe('example:1');
    expect(res.originalRequest?.messageRequest).toEqual({
      case: 'fileContainingSymbol',
      value: 'awasm.v1.SourceService',
    });
    expect(fileNames(res)).toEqual([
      'awasm/v1/source_service.proto',
      'awasm/v1/media.proto',
      'google/protobuf/timestamp.proto',
      'awasm/v1/source_health.proto',
    ]);
  });

  it('sends descriptors a client can rebuild the service from', async () => {
    const res = await askOne(API, {
      messageRequest: { case: 'fileContainingSymbol', value: 'awasm.v1.PluginService' },
    });
    if (res.messageResponse.case !== 'fileDescriptorResponse') throw new Error('no files');
    const files = res.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    const byName = new Map(files.map((f) => [f.name, f]));
    expect(files[0]?.name).toBe('awasm/v1/plugin_service.proto');
    const registry = createFileRegistry(files[0]!, (name) => byName.get(name));
    const service = registry.getService('awasm.v1.PluginService');
    expect(service?.methods.map((m) => `${m.name}:${m.methodKind}`)).toEqual([
      'ListInstalled:unary',
      'Install:client_streaming',
      'Enable:unary',
      'Disable:unary',
      'Uninstall:unary',
      'GetSettings:unary',
      'SetSettings:unary',
    ]);
    const plugin = registry.getMessage('awasm.v1.InstalledPlugin');
    expect(plugin?.field.installedAt?.message?.typeName).toBe('google.protobuf.Timestamp');
    expect(plugin?.field.mediaKinds?.enum?.typeName).toBe('awasm.v1.MediaKind');
  });

  it.each([
    ['awasm.v1.SourceService.Search', 'awasm/v1/source_service.proto'],
    ['awasm.v1.GetMediaResponse', 'awasm/v1/source_service.proto'],
    ['.awasm.v1.Media', 'awasm/v1/media.proto'],
    ['awasm.v1.Media.cover_url', 'awasm/v1/media.proto'],
    ['awasm.v1.MEDIA_KIND_MANGA', 'awasm/v1/media.proto'],
    ['awasm.v1.SourceError.RateLimited', 'awasm/v1/source_error.proto'],
    ['awasm.v1.SourceError.kind', 'awasm/v1/source_error.proto'],
    ['awasm.v1.SettingType', 'awasm/v1/plugin_service.proto'],
    ['grpc.health.v1.HealthCheckResponse.ServingStatus', 'grpc/health/v1/health.proto'],
    ['grpc.health.v1.HealthCheckResponse.SERVING', 'grpc/health/v1/health.proto'],
    ['google.protobuf.Timestamp', 'google/protobuf/timestamp.proto'],
    ['grpc.reflection.v1alpha.ServerReflection', 'grpc/reflection/v1alpha/reflection.proto'],
  ])('finds the file containing %s', async (symbol, file) => {
    const res = await askOne(API, { messageRequest: { case: 'fileContainingSymbol', value: symbol } });
    expect(fileNames(res)[0]).toBe(file);
  });

  it('answers file_by_filename, and NOT_FOUND for unknown files and symbols', async () => {
    const [byName, noFile, noSymbol, empty] = await ask(
      API,
      { messageRequest: { case: 'fileByFilename', value: 'awasm/v1/plugin_service.proto' } },
      { messageRequest: { case: 'fileByFilename', value: 'awasm/v1/nope.proto' } },
      { messageRequest: { case: 'fileContainingSymbol', value: 'awasm.v1.Nope' } },
      { messageRequest: { case: undefined } },
    );
    expect(fileNames(byName!)).toEqual([
      'awasm/v1/plugin_service.proto',
      'awasm/v1/media.proto',
      'google/protobuf/timestamp.proto',
      'awasm/v1/source_health.proto',
    ]);
    expect(errorOf(noFile!)).toMatchObject({
      errorCode: Code.NotFound,
      errorMessage: 'file not found: awasm/v1/nope.proto',
    });
    expect(errorOf(noSymbol!)).toMatchObject({
      errorCode: Code.NotFound,
      errorMessage: 'symbol not found: awasm.v1.Nope',
    });
    expect(errorOf(empty!).errorCode).toBe(Code.InvalidArgument);
  });

  it('describes extra files that no service imports (error detail types)', async () => {
    const res = await askOne(API, { messageRequest: { case: 'fileContainingSymbol', value: 'awasm.v1.SourceError' } });
    expect(fileNames(res)).toEqual(['awasm/v1/source_error.proto']);
    const without = await askOne(
      { services: [SourceService] },
      {
        messageRequest: { case: 'fileContainingSymbol', value: 'awasm.v1.SourceError' },
      },
    );
    expect(errorOf(without).errorCode).toBe(Code.NotFound);
  });

  it('does not describe services it was not given', async () => {
    const res = await askOne(
      { services: [Health] },
      { messageRequest: { case: 'fileContainingSymbol', value: 'awasm.v1.SourceService' } },
    );
    expect(errorOf(res).errorCode).toBe(Code.NotFound);
  });

  it('answers extension requests', async () => {
    // A proto2 file with an extendable message and an extension of it, built at run time.
    const registry = createFileRegistry(
      create(FileDescriptorSetSchema, {
        file: [
          {
            name: 'test/ext.proto',
            package: 'test.ext',
            syntax: 'proto2',
            messageType: [{ name: 'Base', extensionRange: [{ start: 100, end: 200 }] }],
            extension: [{ name: 'tag', number: 150, label: 1, type: 9, extendee: '.test.ext.Base' }],
            service: [
              {
                name: 'ExtService',
                method: [{ name: 'Get', inputType: '.test.ext.Base', outputType: '.test.ext.Base' }],
              },
            ],
          },
        ],
      }),
    );
    const service = registry.getService('test.ext.ExtService')!;
    const [numbers, byExt, noExt, noType] = await ask(
      { services: [service] },
      { messageRequest: { case: 'allExtensionNumbersOfType', value: 'test.ext.Base' } },
      {
        messageRequest: {
          case: 'fileContainingExtension',
          value: { containingType: 'test.ext.Base', extensionNumber: 150 } as never,
        },
      },
      {
        messageRequest: {
          case: 'fileContainingExtension',
          value: { containingType: 'test.ext.Base', extensionNumber: 151 } as never,
        },
      },
      { messageRequest: { case: 'allExtensionNumbersOfType', value: 'test.ext.Nope' } },
    );
    expect(numbers!.messageResponse).toMatchObject({
      case: 'allExtensionNumbersResponse',
      value: { baseTypeName: 'test.ext.Base', extensionNumber: [150] },
    });
    expect(fileNames(byExt!)).toEqual(['test/ext.proto']);
    expect(errorOf(noExt!).errorCode).toBe(Code.NotFound);
    expect(errorOf(noType!).errorCode).toBe(Code.NotFound);
  });

  it('serves v1alpha with the same answers', async () => {
    const { v1alpha } = clients(API);
    async function* input() {
      yield { messageRequest: { case: 'listServices' as const, value: '*' } };
      yield { messageRequest: { case: 'fileContainingSymbol' as const, value: 'awasm.v1.SourceService.GetAssets' } };
      yield { messageRequest: { case: 'fileByFilename' as const, value: 'missing.proto' } };
    }
    const out = [];
    for await (const res of v1alpha.serverReflectionInfo(input())) out.push(res);
    expect(out.map((r) => r.$typeName)).toEqual(Array(3).fill('grpc.reflection.v1alpha.ServerReflectionResponse'));
    const [list, file, missing] = out;
    expect(list?.messageResponse.case === 'listServicesResponse' && list.messageResponse.value.service.length).toBe(5);
    expect(file?.originalRequest?.messageRequest.value).toBe('awasm.v1.SourceService.GetAssets');
    const files =
      file?.messageResponse.case === 'fileDescriptorResponse' ? file.messageResponse.value.fileDescriptorProto : [];
    expect(files.map((b) => fromBinary(FileDescriptorProtoSchema, b).name)[0]).toBe('awasm/v1/source_service.proto');
    expect(missing?.messageResponse).toMatchObject({ case: 'errorResponse', value: { errorCode: Code.NotFound } });
  });
});
