import type { RepositoryRecord, RepositoryStore } from './repository-store.js';

/** This server's own registry: the publisher keys the operator trusts, each for some plugin ids. */
export interface PublisherKeyTrust {
  isTrusted(keyId: string, pluginId: string): boolean | Promise<boolean>;
}

export interface TrustPolicyOptions {
  /**
   * Accept packages without a signature (format 1, or format 2 unsigned). Embedded mode allows it
   * by default: only the operator can call Install, with a file they chose. A signature that is
   * present is always checked, and a package from a repository must always be signed.
   */
  allowUnsigned: boolean;
  /** the registry's key store */
  registry?: PublisherKeyTrust;
  /** the repositories the operator added, whose pinned keys are trusted */
  repositories?: Pick<RepositoryStore, 'list'>;
}

/**
 * Which publisher keys may sign which plugins, asked by the plugin manager and the repository
 * manager alike: a key is trusted for a plugin when this server's registry trusts it for that
 * plugin id, or when a repository the operator added pins it.
 */
export class TrustPolicy {
  readonly allowUnsigned: boolean;
  private readonly registry: PublisherKeyTrust | undefined;
  private readonly repositories: Pick<RepositoryStore, 'list'> | undefined;

  constructor(options: TrustPolicyOptions) {
    this.allowUnsigned = options.allowUnsigned;
    this.registry = options.registry;
    this.repositories = options.repositories;
  }

  /** May key `keyId` sign plugin `pluginId`, wherever the package came from? */
  async maySign(keyId: string, pluginId: string): Promise<boolean> {
    return (await this.registryTrusts(keyId, pluginId)) || (await this.isPinned(keyId));
  }

  /** May key `keyId` sign plugin `pluginId` in a package offered by `repository`? */
  async maySignFrom(repository: RepositoryRecord, keyId: string, pluginId: string): Promise<boolean> {
    return repository.trustedKeyIds.includes(keyId) || (await this.registryTrusts(keyId, pluginId));
  }

  /** Whether any repository the operator added pins the key. */
  async isPinned(keyId: string): Promise<boolean> {
    if (!this.repositories) return false;
    return (await this.repositories.list()).some((r) => r.trustedKeyIds.includes(keyId));
  }

  private async registryTrusts(keyId: string, pluginId: string): Promise<boolean> {
    return (await this.registry?.isTrusted(keyId, pluginId)) ?? false;
  }
}
