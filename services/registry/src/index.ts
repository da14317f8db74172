export { FolderPackageStore } from './folder-package-store.js';
export { assertDigest, PackageIntegrityError, type PackageStore } from './package-store.js';
