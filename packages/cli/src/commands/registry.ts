import { chmod, readFile, writeFile } from 'node:fs/promises';
import {
  decodePackage,
  encodePackage,
  generatePublisherKey,
  loadPrivateKey,
  parseManifest,
  publishChallenge,
  sha256Hex,
  signBytes,
  signPackage,
} from '@awasm/shared';
import { MediaKind } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import {
  type PackageVersion,
  PackageVersionSchema,
  RegistryPluginSchema,
  TrustedKeySchema,
} from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import { toJson } from '@bufbuild/protobuf';
import type { Command } from 'commander';
import { table } from '../output.js';
import { progress } from '../progress.js';
import type { CommandContext } from './context.js';
import { kindName } from './labels.js';

/** Upload chunk size; the server takes at most 1 MiB per message. */
const PUBLISH_CHUNK_BYTES = 256 * 1024;

async function readOrUsage(ctx: CommandContext, path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw ctx.usage(
      `cannot read ${what} '${path}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

async function privateKey(ctx: CommandContext, path: string): Promise<string> {
  return (await readOrUsage(ctx, path, 'private key')).toString('utf8');
}

/** The admin token when one is given; without it the call carries your API key, which must be an admin's. */
function adminHeaders(token: string | undefined): { headers?: Record<string, string> } {
  return token ? { headers: { authorization: `Bearer ${token}` } } : {};
}

function versionLine(v: PackageVersion): string {
  return `${v.pluginId} ${v.version} (package ${v.packageSha256.slice(0, 12)}, ${v.size} bytes, key ${v.publisherKeyId})`;
}

/** `plugin keygen|sign|publish` and the `pack --key` option live here, beside the operator's `registry` commands. */
export function addPublisherCommands(plugin: Command, ctx: CommandContext): void {
  plugin
    .command('keygen')
    .description('make an Ed25519 publisher key: <name>.key (private, keep it secret) and <name>.pub')
    .requiredOption('-o, --output <name>', 'file name without extension')
    .action(async (flags: { output: string }) => {
      const key = generatePublisherKey();
      await writeFile(`${flags.output}.key`, key.privateKeyPem, { mode: 0o600, flag: 'wx' }).catch(
        (e: NodeJS.ErrnoException) => {
          throw ctx.usage(`cannot write ${flags.output}.key: ${e.code === 'EEXIST' ? 'it already exists' : e.message}`);
        },
      );
      await chmod(`${flags.output}.key`, 0o600);
      await writeFile(`${flags.output}.pub`, `${key.publicKey}\n`);
      ctx.print(
        `key id ${key.keyId}\nprivate key ${flags.output}.key, public key ${flags.output}.pub\n` +
          `put publisher_key_id = "${key.keyId}" in your manifest and give the .pub file to the registry's operator`,
        {
          keyId: key.keyId,
          publicKey: key.publicKey,
          privateKeyFile: `${flags.output}.key`,
          publicKeyFile: `${flags.output}.pub`,
        },
      );
    });

  plugin
    .command('sign <package>')
    .description('sign a .awpkg package with a publisher key (replaces any signature it had)')
    .requiredOption('-k, --key <file>', 'private key from `awasm plugin keygen`')
    .option('-o, --output <file>', 'write the signed package here instead of in place')
    .action(async (file: string, flags: { key: string; output?: string }) => {
      const decoded = decodePackage(await readOrUsage(ctx, file, 'package file'));
      const pem = await privateKey(ctx, flags.key);
      checkKeyMatches(ctx, decoded.manifestToml, pem);
      const signed = signPackage(decoded, pem);
      const out = flags.output ?? file;
      await writeFile(out, signed);
      const keyId = decodePackage(signed).signature?.keyId;
      ctx.print(`signed ${out} with key ${keyId} (sha256 ${sha256Hex(signed)})`, {
        file: out,
        keyId,
        sha256: sha256Hex(signed),
      });
    });

  plugin
    .command('publish <package>')
    .description("publish a signed package to the server's registry (the key must be trusted for the plugin id)")
    .requiredOption('-k, --key <file>', 'private key the package is signed with')
    .action(async (file: string, flags: { key: string }) => {
      const bytes = await readOrUsage(ctx, file, 'package file');
      const key = loadPrivateKey(await privateKey(ctx, flags.key));
      const packageSha256 = sha256Hex(bytes);
      const signedAtMs = Date.now();
      const signature = signBytes(key.privateKey, publishChallenge(packageSha256, bytes.length, signedAtMs));
      const header = {
        keyId: key.keyId,
        packageSha256,
        size: BigInt(bytes.length),
        signedAtMs: BigInt(signedAtMs),
        signature,
      };
      // the registry refuses an unknown key, a bad proof or an oversized package before any byte is sent
      await ctx.registry().checkPublish({ header });
      const bar = progress(ctx.progress, `uploading ${file}`, bytes.length);
      async function* parts() {
        yield { part: { case: 'header' as const, value: header } };
        for (let offset = 0; offset < bytes.length; offset += PUBLISH_CHUNK_BYTES) {
          yield { part: { case: 'chunk' as const, value: bytes.subarray(offset, offset + PUBLISH_CHUNK_BYTES) } };
          bar.update(Math.min(offset + PUBLISH_CHUNK_BYTES, bytes.length));
        }
      }
      let version: PackageVersion | undefined;
      try {
        ({ version } = await ctx.registry().publish(parts()));
      } finally {
        bar.finish();
      }
      if (!version) throw new Error('server answered without the published version');
      ctx.print(`published ${versionLine(version)}`, toJson(PackageVersionSchema, version));
    });
}

/** Refuses to sign with another key than the one the manifest names. */
function checkKeyMatches(ctx: CommandContext, manifestToml: string, pem: string): void {
  const named = parseManifest(manifestToml).publisherKeyId;
  const { keyId } = loadPrivateKey(pem);
  if (named && named !== keyId) {
    throw ctx.usage(`the manifest's publisher_key_id is ${named}, but this key's id is ${keyId}`);
  }
}

/** Signs at pack time when `--key` is given. */
export async function packPackage(
  ctx: CommandContext,
  manifestToml: string,
  component: Uint8Array,
  keyFile: string | undefined,
): Promise<Uint8Array> {
  if (!keyFile) return encodePackage({ manifestToml, component });
  const pem = await privateKey(ctx, keyFile);
  checkKeyMatches(ctx, manifestToml, pem);
  return signPackage({ manifestToml, component }, pem);
}

/** The operator's view of the registry this server hosts. */
export function addRegistryCommands(program: Command, ctx: CommandContext): Command {
  const registry = program
    .command('registry')
    .description("the server's plugin registry: index, trusted publisher keys, yank")
    .option(
      '--admin-token <token>',
      "server admin token for keys and yank (AWASM_ADMIN_TOKEN; default: your API key, if it is an admin's)",
    );
  const token = () =>
    (registry.opts<{ adminToken?: string }>().adminToken ?? process.env.AWASM_ADMIN_TOKEN) || undefined;

  registry
    .command('index')
    .description('list published plugins and their versions')
    .option('-q, --query <text>', 'match id, name or description')
    .option('--kind <kind>', 'only plugins serving this media kind (manga, anime, comic, book, tv, movie)')
    .option('--lang <tag>', 'only plugins with content in this language')
    .option('--nsfw <yes|no>', 'only plugins with (yes) or without (no) adult content')
    .option('--yanked', 'include yanked versions', false)
    .action(async (flags: { query?: string; kind?: string; lang?: string; nsfw?: string; yanked: boolean }) => {
      const kind = flags.kind ? MediaKind[flags.kind.toUpperCase() as keyof typeof MediaKind] : undefined;
      if (flags.kind && (kind === undefined || kind === MediaKind.UNSPECIFIED)) {
        throw ctx.usage(`--kind '${flags.kind}' is not a media kind`);
      }
      if (flags.nsfw && flags.nsfw !== 'yes' && flags.nsfw !== 'no') throw ctx.usage('--nsfw takes yes or no');
      const { plugins } = await ctx.registry().index({
        query: flags.query ?? '',
        mediaKinds: kind === undefined ? [] : [kind],
        languages: flags.lang ? [flags.lang] : [],
        includeYanked: flags.yanked,
        ...(flags.nsfw ? { nsfw: flags.nsfw === 'yes' } : {}),
      });
      ctx.print(
        plugins.length
          ? table(
              ['ID', 'NAME', 'LATEST', 'VERSIONS', 'KINDS', 'LANGUAGES', 'NSFW', 'SIZE', 'SHA256'],
              plugins.map((p) => [
                p.pluginId,
                p.latest?.name ?? '',
                p.latest?.version ?? '',
                p.versions.map((v) => (v.yanked ? `${v.version} (yanked)` : v.version)).join(', '),
                (p.latest?.mediaKinds ?? []).map(kindName).join(','),
                (p.latest?.languages ?? []).join(','),
                p.latest?.nsfw ? 'yes' : 'no',
                String(p.latest?.size ?? ''),
                (p.latest?.packageSha256 ?? '').slice(0, 12),
              ]),
            )
          : 'no plugins published',
        plugins.map((p) => toJson(RegistryPluginSchema, p)),
      );
    });

  registry
    .command('trust <public-key>')
    .description('trust a publisher key (ed25519:<base64>, or a .pub file) for some plugin ids')
    .requiredOption('--name <name>', 'who the key belongs to')
    .requiredOption('--plugins <ids>', 'comma-separated plugin ids it may publish')
    .action(async (keyOrFile: string, flags: { name: string; plugins: string }) => {
      const publicKey = keyOrFile.startsWith('ed25519:')
        ? keyOrFile
        : (await readOrUsage(ctx, keyOrFile, 'public key file')).toString('utf8').trim();
      const pluginIds = flags.plugins
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const { key } = await ctx.registry().trustKey({ publicKey, name: flags.name, pluginIds }, adminHeaders(token()));
      if (!key) throw new Error('server answered without the key');
      ctx.print(
        `trusted key ${key.keyId} (${key.name}) for ${key.pluginIds.join(', ')}`,
        toJson(TrustedKeySchema, key),
      );
    });

  registry
    .command('keys')
    .description('list trusted publisher keys')
    .action(async () => {
      const { keys } = await ctx.registry().listKeys({}, adminHeaders(token()));
      ctx.print(
        keys.length
          ? table(
              ['KEY ID', 'NAME', 'PLUGINS'],
              keys.map((k) => [k.keyId, k.name, k.pluginIds.join(',')]),
            )
          : 'no trusted keys',
        keys.map((k) => toJson(TrustedKeySchema, k)),
      );
    });

  registry
    .command('untrust <key-id>')
    .description('stop trusting a publisher key')
    .action(async (keyId: string) => {
      await ctx.registry().removeKey({ keyId }, adminHeaders(token()));
      ctx.print(`key ${keyId} is no longer trusted`, { removed: keyId });
    });

  registry
    .command('yank <plugin-id> <version>')
    .description('hide a published version from the index (still downloadable), or --undo')
    .option('--reason <text>', 'shown in the index', '')
    .option('--undo', 'un-yank', false)
    .action(async (pluginId: string, version: string, flags: { reason: string; undo: boolean }) => {
      const response = await ctx
        .registry()
        .yank({ pluginId, version, reason: flags.reason, undo: flags.undo }, adminHeaders(token()));
      if (!response.version) throw new Error('server answered without the version');
      ctx.print(
        `${flags.undo ? 'restored' : 'yanked'} ${versionLine(response.version)}`,
        toJson(PackageVersionSchema, response.version),
      );
    });
  return registry;
}
