import { BackupService } from '@awasm/shared/gen/awasm/v1/backup_service_pb.js';
import { LibraryService } from '@awasm/shared/gen/awasm/v1/library_service_pb.js';
import { PluginService } from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import { RegistryService } from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import { RepositoryService } from '@awasm/shared/gen/awasm/v1/repository_service_pb.js';
import { SourceService } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { UpdateService } from '@awasm/shared/gen/awasm/v1/update_service_pb.js';
import { UserService } from '@awasm/shared/gen/awasm/v1/user_service_pb.js';
import { type Client, createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';

export const DEFAULT_SERVER = 'http://127.0.0.1:7600';

export interface Clients {
  sources: Client<typeof SourceService>;
  plugins: Client<typeof PluginService>;
  registry: Client<typeof RegistryService>;
  repositories: Client<typeof RepositoryService>;
  updates: Client<typeof UpdateService>;
  backup: Client<typeof BackupService>;
  library: Client<typeof LibraryService>;
  users: Client<typeof UserService>;
}

/**
 * Sends the API key as `authorization: Bearer <key>` on every call, unless the call sets its own
 * (the registry commands' --admin-token).
 */
export function bearerKey(apiKey: string): Interceptor {
  return (next) => (request) => {
    if (!request.header.has('authorization')) request.header.set('authorization', `Bearer ${apiKey}`);
    return next(request);
  };
}

/** gRPC over HTTP/2, the same protocol Dart and grpcurl use; every call carries `apiKey` when given. */
export function connect(server: string, apiKey?: string): Clients {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`--server '${server}' is not a URL such as ${DEFAULT_SERVER}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`--server '${server}' must start with http:// or https://`);
  }
  const transport = createGrpcTransport({
    baseUrl: url.toString().replace(/\/$/, ''),
    interceptors: apiKey ? [bearerKey(apiKey)] : [],
  });
  return {
    sources: createClient(SourceService, transport),
    plugins: createClient(PluginService, transport),
    registry: createClient(RegistryService, transport),
    repositories: createClient(RepositoryService, transport),
    updates: createClient(UpdateService, transport),
    backup: createClient(BackupService, transport),
    library: createClient(LibraryService, transport),
    users: createClient(UserService, transport),
  };
}
