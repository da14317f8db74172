import {
  effectiveSettings,
  MAX_PACKAGE_BYTES,
  type MediaKind,
  PROTO_MEDIA_KINDS,
  type SettingSpec,
} from '@awasm/shared';
import {
  type InstalledPlugin,
  InstalledPluginSchema,
  PluginService,
  SettingType,
} from '@awasm/shared/gen/awasm/v1/plugin_service_pb.js';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import type { AccessChecks } from './access.js';
import type { PluginManager, PluginView } from './plugin-manager.js';
import { type HealthLookup, toSourceHealth } from './source-health.js';
import { requireSourceId } from './source-id.js';

const settingTypes: Record<SettingSpec['type'], SettingType> = {
  string: SettingType.STRING,
  int: SettingType.INT,
  bool: SettingType.BOOL,
  select: SettingType.SELECT,
};

/** The API's media kinds of a manifest (validated when it was parsed, so every name maps). */
export function manifestMediaKinds(kinds: readonly MediaKind[]) {
  return kinds.map((kind) => PROTO_MEDIA_KINDS[kind]);
}

export async function toInstalledPlugin(
  { record, manifest, loadError }: PluginView,
  health?: HealthLookup,
): Promise<InstalledPlugin> {
  const loaded = record.enabled && !loadError;
  return create(InstalledPluginSchema, {
    id: record.id,
    name: manifest.name,
    version: record.version,
    apiVersion: manifest.apiVersion,
    mediaKinds: manifestMediaKinds(manifest.mediaKinds),
    languages: manifest.languages,
    nsfw: manifest.nsfw,
    enabled: record.enabled,
    packageSha256: record.packageSha256,
    allowedHosts: manifest.allowedHosts,
    installedAt: timestampFromDate(record.installedAt),
    loadError: loadError ?? '',
    health: toSourceHealth(loaded ? await health?.(record.id) : undefined),
  });
}

function settingsResponse({ record, manifest }: PluginView) {
  return {
    schema: manifest.settings.map((s) => ({
      key: s.key,
      type: settingTypes[s.type],
      label: s.label,
      description: s.description ?? '',
      defaultValue: s.default,
      options: s.options ?? [],
      ...(s.min === undefined ? {} : { min: s.min }),
      ...(s.max === undefined ? {} : { max: s.max }),
    })),
    values: effectiveSettings(manifest, record.settings),
  };
}

function requireId(pluginId: string): string {
  return requireSourceId('plugin_id', pluginId);
}

export interface PluginServiceOptions {
  /** a loaded plugin's health, shown by ListInstalled and the other calls that return a plugin */
  health?: HealthLookup;
  /** listing needs a user; changing plugins and reading their settings (which may hold secrets) an admin */
  access: AccessChecks;
}

export function registerPluginService(
  router: ConnectRouter,
  plugins: PluginManager,
  options: PluginServiceOptions,
): void {
  const installed = (view: PluginView) => toInstalledPlugin(view, options.health);
  const { requireUser, requireAdmin } = options.access;
  router.service(PluginService, {
    async listInstalled(_request, context) {
      requireUser(context);
      return { plugins: await Promise.all((await plugins.list()).map(installed)) };
    },

    async install(requests, context) {
      // before a byte of the upload is kept
      requireAdmin(context, 'installing a plugin');
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const request of requests) {
        size += request.chunk.length;
        if (size > MAX_PACKAGE_BYTES) {
          throw new ConnectError(`package is over the ${MAX_PACKAGE_BYTES}-byte limit`, Code.ResourceExhausted);
        }
        chunks.push(request.chunk);
      }
      if (size === 0) throw new ConnectError('no package bytes were sent', Code.InvalidArgument);
      return { plugin: await installed(await plugins.install(Buffer.concat(chunks))) };
    },

    async enable(request, context) {
      requireAdmin(context, 'enabling a plugin');
      return { plugin: await installed(await plugins.setEnabled(requireId(request.pluginId), true)) };
    },

    async disable(request, context) {
      requireAdmin(context, 'disabling a plugin');
      return { plugin: await installed(await plugins.setEnabled(requireId(request.pluginId), false)) };
    },

    async uninstall(request, context) {
      requireAdmin(context, 'uninstalling a plugin');
      await plugins.uninstall(requireId(request.pluginId));
      return {};
    },

    async getSettings(request, context) {
      requireAdmin(context, "reading a plugin's settings");
      return settingsResponse(await plugins.get(requireId(request.pluginId)));
    },

    async setSettings(request, context) {
      requireAdmin(context, "changing a plugin's settings");
      return settingsResponse(await plugins.setSettings(requireId(request.pluginId), request.values));
    },
  });
}
