import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PACKAGE_EXTENSION, sha256Hex } from '@awasm/shared';
import { assertDigest, PackageIntegrityError, type PackageStore } from './package-store.js';

/** Packages as `<folder>/<sha256>.awpkg`, written to a temporary name and renamed so a crash never leaves half a file. */
export class FolderPackageStore implements PackageStore {
  constructor(readonly folder: string) {}

  private path(digest: string): string {
    assertDigest(digest);
    return join(this.folder, `${digest}${PACKAGE_EXTENSION}`);
  }

  async put(bytes: Uint8Array): Promise<string> {
    const digest = sha256Hex(bytes);
    await mkdir(this.folder, { recursive: true });
    const tmp = join(this.folder, `.${digest}.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(tmp, bytes);
    await rename(tmp, this.path(digest));
    return digest;
  }

  async get(digest: string): Promise<Uint8Array | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(this.path(digest)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const actual = sha256Hex(bytes);
    if (actual !== digest) throw new PackageIntegrityError(digest, actual);
    return bytes;
  }

  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }
}
