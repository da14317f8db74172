import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkNewVersion, type RegistryIndexStore, type TrustedKey, type VersionRecord } from './index-store.js';

interface IndexFile {
  format: 1;
  versions: VersionRecord[];
  keys: TrustedKey[];
}

/**
 * The index as `<folder>/index.json`. Every change is a read-modify-write of the whole file under
 * an in-process queue, written to a temporary name and renamed, so readers never see half a file
 * and concurrent changes in this process never lose each other. One process owns the folder.
 */
export class FolderIndexStore implements RegistryIndexStore {
  private queue: Promise<unknown> = Promise.resolve();
  readonly path: string;

  constructor(readonly folder: string) {
    this.path = join(folder, 'index.json');
  }

  private async read(): Promise<IndexFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { format: 1, versions: [], keys: [] };
      throw error;
    }
    const doc = JSON.parse(text) as IndexFile;
    if (doc.format !== 1 || !Array.isArray(doc.versions) || !Array.isArray(doc.keys)) {
      throw new Error(`${this.path} is not a registry index (format 1)`);
    }
    return doc;
  }

  private async write(doc: IndexFile): Promise<void> {
    await mkdir(this.folder, { recursive: true });
    const tmp = join(this.folder, `.index.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(tmp, `${JSON.stringify(doc, null, 1)}\n`);
    await rename(tmp, this.path);
  }

  /** Runs a change after every earlier one; `change` returns the result and whether to write. */
  private mutate<T>(change: (doc: IndexFile) => { result: T; write: boolean }): Promise<T> {
    const run = this.queue.then(async () => {
      const doc = await this.read();
      const { result, write } = change(doc);
      if (write) await this.write(doc);
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async snapshot(): Promise<IndexFile> {
    await this.queue;
    return this.read();
  }

  async versions(): Promise<VersionRecord[]> {
    return (await this.snapshot()).versions;
  }

  async version(pluginId: string, version: string): Promise<VersionRecord | undefined> {
    return (await this.snapshot()).versions.find((v) => v.pluginId === pluginId && v.version === version);
  }

  async byDigest(packageSha256: string): Promise<VersionRecord | undefined> {
    return (await this.snapshot()).versions.find((v) => v.packageSha256 === packageSha256);
  }

  addVersion(record: VersionRecord): Promise<VersionRecord> {
    return this.mutate((doc) => {
      const same = checkNewVersion(doc.versions, record);
      if (same) return { result: same, write: false };
      doc.versions.push(record);
      return { result: record, write: true };
    });
  }

  setYanked(pluginId: string, version: string, yanked: boolean, reason?: string): Promise<VersionRecord | undefined> {
    return this.mutate((doc) => {
      const record = doc.versions.find((v) => v.pluginId === pluginId && v.version === version);
      if (!record) return { result: undefined, write: false };
      record.yanked = yanked;
      if (yanked && reason) record.yankReason = reason;
      else delete record.yankReason;
      return { result: record, write: true };
    });
  }

  async keys(): Promise<TrustedKey[]> {
    return (await this.snapshot()).keys;
  }

  async key(keyId: string): Promise<TrustedKey | undefined> {
    return (await this.snapshot()).keys.find((k) => k.keyId === keyId);
  }

  putKey(key: TrustedKey): Promise<TrustedKey> {
    return this.mutate((doc) => {
      doc.keys = [...doc.keys.filter((k) => k.keyId !== key.keyId), key];
      return { result: key, write: true };
    });
  }

  removeKey(keyId: string): Promise<boolean> {
    return this.mutate((doc) => {
      const before = doc.keys.length;
      doc.keys = doc.keys.filter((k) => k.keyId !== keyId);
      return { result: doc.keys.length !== before, write: doc.keys.length !== before };
    });
  }
}
