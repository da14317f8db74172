import type { PackageStore } from '@awasm/registry';
import type { PluginLoadError, SourceRunner } from '@awasm/runner-api';
import { checkSettingValue, type Logger, type PluginManifest, parseManifest } from '@awasm/shared';
import { Code, ConnectError } from '@connectrpc/connect';
import semver from 'semver';
import type { InstalledPlugin, PluginStore } from './plugin-store.js';
import { TrustPolicy } from './trust-policy.js';
import { type RepositoryOffer, verifyPackage } from './verify-package.js';

/** semver order of two plugin versions: negative when `a` is older than `b`, 0 when equal. */
export function compareVersions(a: string, b: string): number {
  return semver.compare(a, b);
}

/** An installed plugin as the API shows it: the stored record, its parsed manifest and its load state. */
export interface PluginView {
  record: InstalledPlugin;
  manifest: PluginManifest;
  /** why the runner could not load it at start, if it could not */
  loadError?: string;
}

export interface InstallOptions {
  /** install even when the package is older than the installed version */
  allowDowngrade?: boolean;
  /** the repository and index entry a downloaded package was chosen by (checked against it) */
  offer?: RepositoryOffer;
}

/**
 * What else must follow a plugin's lifecycle (the library's orphaned entries). Called after the
 * change is stored; a failing observer is logged, never undoes the change.
 */
export interface PluginObserver {
  /** installed or updated */
  installed?(id: string): Promise<unknown>;
  uninstalled?(id: string): Promise<unknown>;
  /** the operator changed its settings (for example accepted a new base address) */
  reconfigured?(id: string): Promise<unknown>;
}

/**
 * Installs, enables, configures and removes plugins: keeps the catalog, the package store and the
 * runner in step. The runner loads a source by its package's digest from the package store; every
 * check runs before anything is recorded, and a refused package leaves nothing behind.
 */
export class PluginManager {
  private readonly manifests = new Map<string, PluginManifest>();
  private readonly loadErrors = new Map<string, string>();
  /** Mutations run one at a time, so two installs of one plugin cannot interleave. */
  private mutations: Promise<unknown> = Promise.resolve();
  private readonly observers: PluginObserver[] = [];

  constructor(
    private readonly store: PluginStore,
    private readonly packages: PackageStore,
    private readonly runner: SourceRunner,
    private readonly logger: Logger,
    private readonly trust: TrustPolicy = new TrustPolicy({ allowUnsigned: true }),
  ) {}

  observe(observer: PluginObserver): void {
    this.observers.push(observer);
  }

  private async notify(event: keyof PluginObserver, id: string): Promise<void> {
    for (const observer of this.observers) {
      try {
        await observer[event]?.(id);
      } catch (error) {
        this.logger.error({ plugin: id, event, err: (error as Error).message }, 'a plugin observer failed');
      }
    }
  }

  /** Loads every enabled plugin from the package store; a plugin that fails is reported, not fatal. */
  async start(): Promise<void> {
    for (const record of await this.store.list()) {
      try {
        const bytes = await this.packages.get(record.packageSha256);
        if (!bytes) throw new Error(`package ${record.packageSha256} is missing from the package store`);
        const verified = await verifyPackage(bytes, this.trust);
        if (verified.componentSha256 !== record.componentSha256) {
          throw new Error(
            `component digest ${verified.componentSha256} does not match the installed ${record.componentSha256}`,
          );
        }
        this.manifests.set(record.id, verified.manifest);
        if (record.enabled) await this.runner.load(this.loadRequest(record));
        this.loadErrors.delete(record.id);
      } catch (error) {
        const message = (error as Error).message;
        this.loadErrors.set(record.id, message);
        this.logger.error({ plugin: record.id, err: message }, 'could not load installed plugin');
      }
    }
  }

  async list(): Promise<PluginView[]> {
    const out: PluginView[] = [];
    for (const record of await this.store.list()) out.push(this.view(record));
    return out;
  }

  async get(id: string): Promise<PluginView> {
    const record = await this.store.get(id);
    if (!record) throw new ConnectError(`no plugin '${id}' is installed`, Code.NotFound);
    return this.view(record);
  }

  /** The enabled plugin with this id, ready to call; NotFound or FailedPrecondition otherwise. */
  async requireEnabled(id: string): Promise<PluginView> {
    if (!id) throw new ConnectError('source_id must not be empty', Code.InvalidArgument);
    const record = await this.store.get(id);
    if (!record) throw new ConnectError(`unknown source '${id}': no plugin with that id is installed`, Code.NotFound);
    const view = this.view(record);
    if (!record.enabled) throw new ConnectError(`source '${id}' is disabled; enable it first`, Code.FailedPrecondition);
    if (view.loadError) throw new ConnectError(`source '${id}' failed to load: ${view.loadError}`, Code.Unavailable);
    return view;
  }

  install(bytes: Uint8Array, options: InstallOptions = {}): Promise<PluginView> {
    return this.exclusive(() => this.doInstall(bytes, options));
  }

  private async doInstall(bytes: Uint8Array, options: InstallOptions): Promise<PluginView> {
    const verified = await verifyPackage(bytes, this.trust, options.offer);
    const { manifest } = verified;
    const existing = await this.store.get(manifest.id);
    if (existing && semver.lt(manifest.version, existing.version) && !options.allowDowngrade) {
      throw new ConnectError(
        `plugin '${manifest.id}' ${manifest.version} is older than the installed ${existing.version}; downgrade refused`,
        Code.FailedPrecondition,
      );
    }
    const settings = existing ? this.keepKnownSettings(manifest, existing.settings) : {};
    // stored first: the runner fetches it from the package store by digest
    const packageSha256 = await this.packages.put(bytes);
    if (!existing || existing.enabled) {
      try {
        await this.runner.load({ sourceId: manifest.id, packageDigest: packageSha256, settings });
      } catch (error) {
        await this.restorePrevious(existing);
        if (!(await this.isReferenced(packageSha256))) await this.packages.delete(packageSha256);
        throw new ConnectError(
          `plugin '${manifest.id}' cannot be loaded: ${(error as PluginLoadError).message}`,
          Code.InvalidArgument,
        );
      }
    }
    const record = await this.store.putPackage({
      id: manifest.id,
      version: manifest.version,
      manifestToml: verified.manifestToml,
      packageSha256,
      componentSha256: verified.componentSha256,
    });
    const stored = existing ? await this.store.setSettings(manifest.id, settings) : record;
    this.manifests.set(manifest.id, manifest);
    this.loadErrors.delete(manifest.id);
    if (existing && existing.packageSha256 !== packageSha256 && !(await this.isReferenced(existing.packageSha256))) {
      await this.packages.delete(existing.packageSha256);
    }
    this.logger.info({ plugin: manifest.id, version: manifest.version, package: packageSha256 }, 'plugin installed');
    await this.notify('installed', manifest.id);
    return this.view(stored ?? record);
  }

  setEnabled(id: string, enabled: boolean): Promise<PluginView> {
    return this.exclusive(() => this.doSetEnabled(id, enabled));
  }

  private async doSetEnabled(id: string, enabled: boolean): Promise<PluginView> {
    const view = await this.get(id);
    if (enabled && !view.record.enabled) {
      const bytes = await this.packages.get(view.record.packageSha256);
      if (!bytes) throw new ConnectError(`package of '${id}' is missing from the package store`, Code.DataLoss);
      await verifyPackage(bytes, this.trust);
      await this.runner.load(this.loadRequest(view.record));
      this.loadErrors.delete(id);
    } else if (!enabled && view.record.enabled) {
      await this.runner.unload(id);
    }
    const record = await this.store.setEnabled(id, enabled);
    return this.view(record ?? view.record);
  }

  uninstall(id: string): Promise<void> {
    return this.exclusive(() => this.doUninstall(id));
  }

  private async doUninstall(id: string): Promise<void> {
    const view = await this.get(id);
    await this.runner.unload(id);
    await this.store.remove(id);
    this.manifests.delete(id);
    this.loadErrors.delete(id);
    if (!(await this.isReferenced(view.record.packageSha256))) await this.packages.delete(view.record.packageSha256);
    this.logger.info({ plugin: id }, 'plugin uninstalled');
    await this.notify('uninstalled', id);
  }

  /** Validates every value against the manifest's schema before storing any of them. */
  setSettings(id: string, values: Record<string, string>): Promise<PluginView> {
    return this.exclusive(() => this.doSetSettings(id, values));
  }

  private async doSetSettings(id: string, values: Record<string, string>): Promise<PluginView> {
    const view = await this.get(id);
    const next = { ...view.record.settings };
    for (const [key, value] of Object.entries(values)) {
      const spec = view.manifest.settings.find((s) => s.key === key);
      if (!spec) {
        const known = view.manifest.settings.map((s) => s.key).join(', ') || 'none';
        throw new ConnectError(`plugin '${id}' has no setting '${key}' (settings: ${known})`, Code.InvalidArgument);
      }
      const problem = checkSettingValue(spec, value);
      if (problem) throw new ConnectError(`setting '${key}': ${problem}`, Code.InvalidArgument);
      next[key] = value;
    }
    const record = await this.store.setSettings(id, next);
    if (view.record.enabled) await this.runner.setSettings(id, next);
    await this.notify('reconfigured', id);
    return this.view(record ?? view.record);
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.mutations.then(work, work);
    this.mutations = run.catch(() => undefined);
    return run;
  }

  /** What the runner needs to load an installed plugin: its package's digest and the operator's settings. */
  private loadRequest(record: InstalledPlugin) {
    return { sourceId: record.id, packageDigest: record.packageSha256, settings: record.settings };
  }

  /** Settings a new version no longer declares, or whose stored value it no longer accepts, are dropped. */
  private keepKnownSettings(manifest: PluginManifest, settings: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const spec of manifest.settings) {
      const value = settings[spec.key];
      if (value !== undefined && !checkSettingValue(spec, value)) out[spec.key] = value;
    }
    return out;
  }

  /** After a failed upgrade, the runner must keep serving the version that is still installed. */
  private async restorePrevious(existing: InstalledPlugin | undefined): Promise<void> {
    if (!existing?.enabled) return;
    try {
      const bytes = await this.packages.get(existing.packageSha256);
      if (!bytes) return;
      await verifyPackage(bytes, this.trust);
      await this.runner.load(this.loadRequest(existing));
    } catch (error) {
      this.logger.error(
        { plugin: existing.id, err: (error as Error).message },
        'could not reload the installed version',
      );
    }
  }

  private async isReferenced(packageSha256: string): Promise<boolean> {
    return (await this.store.list()).some((p) => p.packageSha256 === packageSha256);
  }

  private view(record: InstalledPlugin): PluginView {
    let manifest = this.manifests.get(record.id);
    if (!manifest) {
      manifest = parseManifest(record.manifestToml);
      this.manifests.set(record.id, manifest);
    }
    const loadError = this.loadErrors.get(record.id);
    return loadError === undefined ? { record, manifest } : { record, manifest, loadError };
  }
}
