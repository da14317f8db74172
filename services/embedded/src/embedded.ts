import { join } from 'node:path';
import {
  apiKeyAuthenticator,
  CatalogDatabase,
  createInProcessCatalogClient,
  ensureFirstAdmin,
  LoginThrottle,
  PluginManager,
  RepositoryManager,
  registerBackupService,
  registerLibraryService,
  registerPluginService,
  registerRepositoryService,
  registerUpdateService,
  registerUserService,
  SqliteFeedStore,
  SqliteLibraryStore,
  SqliteMediaCacheStore,
  SqlitePluginStore,
  SqliteRepositoryStore,
  SqliteUserStore,
  TrustPolicy,
  UpdateScheduler,
} from '@awasm/catalog';
import { loadOrCreateCursorSecret, registerSourceService, toConnectError } from '@awasm/gateway';
import { HostScheduler, LocalSourceRunner, RunnerPool, ServerMetrics } from '@awasm/plugin-runner';
import { FolderIndexStore, FolderPackageStore, Registry, registerRegistryService } from '@awasm/registry';
import { adminBearer, createServer, metricsPage, remoteAddressOf, requireAdmin, requireUser } from '@awasm/server';
import { createLogger, type Logger, type ServerConfig } from '@awasm/shared';
import { BackupService } from '@awasm/shared/gen/awasm/v1/backup_service_pb.js';
import { LibraryService } from '@awasm/shared/gen/awasm/v1/library_service_pb.js';
import { PluginService } from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import { RegistryService } from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import { RepositoryService } from '@awasm/shared/gen/awasm/v1/repository_service_pb.js';
import { SourceService } from '@awasm/shared/gen/awasm/v1/source_service_pb.js';
import { UpdateService } from '@awasm/shared/gen/awasm/v1/update_service_pb.js';
import { UserService } from '@awasm/shared/gen/awasm/v1/user_service_pb.js';

export interface EmbeddedServer {
  url: string;
  port: number;
  plugins: PluginManager;
  registry: Registry;
  repositories: RepositoryManager;
  metrics: ServerMetrics;
  /** the in-process runner pool (built with the config's `runner` settings) */
  runner: RunnerPool;
  /** the rolling refresh of followed works, which fills the update feed */
  updates: UpdateScheduler;
  /**
   * The API key of the `admin` user, only on the first run (when this start created that user):
   * the one time it exists outside its owner's hands. Later runs leave it undefined.
   */
  adminKey?: string;
  close(): Promise<void>;
}

/**
 * The whole product in one process: gateway, catalog (SQLite), package folder and an in-process
 * runner pool, all under `config.dataDir`. Installed plugins and settings survive a restart.
 */
export async function startEmbeddedServer(
  config: ServerConfig,
  logger: Logger = createLogger({ level: config.logLevel }),
): Promise<EmbeddedServer> {
  const catalogDb = CatalogDatabase.open(join(config.dataDir, 'catalog.db'));
  const store = new SqlitePluginStore(catalogDb);
  const repositoryStore = new SqliteRepositoryStore(catalogDb);
  const libraryStore = new SqliteLibraryStore(catalogDb);
  const users = new SqliteUserStore(catalogDb);
  const packages = new FolderPackageStore(join(config.dataDir, 'packages'));
  const metrics = new ServerMetrics();
  const runner = new RunnerPool({
    // pool sizes, recycling, table cap, spare workers, circuit breaker: only what the operator set
    ...config.runner.pool,
    cacheDir: join(config.dataDir, 'cache'),
    connectTo: config.runner.connectTo,
    allowPrivateAddresses: config.runner.allowPrivateAddresses,
    logger,
    scheduler: new HostScheduler({ overrides: config.runner.rateLimits }),
    observer: metrics,
  });
  metrics.watch(runner);
  // the gateway and the plugin manager reach the pool only through the runner seam
  const sourceRunner = new LocalSourceRunner(runner, packages, logger);
  const health = (id: string) => sourceRunner.health(id);
  // The registry this server hosts: published packages and index.json in one folder.
  const registryDir = join(config.dataDir, 'registry');
  const registry = new Registry(new FolderPackageStore(registryDir), new FolderIndexStore(registryDir), {
    allowFilesystemImports: config.registry.allowFilesystemImports,
  });
  // A signer is trusted when this server's registry trusts it for the plugin id, or when a
  // repository the operator added pins it.
  const trust = new TrustPolicy({
    allowUnsigned: config.catalog.allowUnsignedPackages,
    registry,
    repositories: repositoryStore,
  });
  const plugins = new PluginManager(store, packages, sourceRunner, logger, trust);
  const repositories = new RepositoryManager(repositoryStore, plugins, trust, logger);
  // entries of an uninstalled source stay, orphaned, ready to move; a reinstall (or the operator
  // accepting a moved source's new address in its settings) brings them back
  plugins.observe({
    installed: (id) => libraryStore.clearOrphaned(id),
    reconfigured: (id) => libraryStore.clearOrphaned(id),
    uninstalled: (id) => libraryStore.markOrphaned(id, { reason: 'uninstalled' }),
  });
  const feed = new SqliteFeedStore(catalogDb);
  const updates = new UpdateScheduler({
    runner: sourceRunner,
    works: libraryStore,
    cache: new SqliteMediaCacheStore(catalogDb),
    feed,
    intervalMs: config.catalog.updateIntervalMs,
    parallelSources: config.catalog.updateParallelSources,
    onError: (error) => logger.error({ err: (error as Error).message }, 'update pass failed'),
  });
  const access = { requireUser, requireAdmin };
  try {
    await plugins.start();
    const adminKey = await ensureFirstAdmin(users);
    // kept in the data directory (mode 0600) so the cursors clients hold survive a restart
    const cursorSecret = await loadOrCreateCursorSecret(join(config.dataDir, 'cursor-secret'));
    const server = await createServer({
      host: config.gateway.host,
      port: config.gateway.port,
      services: [
        SourceService,
        PluginService,
        RegistryService,
        RepositoryService,
        UserService,
        LibraryService,
        UpdateService,
        BackupService,
      ],
      routes: (router) => {
        registerSourceService(router, {
          // the gateway asks the catalog through its Connect client, served here in-process
          catalog: createInProcessCatalogClient(plugins),
          // the client's deadline (made absolute) and cancellation reach the runner, which stops the call
          runner: sourceRunner,
          cursorSecret,
        });
        registerPluginService(router, plugins, { health, access });
        registerRegistryService(router, registry, { adminToken: config.registry.adminToken });
        registerRepositoryService(router, repositories, { health, access });
        registerUserService(router, {
          store: users,
          throttle: new LoginThrottle(),
          remoteAddress: remoteAddressOf,
          onUserRemoved: async (userId) => {
            await libraryStore.removeUser(userId);
            await feed.removeUser(userId);
          },
          ...access,
        });
        registerBackupService(router, {
          library: libraryStore,
          // a .tachibk's entries map to the installed plugins that replace their Mihon sources
          installedSources: async () =>
            (await plugins.list()).map((p) => ({
              sourceId: p.manifest.id,
              name: p.manifest.name,
              ...(p.manifest.replaces ? { replaces: p.manifest.replaces } : {}),
            })),
          requireUser,
        });
        // each user's own library; its source calls fail as SourceService's do
        registerLibraryService(router, {
          store: libraryStore,
          runner: sourceRunner,
          sources: plugins,
          requireUser,
          sourceError: toConnectError,
        });
        registerUpdateService(router, {
          feed,
          entries: libraryStore,
          scheduler: updates,
          works: libraryStore,
          requireUser,
        });
      },
      // a user's API key; else the registry's admin token, which identifies the operator
      authenticate: apiKeyAuthenticator(users, adminBearer(config.registry.adminToken)),
      pages: [metricsPage(() => metrics.render())],
    });
    // rolling refreshes of the followed works' unit lists: the first wake looks for due works
    updates.start();
    logger.info({ url: server.url, dataDir: config.dataDir }, 'awasm listening');
    return {
      url: server.url,
      port: server.port,
      plugins,
      registry,
      repositories,
      metrics,
      runner,
      updates,
      ...(adminKey === undefined ? {} : { adminKey }),
      async close() {
        // the pass first: its runner calls are cancelled before the runner and the database go
        await updates.stop();
        await server.close();
        await runner.close();
        catalogDb.close();
      },
    };
  } catch (error) {
    await updates.stop();
    await runner.close();
    catalogDb.close();
    throw error;
  }
}
