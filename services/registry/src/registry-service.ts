import { callerOf, requireAdmin } from '@awasm/server';
import { mediaKindFromProto, PROTO_MEDIA_KINDS } from '@awasm/shared';
import {
  type PackageVersion,
  PackageVersionSchema,
  type PublishHeader,
  RegistryService,
  type TrustedKey as TrustedKeyMessage,
  TrustedKeySchema,
} from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import type { TrustedKey, VersionRecord } from './index-store.js';
import type { IndexFilter, PublishAuth, Registry } from './registry.js';

/** Chunk size for Download (and the most a Publish chunk may be). */
export const CHUNK_BYTES = 1024 * 1024;

export function toPackageVersion(v: VersionRecord): PackageVersion {
  return create(PackageVersionSchema, {
    pluginId: v.pluginId,
    version: v.version,
    name: v.name,
    description: v.description ?? '',
    apiVersion: v.apiVersion,
    mediaKinds: v.mediaKinds.map((k) => PROTO_MEDIA_KINDS[k]),
    languages: v.languages,
    nsfw: v.nsfw,
    packageSha256: v.packageSha256,
    componentSha256: v.componentSha256,
    size: BigInt(v.size),
    publisherKeyId: v.publisherKeyId,
    publishedAt: timestampFromMs(v.publishedAt),
    yanked: v.yanked,
    yankReason: v.yankReason ?? '',
    manifestToml: v.manifestToml,
  });
}

function toTrustedKey(k: TrustedKey): TrustedKeyMessage {
  return create(TrustedKeySchema, { ...k, addedAt: timestampFromMs(k.addedAt) });
}

export interface RegistryServiceOptions {
  /**
   * The admin token the server authenticates the operator with (adminBearer), named in the refusal
   * when it is not configured. Yank and key management need an admin: that operator or an admin user.
   */
  adminToken?: string | undefined;
}

/**
 * Registry administration is an admin's: a user with the admin role or the operator's admin token,
 * as the server's authenticator found the caller (auth.ts).
 */
function requireRegistryAdmin(context: HandlerContext, adminToken: string | undefined): void {
  if (callerOf(context).role === 'anonymous' && !adminToken) {
    throw new ConnectError(
      "registry administration needs an admin user's API key; this server has no admin token configured (admin_token / AWASM_ADMIN_TOKEN) either",
      Code.Unauthenticated,
    );
  }
  requireAdmin(context, 'registry administration');
}

function publishAuth(h: PublishHeader): PublishAuth {
  return {
    keyId: h.keyId,
    packageSha256: h.packageSha256,
    size: Number(h.size),
    signedAt: Number(h.signedAtMs),
    signature: h.signature,
  };
}

/** Serves awasm.v1.RegistryService from a Registry. */
export function registerRegistryService(
  router: ConnectRouter,
  registry: Registry,
  options: RegistryServiceOptions = {},
): void {
  router.service(RegistryService, {
    async publish(requests) {
      let auth: PublishAuth | undefined;
      const chunks: Uint8Array[] = [];
      let received = 0;
      // A refused upload is still read to its end (and dropped): a gRPC client writes its whole
      // request before it reads the answer, so stopping to read would leave it waiting forever.
      let refusal: unknown;
      for await (const request of requests) {
        if (refusal) continue;
        try {
          if (request.part.case === 'header') {
            if (auth) throw new ConnectError('only the first message may carry the header', Code.InvalidArgument);
            auth = publishAuth(request.part.value);
            // Refuse an untrusted key, a bad proof or an oversized package before keeping any bytes.
            await registry.checkPublishAuth(auth);
          } else if (request.part.case === 'chunk') {
            if (!auth) throw new ConnectError('the first message must carry the header', Code.InvalidArgument);
            const chunk = request.part.value;
            if (chunk.length > CHUNK_BYTES) {
              throw new ConnectError(`chunks are at most ${CHUNK_BYTES} bytes`, Code.InvalidArgument);
            }
            received += chunk.length;
            if (received > auth.size) {
              throw new ConnectError(`upload is longer than the ${auth.size} bytes declared`, Code.InvalidArgument);
            }
            chunks.push(chunk);
          }
        } catch (error) {
          refusal = error;
          chunks.length = 0;
        }
      }
      if (refusal) throw refusal;
      if (!auth) throw new ConnectError('empty upload: send a header, then the package', Code.InvalidArgument);
      return { version: toPackageVersion(await registry.publish(Buffer.concat(chunks), auth)) };
    },

    async checkPublish(request) {
      if (!request.header) throw new ConnectError('header is required', Code.InvalidArgument);
      const key = await registry.checkPublishAuth(publishAuth(request.header));
      return { keyId: key.keyId, pluginIds: key.pluginIds };
    },

    async index(request) {
      const filter: IndexFilter = { includeYanked: request.includeYanked };
      if (request.pluginIds.length) filter.pluginIds = request.pluginIds;
      if (request.languages.length) filter.languages = request.languages;
      if (request.query) filter.query = request.query;
      if (request.mediaKinds.length) {
        filter.mediaKinds = request.mediaKinds.map((k) => {
          const name = mediaKindFromProto(k);
          if (!name) throw new ConnectError(`media kind ${k} is not a media kind`, Code.InvalidArgument);
          return name;
        });
      }
      const entries = await registry.list(filter);
      const nsfw = request.nsfw;
      return {
        plugins: entries
          .filter((e) => nsfw === undefined || e.latest.nsfw === nsfw)
          .map((e) => ({
            pluginId: e.pluginId,
            latest: toPackageVersion(e.latest),
            versions: e.versions.map(toPackageVersion),
          })),
      };
    },

    async *download(request) {
      const { record, bytes } = await registry.download(request.packageSha256);
      yield { part: { case: 'version', value: toPackageVersion(record) } };
      for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
        yield { part: { case: 'chunk', value: bytes.subarray(offset, offset + CHUNK_BYTES) } };
      }
    },

    async yank(request, context) {
      requireRegistryAdmin(context, options.adminToken);
      const record = await registry.yank(request.pluginId, request.version, !request.undo, request.reason || undefined);
      return { version: toPackageVersion(record) };
    },

    async listKeys(_request, context) {
      requireRegistryAdmin(context, options.adminToken);
      return { keys: (await registry.keys()).map(toTrustedKey) };
    },

    async trustKey(request, context) {
      requireRegistryAdmin(context, options.adminToken);
      return { key: toTrustedKey(await registry.trustKey(request.publicKey, request.name, request.pluginIds)) };
    },

    async removeKey(request, context) {
      requireRegistryAdmin(context, options.adminToken);
      await registry.removeKey(request.keyId);
      return {};
    },
  });
}
