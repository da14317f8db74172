import { mkdtempSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePackage, encodePackage, loadPrivateKey, sha256Hex, signBytes } from '@awasm/shared';
import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  manifestFor,
  removeTestWit,
  type TestPublisher,
  testComponent,
  testPublisher,
} from './components.test-support.js';
import { FolderIndexStore } from './folder-index-store.js';
import { FolderPackageStore } from './folder-package-store.js';
import { componentExportNames, inspectComponent } from './inspect.js';
import { type PublishAuth, publishChallenge, Registry } from './registry.js';

const root = mkdtempSync(join(tmpdir(), 'awasm-registry-'));
let n = 0;
let folder: string;
let registry: Registry;
let alice: TestPublisher;
let mallory: TestPublisher;

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await removeTestWit();
});

function proof(publisher: { privateKeyPem: string }, bytes: Uint8Array, over: Partial<PublishAuth> = {}): PublishAuth {
  const key = loadPrivateKey(publisher.privateKeyPem);
  const auth = { keyId: key.keyId, packageSha256: sha256Hex(bytes), size: bytes.length, signedAt: Date.now(), ...over };
  return {
    ...auth,
    signature: signBytes(key.privateKey, publishChallenge(auth.packageSha256, auth.size, auth.signedAt)),
  };
}

async function snapshot(): Promise<string> {
  const files = (await readdir(folder).catch(() => [])).sort();
  const index = await readFile(join(folder, 'index.json'), 'utf8').catch(() => '');
  return JSON.stringify({ files, index });
}

async function refused(call: () => Promise<unknown>, code: Code, message: RegExp | string): Promise<void> {
  const before = await snapshot();
  const error = await call().then(
    () => {
      throw new Error('expected the publish to be refused');
    },
    (e: unknown) => ConnectError.from(e),
  );
  expect(Code[error.code]).toBe(Code[code]);
  if (typeof message === 'string') expect(error.rawMessage).toContain(message);
  else expect(error.rawMessage).toMatch(message);
  expect(await snapshot()).toBe(before);
}

beforeEach(async () => {
  folder = join(root, `r${n++}`);
  registry = new Registry(new FolderPackageStore(folder), new FolderIndexStore(folder), {
    maxPackageBytes: 4 * 1024 * 1024,
  });
  alice = testPublisher();
  mallory = testPublisher();
  await registry.trustKey(alice.publicKey, 'alice', ['books', 'comics']);
  await registry.trustKey(mallory.publicKey, 'mallory', ['mallory-plugin']);
});

describe('component inspection', () => {
  it('lists imports and exports and accepts the source world', async () => {
    const component = await testComponent('good');
    expect(componentExportNames(component)).toEqual(['awasm:source/source-api@0.1.0']);
    expect(inspectComponent(component).apiVersion).toBe('0.1.0');
  });

  it('refuses filesystem imports unless allowed, sockets always, and a missing source export', async () => {
    const testComponentSync = {
      filesystem: await testComponent('filesystem'),
      sockets: await testComponent('sockets'),
      'no-export': await testComponent('no-export'),
    };
    expect(() => inspectComponent(testComponentSync.filesystem)).toThrow(/'wasi:filesystem\/preopens@0.2.10'/);
    expect(inspectComponent(testComponentSync.filesystem, { allowFilesystemImports: true }).apiVersion).toBe('0.1.0');
    expect(() => inspectComponent(testComponentSync.sockets, { allowFilesystemImports: true })).toThrow(
      /'wasi:sockets\/tcp@0.2.10', which source plugins may not use/,
    );
    expect(() => inspectComponent(testComponentSync['no-export'])).toThrow(
      /does not export 'awasm:source\/source-api' \(exports: wasi:http\/incoming-handler@0.2.10\)/,
    );
  });
});

describe('publish', () => {
  it('verifies, stores and indexes a signed package; the same bytes again change nothing', async () => {
    const bytes = await alice.pack('books', '1.0.0');
    const record = await registry.publish(bytes, proof(alice, bytes));
    expect(record).toMatchObject({
      pluginId: 'books',
      version: '1.0.0',
      size: bytes.length,
      publisherKeyId: alice.keyId,
    });
    expect(record.packageSha256).toBe(sha256Hex(bytes));
    const before = await snapshot();
    await registry.publish(bytes, proof(alice, bytes));
    expect(await snapshot()).toBe(before);
    expect((await registry.download(record.packageSha256)).bytes).toEqual(bytes);
    await writeFile(join(folder, `${record.packageSha256}.awpkg`), Uint8Array.from(bytes).reverse());
    await expect(registry.download(record.packageSha256)).rejects.toMatchObject({ code: Code.DataLoss });
  });

  it('refuses a tampered component', async () => {
    const signed = decodePackage(await alice.pack('books', '1.0.0'));
    const component = Uint8Array.from(signed.component);
    component[component.length - 1] = (component.at(-1) ?? 0) ^ 0xff;
    const bytes = encodePackage({ manifestToml: signed.manifestToml, component, signature: signed.signature });
    await refused(
      () => registry.publish(bytes, proof(alice, bytes)),
      Code.InvalidArgument,
      /does not match the package's manifest and component/,
    );
  });

  it('refuses a tampered manifest', async () => {
    const signed = decodePackage(await alice.pack('books', '1.0.0'));
    const manifestToml = signed.manifestToml.replace('nsfw = false', 'nsfw = true');
    const bytes = encodePackage({ manifestToml, component: signed.component, signature: signed.signature });
    await refused(() => registry.publish(bytes, proof(alice, bytes)), Code.InvalidArgument, /does not match/);
  });

  it('refuses a key that is trusted, but not for this plugin (wrong key)', async () => {
    const bytes = await mallory.pack('books', '1.0.0');
    await refused(
      () => registry.publish(bytes, proof(mallory, bytes)),
      Code.PermissionDenied,
      `key ${mallory.keyId} (mallory) is not trusted for plugin 'books'`,
    );
  });

  it('refuses a package signed by another key than the manifest names, or than the uploader', async () => {
    const named = await alice.pack('books', '1.0.0', { extra: `publisher_key_id = "${mallory.keyId}"\n` });
    await refused(
      () => registry.publish(named, proof(alice, named)),
      Code.PermissionDenied,
      /publisher_key_id is .* but the package is signed by/,
    );
    const bytes = await alice.pack('mallory-plugin', '1.0.0');
    await refused(
      () => registry.publish(bytes, proof(mallory, bytes)),
      Code.PermissionDenied,
      /signed by key .* but the upload is made with key/,
    );
  });

  it('refuses an untrusted key and a forged or stale proof', async () => {
    const stranger = testPublisher();
    const bytes = await stranger.pack('books', '1.0.0');
    await refused(
      () => registry.publish(bytes, proof(stranger, bytes)),
      Code.Unauthenticated,
      'is not a publisher key this registry trusts',
    );
    const good = await alice.pack('books', '1.0.0');
    const forged = { ...proof(stranger, good), keyId: alice.keyId };
    await refused(() => registry.publish(good, forged), Code.Unauthenticated, `not signed by key ${alice.keyId}`);
    const stale = proof(alice, good, { signedAt: Date.now() - 3_600_000 });
    await refused(() => registry.publish(good, stale), Code.Unauthenticated, /outside the 600 s window/);
  });

  it('refuses a replayed older version and a duplicate version with different bytes', async () => {
    const v2 = await alice.pack('books', '2.0.0');
    await registry.publish(v2, proof(alice, v2));
    const v1 = await alice.pack('books', '1.0.0');
    await refused(
      () => registry.publish(v1, proof(alice, v1)),
      Code.FailedPrecondition,
      'books 1.0.0 is not newer than the published 2.0.0',
    );
    const again = await alice.pack('books', '2.0.0', { extra: '# other bytes\n' });
    await refused(
      () => registry.publish(again, proof(alice, again)),
      Code.AlreadyExists,
      'books 2.0.0 is already published with other bytes',
    );
  });

  it('refuses an oversized package before reading it, and a truncated upload', async () => {
    const bytes = await alice.pack('books', '1.0.0');
    await refused(
      () => registry.publish(bytes, proof(alice, bytes, { size: 5 * 1024 * 1024 })),
      Code.ResourceExhausted,
      "over this registry's 4194304-byte limit",
    );
    const truncated = bytes.subarray(0, bytes.length - 100);
    await refused(
      () => registry.publish(truncated, proof(alice, bytes)),
      Code.InvalidArgument,
      `received ${truncated.length} of the ${bytes.length} bytes declared`,
    );
  });

  it('refuses components importing wasi:filesystem or wasi:sockets, or not exporting the source API, naming them', async () => {
    const fs = await alice.pack('books', '1.0.0', { world: 'filesystem' });
    await refused(
      () => registry.publish(fs, proof(alice, fs)),
      Code.InvalidArgument,
      "imports 'wasi:filesystem/preopens@0.2.10'",
    );
    const sockets = await alice.pack('books', '1.0.0', { world: 'sockets' });
    await refused(
      () => registry.publish(sockets, proof(alice, sockets)),
      Code.InvalidArgument,
      "imports 'wasi:sockets/tcp@0.2.10'",
    );
    const none = await alice.pack('books', '1.0.0', { world: 'no-export' });
    await refused(
      () => registry.publish(none, proof(alice, none)),
      Code.InvalidArgument,
      "does not export 'awasm:source/source-api'",
    );
  });

  it('refuses an unsigned package and a bad manifest naming the key', async () => {
    const component = await testComponent('good');
    const unsigned = encodePackage({ manifestToml: manifestFor('books', '1.0.0'), component });
    await refused(() => registry.publish(unsigned, proof(alice, unsigned)), Code.InvalidArgument, 'not signed');
    const bad = await alice.pack('books', '1.0.0', { extra: '[limits]\nmemory_mb = 99999\n' });
    await refused(
      () => registry.publish(bad, proof(alice, bad)),
      Code.InvalidArgument,
      "manifest key 'limits.memory_mb'",
    );
  });

  it('lands every one of concurrent publishes of different plugins', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `plugin-${i}`);
    await registry.trustKey(alice.publicKey, 'alice', ids);
    const packages = await Promise.all(ids.map((id) => alice.pack(id, '1.0.0')));
    await Promise.all(packages.map((bytes) => registry.publish(bytes, proof(alice, bytes))));
    expect((await registry.list()).map((e) => e.pluginId)).toEqual(ids);
    for (const bytes of packages) expect((await registry.download(sha256Hex(bytes))).bytes).toEqual(bytes);
  });
});

describe('index, yank and keys', () => {
  it('lists plugins with their versions newest first, filters, and hides yanked versions', async () => {
    for (const [id, version] of [
      ['books', '1.0.0'],
      ['books', '1.1.0'],
      ['comics', '0.3.0'],
    ] as const) {
      const bytes = await alice.pack(id, version);
      await registry.publish(bytes, proof(alice, bytes));
    }
    const all = await registry.list();
    expect(all.map((e) => [e.pluginId, e.latest.version, e.versions.map((v) => v.version)])).toEqual([
      ['books', '1.1.0', ['1.1.0', '1.0.0']],
      ['comics', '0.3.0', ['0.3.0']],
    ]);
    expect((await registry.list({ query: 'COMICS' })).map((e) => e.pluginId)).toEqual(['comics']);
    expect(await registry.list({ mediaKinds: ['anime'] })).toEqual([]);
    expect((await registry.list({ languages: ['en'], pluginIds: ['books'] })).length).toBe(1);

    await registry.yank('books', '1.1.0', true, 'crashes');
    expect((await registry.list({ pluginIds: ['books'] }))[0]?.latest.version).toBe('1.0.0');
    const withYanked = await registry.list({ pluginIds: ['books'], includeYanked: true });
    expect(withYanked[0]?.versions[0]).toMatchObject({ version: '1.1.0', yanked: true, yankReason: 'crashes' });
    await expect(registry.yank('books', '9.0.0', true)).rejects.toMatchObject({ code: Code.NotFound });
  });

  it('manages trusted keys', async () => {
    expect((await registry.keys()).map((k) => k.name).sort()).toEqual(['alice', 'mallory']);
    expect(await registry.isTrusted(alice.keyId, 'books')).toBe(true);
    expect(await registry.isTrusted(alice.keyId, 'mallory-plugin')).toBe(false);
    await registry.removeKey(mallory.keyId);
    await expect(registry.removeKey(mallory.keyId)).rejects.toMatchObject({ code: Code.NotFound });
    await expect(registry.trustKey('ed25519:short', 'x', ['a1'])).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(registry.trustKey(alice.publicKey, 'x', ['Bad Id'])).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
  });
});
