/** What the catalog remembers about an installed plugin. */
export interface InstalledPlugin {
  id: string;
  version: string;
  /** the manifest.toml as shipped in the package; parsed again on load */
  manifestToml: string;
  /** sha256 of the whole .awpkg file, the address of the package in the package store */
  packageSha256: string;
  /** sha256 of the component inside the package, the key of the runner's compile cache */
  componentSha256: string;
  enabled: boolean;
  /** values the user set; keys not present fall back to the manifest defaults */
  settings: Record<string, string>;
  installedAt: Date;
  updatedAt: Date;
}

/**
 * Installed plugins and their settings. Embedded mode keeps them in SQLite; the distributed
 * catalog will keep them in MongoDB behind the same interface and the same contract tests.
 */
export interface PluginStore {
  list(): Promise<InstalledPlugin[]>;
  get(id: string): Promise<InstalledPlugin | undefined>;
  /** Inserts or replaces the plugin's package; keeps its settings and enabled flag if it was installed. */
  putPackage(
    plugin: Omit<InstalledPlugin, 'settings' | 'enabled' | 'installedAt' | 'updatedAt'>,
  ): Promise<InstalledPlugin>;
  setEnabled(id: string, enabled: boolean): Promise<InstalledPlugin | undefined>;
  setSettings(id: string, settings: Record<string, string>): Promise<InstalledPlugin | undefined>;
  /** Returns false when no such plugin was installed. */
  remove(id: string): Promise<boolean>;
  close(): Promise<void>;
}
