import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeStaticIndex, sha256Hex } from '@awasm/shared';
import { PackageVersionSchema } from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRepositoryUrl, probeRepository, StaticRepository } from './remote-repository.js';

const payload = Buffer.alloc(300_000, 7);
const digest = sha256Hex(payload);
const version = create(PackageVersionSchema, {
  pluginId: 'demo',
  version: '1.0.0',
  packageSha256: digest,
  size: BigInt(payload.length),
  publisherKeyId: 'a'.repeat(32),
});

let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/repo/index.json') return void res.end(encodeStaticIndex([version]));
    if (path === `/repo/packages/${digest}.awpkg`) return void res.end(payload);
    if (path === '/html/index.json') return void res.end('<html>not an index</html>');
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function collect(chunks: AsyncGenerator<Uint8Array>): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return Buffer.concat(out);
}

async function codeOf(work: Promise<unknown>): Promise<Code | undefined> {
  try {
    await work;
    return undefined;
  } catch (error) {
    return (error as ConnectError).code;
  }
}

describe('static repositories', () => {
  it('reads the index and downloads a package by digest, from the folder URL or the index URL', async () => {
    for (const url of [`${base}/repo`, `${base}/repo/`, `${base}/repo/index.json`]) {
      const repo = new StaticRepository(url);
      expect(repo.url).toBe(`${base}/repo/`);
      const [listed] = await repo.index();
      expect(listed).toMatchObject({ pluginId: 'demo', packageSha256: digest });
      expect(sha256Hex(await collect(repo.download(version)))).toBe(digest);
    }
  });

  it('stops a download as soon as it is longer than the index declared', async () => {
    const short = create(PackageVersionSchema, { ...version, size: 1000n });
    expect(await codeOf(collect(new StaticRepository(`${base}/repo/`).download(short)))).toBe(Code.DataLoss);
  });

  it('answers UNAVAILABLE for a missing package and INVALID_ARGUMENT for an index that is not one', async () => {
    const missing = create(PackageVersionSchema, { ...version, packageSha256: 'f'.repeat(64) });
    expect(await codeOf(collect(new StaticRepository(`${base}/repo/`).download(missing)))).toBe(Code.Unavailable);
    expect(await codeOf(new StaticRepository(`${base}/html/`).index())).toBe(Code.InvalidArgument);
  });
});

describe('probeRepository', () => {
  it('recognises a static repository', async () => {
    const { repository, index } = await probeRepository(`${base}/repo`);
    expect(repository.kind).toBe('static');
    expect(index).toHaveLength(1);
  });

  it('refuses a URL that is neither kind, with both reasons', async () => {
    const error = await probeRepository(`${base}/nothing`).catch((e: ConnectError) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unavailable);
    expect((error as ConnectError).rawMessage).toMatch(/neither a static repository .* nor an aWASM server/);
  });

  it('refuses URLs that are not http(s) or carry credentials', () => {
    expect(() => parseRepositoryUrl('ftp://127.0.0.1/')).toThrow('must start with http');
    expect(() => parseRepositoryUrl('http://user:pw@127.0.0.1/')).toThrow('credentials');
    expect(() => parseRepositoryUrl('not a url')).toThrow('is not a URL');
  });
});
