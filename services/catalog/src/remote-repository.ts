import {
  MAX_PACKAGE_BYTES,
  MAX_STATIC_INDEX_BYTES,
  parseStaticIndex,
  STATIC_INDEX_FILE,
  StaticIndexError,
  staticPackagePath,
} from '@awasm/shared';
import { type PackageVersion, RegistryService } from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';

/** How long reading an index may take, and a download. */
const INDEX_TIMEOUT_MS = 30_000;
const DOWNLOAD_TIMEOUT_MS = 10 * 60_000;

/**
 * A repository as the server reads it: every version it lists (yanked ones flagged) and package
 * bytes by digest. Nothing it says is trusted: the caller checks digests, sizes and signatures.
 */
export interface RemoteRepository {
  readonly kind: 'grpc' | 'static';
  /** the URL it was opened with, normalised */
  readonly url: string;
  index(): Promise<PackageVersion[]>;
  /**
   * The package bytes of `version`, in chunks as they arrive. Stops with DATA_LOSS as soon as the
   * repository sends more than the index said the package holds.
   */
  download(version: PackageVersion): AsyncGenerator<Uint8Array>;
}

const unavailable = (url: string, error: unknown) =>
  new ConnectError(
    `repository ${url} cannot be read: ${error instanceof ConnectError ? error.rawMessage : (error as Error).message}`,
    Code.Unavailable,
  );

function limitFor(version: PackageVersion): number {
  const declared = Number(version.size);
  return Number.isSafeInteger(declared) && declared > 0 ? Math.min(declared, MAX_PACKAGE_BYTES) : MAX_PACKAGE_BYTES;
}

function tooLong(version: PackageVersion, limit: number): ConnectError {
  return new ConnectError(
    `package ${version.packageSha256} of ${version.pluginId} ${version.version} is longer than the ${limit} bytes its index declares`,
    Code.DataLoss,
  );
}

/** Another aWASM server's awasm.v1.RegistryService over gRPC. */
export class GrpcRepository implements RemoteRepository {
  readonly kind = 'grpc';
  private readonly client;

  constructor(readonly url: string) {
    this.client = createClient(RegistryService, createGrpcTransport({ baseUrl: url.replace(/\/$/, '') }));
  }

  async index(): Promise<PackageVersion[]> {
    try {
      const { plugins } = await this.client.index({ includeYanked: true }, { timeoutMs: INDEX_TIMEOUT_MS });
      return plugins.flatMap((p) => p.versions);
    } catch (error) {
      throw unavailable(this.url, error);
    }
  }

  async *download(version: PackageVersion): AsyncGenerator<Uint8Array> {
    const limit = limitFor(version);
    let received = 0;
    try {
      for await (const message of this.client.download(
        { packageSha256: version.packageSha256 },
        { timeoutMs: DOWNLOAD_TIMEOUT_MS },
      )) {
        if (message.part.case !== 'chunk') continue;
        received += message.part.value.length;
        if (received > limit) throw tooLong(version, limit);
        yield message.part.value;
      }
    } catch (error) {
      if (error instanceof ConnectError && error.code === Code.DataLoss) throw error;
      throw unavailable(this.url, error);
    }
  }
}

/** index.json and packages/<sha256>.awpkg over plain HTTP(S), as `awasm registry export` writes them. */
export class StaticRepository implements RemoteRepository {
  readonly kind = 'static';
  /** base URL, ending in "/" */
  readonly url: string;

  constructor(url: string) {
    const base = new URL(url);
    if (base.pathname.endsWith(`/${STATIC_INDEX_FILE}`))
      base.pathname = base.pathname.slice(0, -STATIC_INDEX_FILE.length);
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    base.search = '';
    base.hash = '';
    this.url = base.toString();
  }

  async index(): Promise<PackageVersion[]> {
    const target = new URL(STATIC_INDEX_FILE, this.url);
    let text: string;
    try {
      const response = await fetch(target, { signal: AbortSignal.timeout(INDEX_TIMEOUT_MS) });
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`GET ${target} answered ${response.status}`);
      }
      const bytes = await readAll(response, MAX_STATIC_INDEX_BYTES, () => new Error(`${target} is too large`));
      text = new TextDecoder().decode(bytes);
    } catch (error) {
      throw unavailable(this.url, error);
    }
    try {
      return parseStaticIndex(text);
    } catch (error) {
      if (error instanceof StaticIndexError)
        throw new ConnectError(`${target}: ${error.message}`, Code.InvalidArgument);
      throw error;
    }
  }

  async *download(version: PackageVersion): AsyncGenerator<Uint8Array> {
    const target = new URL(staticPackagePath(version.packageSha256), this.url);
    const limit = limitFor(version);
    let response: Response;
    try {
      response = await fetch(target, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    } catch (error) {
      throw unavailable(this.url, error);
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new ConnectError(`GET ${target} answered ${response.status}`, Code.Unavailable);
    }
    let received = 0;
    const reader = response.body.getReader();
    try {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw unavailable(this.url, error);
        }
        if (chunk.done) return;
        received += chunk.value.length;
        if (received > limit) throw tooLong(version, limit);
        yield chunk.value;
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }
}

async function readAll(response: Response, limit: number, tooLarge: () => Error): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (!response.body) return new Uint8Array();
  for await (const chunk of response.body) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Checks the URL and names its repository kind. */
export function parseRepositoryUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConnectError(`'${text}' is not a URL such as http://127.0.0.1:7600`, Code.InvalidArgument);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConnectError(`repository URL '${text}' must start with http:// or https://`, Code.InvalidArgument);
  }
  if (url.username || url.password) {
    throw new ConnectError('repository URLs may not carry credentials', Code.InvalidArgument);
  }
  return url;
}

/** Opens a stored repository by its kind. */
export function openRepository(kind: 'grpc' | 'static', url: string): RemoteRepository {
  return kind === 'static' ? new StaticRepository(url) : new GrpcRepository(url);
}

/**
 * Finds out what a URL is: a static repository when `<url>/index.json` is one (or the URL names
 * an index.json), otherwise an aWASM server when its RegistryService answers. Returns the opened
 * repository with its index, or UNAVAILABLE with both reasons.
 */
export async function probeRepository(
  text: string,
): Promise<{ repository: RemoteRepository; index: PackageVersion[] }> {
  const url = parseRepositoryUrl(text);
  const asStatic = new StaticRepository(url.toString());
  if (url.pathname.endsWith(`/${STATIC_INDEX_FILE}`)) return { repository: asStatic, index: await asStatic.index() };
  let staticProblem: unknown;
  try {
    return { repository: asStatic, index: await asStatic.index() };
  } catch (error) {
    staticProblem = error;
  }
  const asGrpc = new GrpcRepository(`${url.origin}${url.pathname.replace(/\/$/, '')}`);
  try {
    return { repository: asGrpc, index: await asGrpc.index() };
  } catch (error) {
    throw new ConnectError(
      `${text} is neither a static repository (${(staticProblem as Error).message}) nor an aWASM server (${(error as ConnectError).rawMessage})`,
      Code.Unavailable,
    );
  }
}
