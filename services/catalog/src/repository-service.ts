import {
  type Repository,
  RepositoryKind,
  RepositorySchema,
  RepositoryService,
} from '@awasm/shared/gen/awasm/v1/repository_service_pb.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ConnectRouter } from '@connectrpc/connect';
import semver from 'semver';
import type { AccessChecks } from './access.js';
import { toInstalledPlugin } from './plugin-service.js';
import type { RepositoryManager } from './repository-manager.js';
import type { RepositoryRecord } from './repository-store.js';
import type { HealthLookup } from './source-health.js';

function toRepository(record: RepositoryRecord, pluginCount: number, error = ''): Repository {
  return create(RepositorySchema, {
    name: record.name,
    url: record.url,
    kind: record.kind === 'static' ? RepositoryKind.STATIC : RepositoryKind.GRPC,
    trustedKeyIds: record.trustedKeyIds,
    addedAt: timestampFromDate(record.addedAt),
    pluginCount,
    error,
  });
}

export interface RepositoryServiceOptions {
  health?: HealthLookup;
  /** reading needs a user; adding, removing, trusting and installing an admin */
  access: AccessChecks;
}

/** Serves awasm.v1.RepositoryService from a RepositoryManager. */
export function registerRepositoryService(
  router: ConnectRouter,
  repositories: RepositoryManager,
  options: RepositoryServiceOptions,
): void {
  const { requireUser, requireAdmin } = options.access;
  router.service(RepositoryService, {
    async addRepository(request, context) {
      requireAdmin(context, 'adding a repository');
      const { record, keys, pluginCount } = await repositories.add(
        request.url,
        request.name || undefined,
        request.trustedKeyIds,
      );
      return { repository: toRepository(record, pluginCount), keys };
    },

    async listRepositories(_request, context) {
      requireUser(context);
      const all = await repositories.list();
      return { repositories: all.map((r) => toRepository(r.record, r.pluginCount, r.error)) };
    },

    async removeRepository(request, context) {
      requireAdmin(context, 'removing a repository');
      await repositories.remove(request.name);
      return {};
    },

    async setRepositoryKeys(request, context) {
      requireAdmin(context, "changing a repository's trusted keys");
      const { record, keys, pluginCount, error } = await repositories.setKeys(
        request.name,
        request.trustKeyIds,
        request.untrustKeyIds,
      );
      return { repository: toRepository(record, pluginCount, error), keys };
    },

    async searchPlugins(request, context) {
      requireUser(context);
      const { offers, problems } = await repositories.search({
        query: request.query,
        mediaKinds: request.mediaKinds,
        languages: request.languages,
        ...(request.repository ? { repository: request.repository } : {}),
      });
      return {
        plugins: offers.map((o) => ({
          repository: o.repository,
          latest: o.latest,
          installedVersion: o.installedVersion ?? '',
          updateAvailable: o.installedVersion !== undefined && semver.gt(o.latest.version, o.installedVersion),
          trusted: o.trusted,
          versions: o.versions.map((v) => v.version),
        })),
        problems,
      };
    },

    async listUpdates(_request, context) {
      requireUser(context);
      const { updates, problems } = await repositories.updates();
      return { updates, problems };
    },

    async *installPlugin(request, context) {
      requireAdmin(context, 'installing a plugin');
      const steps = repositories.install({
        pluginId: request.pluginId,
        version: request.version,
        repository: request.repository,
        allowDowngrade: request.allowDowngrade,
      });
      for (;;) {
        const step = await steps.next();
        if (step.done) {
          yield { part: { case: 'plugin', value: await toInstalledPlugin(step.value, options.health) } };
          return;
        }
        const { received, total, version, repository } = step.value;
        yield {
          part: {
            case: 'progress',
            value: { received: BigInt(received), total: BigInt(total), version, repository },
          },
        };
      }
    },
  });
}
