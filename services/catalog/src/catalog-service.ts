import { CatalogService } from '@awasm/shared/gen/awasm/internal/v1/catalog_pb.js';
import { SourceSchema } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { create } from '@bufbuild/protobuf';
import { type Client, type ConnectRouter, createClient, createRouterTransport } from '@connectrpc/connect';
import type { PluginManager } from './plugin-manager.js';
import { manifestMediaKinds } from './plugin-service.js';

/** Serves awasm.internal.v1.CatalogService (what the gateway asks about sources) from a PluginManager. */
export function registerCatalogService(router: ConnectRouter, plugins: PluginManager): void {
  router.service(CatalogService, {
    async listInstalledSources(request) {
      const installed = (await plugins.list()).filter((p) => request.includeDisabled || p.record.enabled);
      return {
        sources: installed.map(({ record, manifest }) =>
          create(SourceSchema, {
            id: record.id,
            name: manifest.name,
            version: manifest.version,
            mediaKinds: manifestMediaKinds(manifest.mediaKinds),
            languages: manifest.languages,
            nsfw: manifest.nsfw,
            enabled: record.enabled,
          }),
        ),
      };
    },

    async checkSourceRunnable(request) {
      await plugins.requireEnabled(request.sourceId);
      return {};
    },
  });
}

/** A CatalogService client served in this process (the embedded server's wiring, and tests'). */
export function createInProcessCatalogClient(plugins: PluginManager): Client<typeof CatalogService> {
  return createClient(
    CatalogService,
    createRouterTransport((router) => registerCatalogService(router, plugins)),
  );
}
