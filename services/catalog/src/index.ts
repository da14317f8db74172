export type { AccessChecks, RequireAdmin } from './access.js';
export { BackupTooLargeError, exportBackup } from './backup/backup-export.js';
export {
  BACKUP_FORMAT,
  BACKUP_LIMITS,
  BACKUP_VERSION,
  type BackupCategory,
  type BackupDocument,
  type BackupEntry,
  BackupFormatError,
  type BackupHistory,
  type BackupOrphaned,
  type BackupProgress,
} from './backup/backup-format.js';
export { type ImportOptions, type ImportReport, importBackup } from './backup/backup-import.js';
export { BACKUP_SCHEMA_PATH, backupJsonSchema } from './backup/backup-schema.js';
export { type BackupServiceDeps, registerBackupService } from './backup/backup-service.js';
export { parseBackupJson, validateBackup } from './backup/backup-validate.js';
export {
  decodeTachibk,
  defaultTachibkLimits,
  type Int64,
  type TachibkBackup,
  type TachibkCategory,
  type TachibkChapter,
  type TachibkHistory,
  type TachibkLimits,
  type TachibkManga,
  type TachibkSource,
} from './backup/tachibk.js';
export {
  backupFromTachibk,
  importTachibk,
  MIHON_SOURCE_PREFIX,
  type MihonReplacement,
  mihonReplacements,
  type ReplacingSource,
} from './backup/tachibk-import.js';
export { CatalogDatabase, type CatalogDatabaseSource } from './catalog-database.js';
export { createInProcessCatalogClient, registerCatalogService } from './catalog-service.js';
export { MAX_LIBRARY_PAGE } from './library/library-cursor.js';
export {
  type LibraryServiceDeps,
  type LibrarySources,
  registerLibraryService,
} from './library/library-service.js';
export {
  type Category,
  CategoryNameTakenError,
  EntryExistsError,
  type EntryMetadata,
  type EntryPage,
  type EntryPatch,
  type EntryQuery,
  type EntrySort,
  type HistoryPage,
  type HistoryQuery,
  type HistoryRecord,
  InvalidLibraryCursorError,
  LIBRARY_STATUSES,
  type LibraryEntry,
  type LibraryMediaKind,
  type LibraryStatus,
  type LibraryStore,
  type MoveResult,
  type MoveTarget,
  type NewEntry,
  type Orphaned,
  type OrphanReason,
  type ProgressWrite,
  type UnitProgress,
  UnknownCategoryError,
} from './library/library-store.js';
export { foldText } from './library/library-text.js';
export { MongoLibraryStore } from './library/mongo-library-store.js';
export { mergeProgress } from './library/progress-merge.js';
export { SqliteLibraryStore } from './library/sqlite-library-store.js';
export { type FromUnit, matchUnits, type ToUnit, type UnitMatch } from './library/unit-matching.js';
export { MongoPluginStore } from './mongo-plugin-store.js';
export { MongoRepositoryStore } from './mongo-repository-store.js';
export {
  compareVersions,
  type InstallOptions,
  PluginManager,
  type PluginObserver,
  type PluginView,
} from './plugin-manager.js';
export { manifestMediaKinds, registerPluginService, toInstalledPlugin } from './plugin-service.js';
export type { InstalledPlugin, PluginStore } from './plugin-store.js';
export {
  GrpcRepository,
  openRepository,
  probeRepository,
  type RemoteRepository,
  StaticRepository,
} from './remote-repository.js';
export { type InstallRequest, RepositoryManager, type RepositoryManagerOptions } from './repository-manager.js';
export { registerRepositoryService } from './repository-service.js';
export type { RepositoryRecord, RepositoryStore } from './repository-store.js';
export { type HealthLookup, toSourceHealth } from './source-health.js';
export { requireSourceId } from './source-id.js';
export { SqlitePluginStore } from './sqlite-plugin-store.js';
export { SqliteRepositoryStore } from './sqlite-repository-store.js';
export { type PublisherKeyTrust, TrustPolicy, type TrustPolicyOptions } from './trust-policy.js';
export { type FeedItem, type FeedStore, InvalidFeedCursorError } from './updates/feed-store.js';
export type { CachedMedia, CachedUnit, MediaCacheStore } from './updates/media-cache-store.js';
export { MongoFeedStore } from './updates/mongo-feed-store.js';
export { MongoMediaCacheStore } from './updates/mongo-media-cache-store.js';
export type { RefreshStatus } from './updates/refresh-status.js';
export { SqliteFeedStore } from './updates/sqlite-feed-store.js';
export { SqliteMediaCacheStore } from './updates/sqlite-media-cache-store.js';
export { InMemoryTrackedWorks, type TrackedWork, type TrackedWorks } from './updates/tracked-works.js';
export { type RefreshFilter, UpdateScheduler, type UpdateSchedulerOptions } from './updates/update-scheduler.js';
export { type RequireUser, registerUpdateService, type UpdateServiceDeps } from './updates/update-service.js';
export { API_KEY_PREFIX, generateApiKey, hashApiKey } from './users/api-keys.js';
export {
  type AuthenticatedCaller,
  apiKeyAuthenticator,
  createUserWithKey,
  ensureFirstAdmin,
  type HeaderAuthenticator,
} from './users/authenticator.js';
export { LoginThrottle } from './users/login-throttle.js';
export { MongoUserStore } from './users/mongo-user-store.js';
export { hashPassword, verifyPassword } from './users/passwords.js';
export { SqliteUserStore } from './users/sqlite-user-store.js';
export { registerUserService, type UserServiceDeps } from './users/user-service.js';
export {
  type ApiKeyRecord,
  isValidUserName,
  type UserRecord,
  type UserRole,
  type UserStore,
} from './users/user-store.js';
export { type RepositoryOffer, type VerifiedPackage, verifyPackage } from './verify-package.js';
