export { FolderIndexStore } from './folder-index-store.js';
export { FolderPackageStore } from './folder-package-store.js';
export type { RegistryIndexStore, TrustedKey, VersionConflict, VersionRecord } from './index-store.js';
export { VersionConflictError } from './index-store.js';
export {
  ComponentRefused,
  type ComponentReport,
  componentExportNames,
  type InspectOptions,
  inspectComponent,
} from './inspect.js';
export { GridFsPackageStore, MongoIndexStore, MongoRegistryStorage } from './mongo-registry.js';
export { assertDigest, PackageIntegrityError, type PackageStore } from './package-store.js';
export {
  type IndexFilter,
  type PluginEntry,
  type PublishAuth,
  publishChallenge,
  Registry,
  type RegistryOptions,
} from './registry.js';
export {
  CHUNK_BYTES,
  type RegistryServiceOptions,
  registerRegistryService,
  toPackageVersion,
} from './registry-service.js';
