import { KEY_ID_PATTERN, type Logger, sha256Hex } from '@awasm/shared';
import type { PackageVersion } from '@awasm/shared/gen/awasm/v1/registry_service_pb.js';
import { Code, ConnectError } from '@connectrpc/connect';
import semver from 'semver';
import type { PluginManager, PluginView } from './plugin-manager.js';
import { openRepository, probeRepository, type RemoteRepository } from './remote-repository.js';
import type { RepositoryRecord, RepositoryStore } from './repository-store.js';
import type { TrustPolicy } from './trust-policy.js';

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** One plugin one repository offers: its versions that are not yanked, newest first. */
export interface Offer {
  repository: string;
  latest: PackageVersion;
  versions: PackageVersion[];
}

export interface Problem {
  repository: string;
  message: string;
}

export interface KeySeen {
  keyId: string;
  pluginIds: string[];
  trusted: boolean;
}

export interface OfferFilter {
  query?: string;
  mediaKinds?: number[];
  languages?: string[];
  repository?: string;
}

export interface InstallRequest {
  pluginId: string;
  /** empty: the newest offered that is not yanked */
  version?: string;
  /** empty: any repository */
  repository?: string;
  allowDowngrade?: boolean;
}

export interface InstallProgressEvent {
  received: number;
  total: number;
  version: PackageVersion;
  repository: string;
}

export interface Update {
  pluginId: string;
  installedVersion: string;
  available: PackageVersion;
  repository: string;
}

export interface RepositoryManagerOptions {
  /** How a stored repository is reached (tests swap it). */
  open?: (record: RepositoryRecord) => RemoteRepository;
}

/** Progress is reported at most this often (in bytes), and at the end. */
const PROGRESS_STEP = 256 * 1024;

function deriveName(url: string): string {
  const u = new URL(url);
  const name = `${u.hostname}${u.port ? `-${u.port}` : ''}`.toLowerCase().replace(/[^a-z0-9._-]/g, '-');
  return name.replace(/^[^a-z0-9]+/, '').slice(0, 63) || 'repository';
}

/** Versions that are not yanked and have a valid semver, grouped by plugin id, newest first. */
function offers(repository: string, versions: PackageVersion[]): Offer[] {
  const groups = new Map<string, PackageVersion[]>();
  for (const v of versions) {
    if (v.yanked || !semver.valid(v.version)) continue;
    groups.set(v.pluginId, [...(groups.get(v.pluginId) ?? []), v]);
  }
  return [...groups.values()].map((group) => {
    group.sort((a, b) => semver.rcompare(a.version, b.version));
    return { repository, latest: group[0] as PackageVersion, versions: group };
  });
}

function keysSeen(versions: PackageVersion[], trusted: (keyId: string) => boolean): KeySeen[] {
  const keys = new Map<string, Set<string>>();
  for (const v of versions) {
    if (!KEY_ID_PATTERN.test(v.publisherKeyId)) continue;
    const ids = keys.get(v.publisherKeyId) ?? new Set<string>();
    ids.add(v.pluginId);
    keys.set(v.publisherKeyId, ids);
  }
  return [...keys]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([keyId, ids]) => ({ keyId, pluginIds: [...ids].sort(), trusted: trusted(keyId) }));
}

/**
 * The repositories this server installs plugins from. Installing downloads a package by the digest
 * its repository's index gives, checks the bytes against that digest and size, verifies the
 * package's signature and that its signer is trusted (the TrustPolicy: pinned for that repository,
 * or trusted by this server's own registry for the plugin id): the plugin manager's install runs
 * verifyPackage with the offer before the runner loads it. A refused install changes nothing.
 */
export class RepositoryManager {
  private readonly open: (record: RepositoryRecord) => RemoteRepository;

  constructor(
    private readonly store: RepositoryStore,
    private readonly plugins: PluginManager,
    private readonly trust: TrustPolicy,
    private readonly logger: Logger,
    options: RepositoryManagerOptions = {},
  ) {
    this.open = options.open ?? ((r) => openRepository(r.kind, r.url));
  }

  async add(
    url: string,
    name?: string,
    trustedKeyIds: string[] = [],
  ): Promise<{ record: RepositoryRecord; keys: KeySeen[]; pluginCount: number }> {
    for (const id of trustedKeyIds) {
      if (!KEY_ID_PATTERN.test(id))
        throw new ConnectError(`'${id}' is not a key id (32 hex digits)`, Code.InvalidArgument);
    }
    const { repository, index } = await probeRepository(url);
    const chosen = (name?.trim() || deriveName(repository.url)).toLowerCase();
    if (!NAME_PATTERN.test(chosen)) {
      throw new ConnectError(
        `repository name '${chosen}' must be 1-63 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit`,
        Code.InvalidArgument,
      );
    }
    const seen = keysSeen(index, () => true).map((k) => k.keyId);
    const pinned = trustedKeyIds.length ? [...new Set(trustedKeyIds)].sort() : seen;
    const record: RepositoryRecord = {
      name: chosen,
      url: repository.url,
      kind: repository.kind,
      trustedKeyIds: pinned,
      addedAt: new Date(),
    };
    if (!(await this.store.add(record))) {
      throw new ConnectError(
        `a repository named '${chosen}' already exists; choose another --name`,
        Code.AlreadyExists,
      );
    }
    this.logger.info({ repository: chosen, url: record.url, kind: record.kind, keys: pinned }, 'repository added');
    return {
      record,
      keys: keysSeen(index, (k) => pinned.includes(k)),
      pluginCount: offers(chosen, index).length,
    };
  }

  async list(): Promise<{ record: RepositoryRecord; pluginCount: number; error?: string }[]> {
    const records = await this.store.list();
    return Promise.all(
      records.map(async (record) => {
        try {
          return { record, pluginCount: offers(record.name, await this.open(record).index()).length };
        } catch (error) {
          return { record, pluginCount: 0, error: (error as ConnectError).rawMessage ?? (error as Error).message };
        }
      }),
    );
  }

  async remove(name: string): Promise<void> {
    if (!(await this.store.remove(name))) throw new ConnectError(`no repository named '${name}'`, Code.NotFound);
    this.logger.info({ repository: name }, 'repository removed');
  }

  /** Pins and unpins publisher keys of a repository; returns it with the keys its index names now. */
  async setKeys(
    name: string,
    trust: string[],
    untrust: string[],
  ): Promise<{ record: RepositoryRecord; keys: KeySeen[]; pluginCount: number; error?: string }> {
    for (const id of [...trust, ...untrust]) {
      if (!KEY_ID_PATTERN.test(id))
        throw new ConnectError(`'${id}' is not a key id (32 hex digits)`, Code.InvalidArgument);
    }
    const existing = await this.store.get(name);
    if (!existing) throw new ConnectError(`no repository named '${name}'`, Code.NotFound);
    const pinned = [...new Set([...existing.trustedKeyIds, ...trust])].filter((k) => !untrust.includes(k)).sort();
    const record = (await this.store.setTrustedKeys(name, pinned)) ?? { ...existing, trustedKeyIds: pinned };
    this.logger.info({ repository: name, keys: pinned }, 'repository keys changed');
    try {
      const index = await this.open(record).index();
      return { record, keys: keysSeen(index, (k) => pinned.includes(k)), pluginCount: offers(name, index).length };
    } catch (error) {
      return { record, keys: [], pluginCount: 0, error: (error as ConnectError).rawMessage ?? String(error) };
    }
  }

  /** Every repository's offers (or why it could not be read). */
  private async gather(only?: string): Promise<{ records: RepositoryRecord[]; offers: Offer[]; problems: Problem[] }> {
    let records = await this.store.list();
    if (only) {
      records = records.filter((r) => r.name === only);
      if (records.length === 0) throw new ConnectError(`no repository named '${only}'`, Code.NotFound);
    }
    const results = await Promise.all(
      records.map(async (record) => {
        try {
          return { offers: offers(record.name, await this.open(record).index()) };
        } catch (error) {
          return { problem: { repository: record.name, message: (error as ConnectError).rawMessage ?? String(error) } };
        }
      }),
    );
    return {
      records,
      offers: results.flatMap((r) => r.offers ?? []),
      problems: results.flatMap((r) => (r.problem ? [r.problem] : [])),
    };
  }

  async search(
    filter: OfferFilter = {},
  ): Promise<{ offers: (Offer & { installedVersion?: string; trusted: boolean })[]; problems: Problem[] }> {
    const { records, offers: all, problems } = await this.gather(filter.repository);
    const installed = new Map((await this.plugins.list()).map((p) => [p.record.id, p.record.version]));
    const query = filter.query?.trim().toLowerCase();
    const out = [];
    for (const offer of all) {
      const v = offer.latest;
      if (query && ![v.pluginId, v.name, v.description].some((t) => t.toLowerCase().includes(query))) continue;
      if (filter.mediaKinds?.length && !v.mediaKinds.some((k) => filter.mediaKinds?.includes(k))) continue;
      if (filter.languages?.length && !v.languages.some((l) => filter.languages?.includes(l))) continue;
      const record = records.find((r) => r.name === offer.repository) as RepositoryRecord;
      const installedVersion = installed.get(v.pluginId);
      out.push({
        ...offer,
        trusted: await this.trust.maySignFrom(record, v.publisherKeyId, v.pluginId),
        ...(installedVersion === undefined ? {} : { installedVersion }),
      });
    }
    out.sort((a, b) => a.latest.pluginId.localeCompare(b.latest.pluginId) || a.repository.localeCompare(b.repository));
    return { offers: out, problems };
  }

  async updates(): Promise<{ updates: Update[]; problems: Problem[] }> {
    const { offers: all, problems } = await this.gather();
    const updates: Update[] = [];
    for (const view of await this.plugins.list()) {
      const best = all
        .filter((o) => o.latest.pluginId === view.record.id && semver.gt(o.latest.version, view.record.version))
        .sort((a, b) => semver.rcompare(a.latest.version, b.latest.version))[0];
      if (best) {
        updates.push({
          pluginId: view.record.id,
          installedVersion: view.record.version,
          available: best.latest,
          repository: best.repository,
        });
      }
    }
    return { updates, problems };
  }

  /**
   * Installs a plugin from a repository: yields download progress, returns the installed plugin.
   * Refusals (not offered, untrusted signer, downgrade, bytes that do not match the index, a bad
   * signature) happen before anything is stored or loaded, so nothing installed changes.
   */
  async *install(request: InstallRequest): AsyncGenerator<InstallProgressEvent, PluginView> {
    const { pluginId } = request;
    if (!pluginId) throw new ConnectError('plugin_id must not be empty', Code.InvalidArgument);
    const { records, offers: all, problems } = await this.gather(request.repository || undefined);
    if (records.length === 0) {
      throw new ConnectError('no repositories: add one with `awasm repo add <url>`', Code.FailedPrecondition);
    }
    const mine = all.filter((o) => o.latest.pluginId === pluginId);
    const wanted = request.version
      ? mine.flatMap((o) =>
          o.versions
            .filter((v) => v.version === request.version)
            .map((version) => ({ repository: o.repository, version })),
        )
      : mine.map((o) => ({ repository: o.repository, version: o.latest }));
    wanted.sort(
      (a, b) => semver.rcompare(a.version.version, b.version.version) || a.repository.localeCompare(b.repository),
    );
    const choice = wanted[0];
    if (!choice) {
      const unread = problems.length
        ? ` (could not read: ${problems.map((p) => `${p.repository}: ${p.message}`).join('; ')})`
        : '';
      throw new ConnectError(
        `no repository offers ${pluginId}${request.version ? ` ${request.version}` : ''}${unread}`,
        Code.NotFound,
      );
    }
    const { repository, version } = choice;
    const record = records.find((r) => r.name === repository) as RepositoryRecord;

    const installed = (await this.plugins.list()).find((p) => p.record.id === pluginId)?.record;
    if (installed && !request.allowDowngrade) {
      if (semver.lt(version.version, installed.version)) {
        throw new ConnectError(
          `${pluginId} ${version.version} from '${repository}' is older than the installed ${installed.version}; downgrade refused (use --force)`,
          Code.FailedPrecondition,
        );
      }
      if (semver.eq(version.version, installed.version)) {
        if (installed.packageSha256 === version.packageSha256) return this.plugins.get(pluginId);
        throw new ConnectError(
          `${pluginId} ${version.version} is installed from other bytes (package ${installed.packageSha256.slice(0, 12)}) than '${repository}' offers (${version.packageSha256.slice(0, 12)}); refused (use --force to replace it)`,
          Code.FailedPrecondition,
        );
      }
    }
    if (!(await this.trust.maySignFrom(record, version.publisherKeyId, pluginId))) {
      throw new ConnectError(
        `${pluginId} ${version.version} in '${repository}' is signed by key ${version.publisherKeyId}, which this server does not trust for it; pin it (awasm repo add --trust-key) or trust it locally (awasm registry trust)`,
        Code.PermissionDenied,
      );
    }

    const total = Number(version.size);
    const chunks: Uint8Array[] = [];
    let received = 0;
    let reported = -1;
    yield { received: 0, total, version, repository };
    for await (const chunk of this.open(record).download(version)) {
      chunks.push(chunk);
      received += chunk.length;
      if (received - reported >= PROGRESS_STEP) {
        reported = received;
        yield { received, total, version, repository };
      }
    }
    if (reported !== received) yield { received, total, version, repository };
    const bytes = Buffer.concat(chunks);
    const digest = sha256Hex(bytes);
    if (bytes.length !== total || digest !== version.packageSha256) {
      throw new ConnectError(
        `the download of ${pluginId} ${version.version} from '${repository}' does not match its index: ${bytes.length} bytes with sha256 ${digest}, expected ${total} bytes with sha256 ${version.packageSha256}; nothing was installed`,
        Code.DataLoss,
      );
    }
    const view = await this.plugins.install(bytes, {
      allowDowngrade: request.allowDowngrade ?? false,
      offer: { repository: record, pluginId, version: version.version },
    });
    this.logger.info({ plugin: pluginId, version: version.version, repository }, 'plugin installed from repository');
    return view;
  }
}
