import {
  type LoadRequest,
  type PackageSource,
  PluginCallError,
  PluginLoadError,
  type SourceCall,
  type SourceCallOptions,
  type SourceHealth,
  type SourceOp,
  type SourceOpResults,
  type SourceRunner,
  sourceErrorMessage,
} from '@awasm/runner-api';
import {
  decodePackage,
  effectiveSettings,
  ManifestError,
  PackageFormatError,
  type PluginManifest,
  parseManifest,
  sha256Hex,
} from '@awasm/shared';
import type { RunnerPool, SourceSpec } from './index.js';
import type { Logger } from './logger.js';
import { positionalArgs } from './ops.js';
import { PluginOutputError, toAssetList, toFilterList, toMedia, toMediaPage, toUnitPage } from './plugin-output.js';

/** Converts and validates one operation's raw plugin output (untrusted) into its result message. */
function convertResult<Op extends SourceOp>(sourceId: string, op: Op, raw: unknown): SourceOpResults[Op] {
  switch (op) {
    case 'search':
    case 'list':
      return toMediaPage(sourceId, raw, op) as SourceOpResults[Op];
    case 'getMedia':
      return toMedia(sourceId, raw) as SourceOpResults[Op];
    case 'listUnits':
      return toUnitPage(raw) as SourceOpResults[Op];
    case 'getAssets':
      return toAssetList(raw) as SourceOpResults[Op];
    default:
      return toFilterList(raw) as SourceOpResults[Op];
  }
}

/** The error a caller sees: source errors carry the one message built for them, plain data only. */
function seamError(sourceId: string, error: unknown): unknown {
  if (!(error instanceof PluginCallError) || error.kind !== 'source-error' || !error.sourceError) return error;
  const { tag, val } = error.sourceError;
  const variant = typeof val === 'string' || typeof val === 'number' ? { tag, val } : { tag };
  return new PluginCallError('source-error', sourceId, sourceErrorMessage(sourceId, variant), variant);
}

/**
 * The SourceRunner of this process: sources run in the in-process RunnerPool, packages come from
 * the package store by digest and are checked (digest, format, manifest) before the pool sees them.
 */
export class LocalSourceRunner implements SourceRunner {
  /** the manifest of each loaded source, for its settings' defaults */
  private readonly manifests = new Map<string, PluginManifest>();

  constructor(
    private readonly pool: RunnerPool,
    private readonly packages: PackageSource,
    private readonly logger?: Logger,
  ) {}

  async load({ sourceId, packageDigest, settings }: LoadRequest): Promise<void> {
    const { manifest, spec } = await this.specOf(sourceId, packageDigest, settings);
    await this.pool.load(spec);
    this.manifests.set(sourceId, manifest);
  }

  async unload(sourceId: string): Promise<void> {
    this.manifests.delete(sourceId);
    await this.pool.unload(sourceId);
  }

  async setSettings(sourceId: string, settings: Record<string, string>): Promise<void> {
    const manifest = this.manifests.get(sourceId);
    if (!manifest) throw new PluginCallError('not-loaded', sourceId, `source '${sourceId}' is not loaded`);
    this.pool.setSettings(sourceId, effectiveSettings(manifest, settings));
  }

  async health(sourceId: string): Promise<SourceHealth | undefined> {
    return this.pool.health(sourceId);
  }

  async call<Op extends SourceOp>(
    { sourceId, op, args, deadline, requestId }: SourceCall<Op>,
    { signal }: SourceCallOptions = {},
  ): Promise<SourceOpResults[Op]> {
    const timeoutMs = deadline === undefined ? undefined : deadline - Date.now();
    let raw: unknown;
    try {
      // the pool checks the arguments (ops.ts) before anything reaches the plugin
      raw = await this.pool.call(sourceId, op, positionalArgs(op, args), {
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw seamError(sourceId, error);
    }
    try {
      return convertResult(sourceId, op, raw);
    } catch (error) {
      if (!(error instanceof PluginOutputError)) throw error;
      this.logger?.warn({ source: sourceId, op, requestId, err: error.message }, 'plugin returned malformed output');
      throw new PluginCallError('malformed-output', sourceId, `source '${sourceId}': ${error.message}`);
    }
  }

  /** Fetches the package, checks its digest and contents, and makes the pool's spec from it. */
  private async specOf(
    sourceId: string,
    packageDigest: string,
    settings: Record<string, string>,
  ): Promise<{ manifest: PluginManifest; spec: SourceSpec }> {
    const bytes = await this.packages.get(packageDigest);
    if (!bytes) throw new PluginLoadError(sourceId, `package ${packageDigest} is missing from the package store`);
    const actual = sha256Hex(bytes);
    if (actual !== packageDigest) {
      throw new PluginLoadError(sourceId, `package ${packageDigest} hashes to ${actual}: corrupt or tampered`);
    }
    try {
      const { manifestToml, component, componentSha256 } = decodePackage(bytes);
      const manifest = parseManifest(manifestToml);
      if (manifest.id !== sourceId) {
        throw new PluginLoadError(sourceId, `package ${packageDigest} holds plugin '${manifest.id}'`);
      }
      if (manifest.packageSha256 && manifest.packageSha256 !== componentSha256) {
        throw new ManifestError(
          'package_sha256',
          `is ${manifest.packageSha256} but the component in the package hashes to ${componentSha256}`,
        );
      }
      const { limits } = manifest;
      const spec: SourceSpec = {
        id: sourceId,
        digest: componentSha256,
        component,
        allowedHosts: manifest.allowedHosts,
        limits: {
          memoryMb: limits.memoryMb,
          callTimeoutMs: limits.callTimeoutMs,
          maxResponseBytes: limits.maxResponseBytes,
          maxConcurrency: limits.maxConcurrency,
          requestsPerSecond: limits.requestsPerSecond,
        },
        settings: effectiveSettings(manifest, settings),
      };
      return { manifest, spec };
    } catch (error) {
      if (error instanceof PackageFormatError || error instanceof ManifestError) {
        throw new PluginLoadError(sourceId, error.message, { cause: error });
      }
      throw error;
    }
  }
}
