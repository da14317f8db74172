/** RegistryService over Connect's in-memory transport with the folder stores and real test components. */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANONYMOUS, adminBearer, authenticate, type Caller } from '@awasm/server';
import { loadPrivateKey, sha256Hex, signBytes } from '@awasm/shared';
import { MediaKind } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { RegistryService } from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import { Code, createClient, createRouterTransport } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf } from '../../../test/support/connect.js';
import { removeTestWit, type TestPublisher, testPublisher } from './components.test-support.js';
import { FolderIndexStore } from './folder-index-store.js';
import { FolderPackageStore } from './folder-package-store.js';
import { publishChallenge, Registry } from './registry.js';
import { registerRegistryService } from './registry-service.js';

const ADMIN = 'test-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'awasm-registry-service-'));
const registry = new Registry(new FolderPackageStore(dir), new FolderIndexStore(dir));
const client = createClient(
  RegistryService,
  createRouterTransport((router) => registerRegistryService(router, registry, { adminToken: ADMIN }), {
    // the server's authenticator, which finds the operator the admin calls need
    router: { interceptors: [authenticate(adminBearer(ADMIN))] },
  }),
);
const admin = { headers: { authorization: `Bearer ${ADMIN}` } };
let alice: TestPublisher;

function header(publisher: TestPublisher, bytes: Uint8Array, size = bytes.length) {
  const key = loadPrivateKey(publisher.privateKeyPem);
  const signedAtMs = BigInt(Date.now());
  const packageSha256 = sha256Hex(bytes);
  const signature = signBytes(key.privateKey, publishChallenge(packageSha256, size, Number(signedAtMs)));
  return { keyId: key.keyId, packageSha256, size: BigInt(size), signedAtMs, signature };
}

async function* upload(publisher: TestPublisher, bytes: Uint8Array, options: { send?: number; chunk?: number } = {}) {
  yield { part: { case: 'header' as const, value: header(publisher, bytes) } };
  const send = bytes.subarray(0, options.send ?? bytes.length);
  const chunk = options.chunk ?? 16 * 1024;
  for (let i = 0; i < send.length; i += chunk)
    yield { part: { case: 'chunk' as const, value: send.subarray(i, i + chunk) } };
}

async function codeOf(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  const e = await failureOf(call);
  return { code: Code[e.code], message: e.rawMessage };
}

beforeAll(async () => {
  alice = testPublisher();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await removeTestWit();
});

describe('RegistryService', () => {
  it('refuses key management without the admin token, and with a wrong one', async () => {
    expect((await codeOf(client.listKeys({}))).code).toBe('Unauthenticated');
    expect(await codeOf(client.listKeys({}, { headers: { authorization: 'Bearer nope' } }))).toMatchObject({
      code: 'Unauthenticated',
    });
    const open = createClient(
      RegistryService,
      createRouterTransport((router) => registerRegistryService(router, registry)),
    );
    expect(await codeOf(open.listKeys({}, admin))).toMatchObject({
      code: 'Unauthenticated',
      message: expect.stringMatching(/no admin token configured/),
    });
  });

  it('lets an admin user administer it without the token, and refuses a member', async () => {
    const users: Record<string, Caller> = {
      'admin-key': { role: 'admin', userId: 'u1', userName: 'root' },
      'member-key': { role: 'member', userId: 'u2', userName: 'bob' },
    };
    const withUsers = createClient(
      RegistryService,
      createRouterTransport((router) => registerRegistryService(router, registry), {
        router: {
          interceptors: [authenticate((h) => users[h.get('authorization')?.slice(7) ?? ''] ?? ANONYMOUS)],
        },
      }),
    );
    const asUser = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
    expect((await withUsers.listKeys({}, asUser('admin-key'))).keys).toBeDefined();
    expect(await codeOf(withUsers.listKeys({}, asUser('member-key')))).toEqual({
      code: 'PermissionDenied',
      message: 'registry administration needs an admin; bob is a member',
    });
    expect(await codeOf(withUsers.yank({ pluginId: 'books', version: '1.0.0' }, asUser('member-key')))).toMatchObject({
      code: 'PermissionDenied',
    });
  });

  it('trusts a key, then publishes a chunked upload, indexes and downloads it', async () => {
    const { key } = await client.trustKey(
      { publicKey: alice.publicKey, name: 'alice', pluginIds: ['books', 'other'] },
      admin,
    );
    expect(key?.keyId).toBe(alice.keyId);
    expect((await client.listKeys({}, admin)).keys.map((k) => k.name)).toEqual(['alice']);

    const bytes = await alice.pack('books', '1.0.0');
    // the header alone is checked first: a trusted key's proof is accepted, an unknown key's is not
    expect(await client.checkPublish({ header: header(alice, bytes) })).toMatchObject({
      keyId: alice.keyId,
      pluginIds: ['books', 'other'],
    });
    const stranger = testPublisher();
    expect(await codeOf(client.checkPublish({ header: header(stranger, bytes) }))).toEqual({
      code: 'Unauthenticated',
      message: `key ${stranger.keyId} is not a publisher key this registry trusts`,
    });
    expect(await codeOf(client.checkPublish({}))).toEqual({ code: 'InvalidArgument', message: 'header is required' });
    const { version } = await client.publish(upload(alice, bytes));
    expect(version).toMatchObject({
      pluginId: 'books',
      version: '1.0.0',
      size: BigInt(bytes.length),
      mediaKinds: [MediaKind.BOOK],
    });

    const index = await client.index({});
    expect(index.plugins.map((p) => [p.pluginId, p.latest?.version, p.latest?.packageSha256])).toEqual([
      ['books', '1.0.0', sha256Hex(bytes)],
    ]);
    expect((await client.index({ mediaKinds: [MediaKind.ANIME] })).plugins).toEqual([]);
    expect((await client.index({ nsfw: true })).plugins).toEqual([]);
    expect((await client.index({ nsfw: false, languages: ['en'], query: 'book' })).plugins).toHaveLength(1);

    const parts: Uint8Array[] = [];
    let first: string | undefined;
    for await (const message of client.download({ packageSha256: sha256Hex(bytes) })) {
      if (message.part.case === 'version') first ??= message.part.value.version;
      else if (message.part.case === 'chunk') parts.push(message.part.value);
    }
    expect(first).toBe('1.0.0');
    expect(Buffer.concat(parts)).toEqual(Buffer.from(bytes));
    const drain = async () => {
      for await (const _ of client.download({ packageSha256: '0'.repeat(64) })) {
        // nothing arrives
      }
    };
    expect((await codeOf(drain())).code).toBe('NotFound');
  });

  it('refuses a truncated upload and an upload without a header; nothing is indexed', async () => {
    const bytes = await alice.pack('other', '1.0.0');
    const truncated = await codeOf(client.publish(upload(alice, bytes, { send: bytes.length - 10 })));
    expect(truncated).toMatchObject({ code: 'InvalidArgument' });
    expect(truncated.message).toMatch(/received \d+ of the \d+ bytes declared/);
    async function* headless() {
      yield { part: { case: 'chunk' as const, value: bytes.subarray(0, 10) } };
    }
    expect(await codeOf(client.publish(headless()))).toMatchObject({
      code: 'InvalidArgument',
      message: 'the first message must carry the header',
    });
    expect((await client.index({ pluginIds: ['other'] })).plugins).toEqual([]);
  });

  it('yanks with the admin token, and hides the version from the index', async () => {
    expect((await codeOf(client.yank({ pluginId: 'books', version: '1.0.0' }))).code).toBe('Unauthenticated');
    const { version } = await client.yank({ pluginId: 'books', version: '1.0.0', reason: 'broken' }, admin);
    expect(version).toMatchObject({ yanked: true, yankReason: 'broken' });
    expect((await client.index({})).plugins).toEqual([]);
    expect((await client.index({ includeYanked: true })).plugins[0]?.versions[0]?.yanked).toBe(true);
    await client.yank({ pluginId: 'books', version: '1.0.0', undo: true }, admin);
    expect((await client.index({})).plugins).toHaveLength(1);
    await client.removeKey({ keyId: alice.keyId }, admin);
    expect((await client.listKeys({}, admin)).keys).toEqual([]);
  });
});
