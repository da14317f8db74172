import { type Collection, MongoClient } from 'mongodb';
import type { InstalledPlugin, PluginStore } from './plugin-store.js';

interface PluginDoc {
  _id: string;
  version: string;
  manifestToml: string;
  packageSha256: string;
  componentSha256: string;
  enabled: boolean;
  settings: Record<string, string>;
  installedAt: Date;
  updatedAt: Date;
}

function toPlugin(doc: PluginDoc): InstalledPlugin {
  const { _id, ...rest } = doc;
  return { id: _id, ...rest, settings: { ...rest.settings } };
}

/**
 * Installed plugins in MongoDB (or any MongoDB-wire server), one document per plugin keyed by id,
 * for the distributed catalog. Writes use majority write concern so an acknowledged install survives
 * a primary failover.
 */
export class MongoPluginStore implements PluginStore {
  private constructor(
    private readonly client: MongoClient,
    private readonly plugins: Collection<PluginDoc>,
  ) {}

  static async connect(url: string, database = 'awasm'): Promise<MongoPluginStore> {
    const client = new MongoClient(url, { writeConcern: { w: 'majority' }, serverSelectionTimeoutMS: 10_000 });
    await client.connect();
    return new MongoPluginStore(client, client.db(database).collection<PluginDoc>('plugins'));
  }

  async list(): Promise<InstalledPlugin[]> {
    return (await this.plugins.find().sort({ _id: 1 }).toArray()).map(toPlugin);
  }

  async get(id: string): Promise<InstalledPlugin | undefined> {
    const doc = await this.plugins.findOne({ _id: id });
    return doc ? toPlugin(doc) : undefined;
  }

  async putPackage(
    p: Omit<InstalledPlugin, 'settings' | 'enabled' | 'installedAt' | 'updatedAt'>,
  ): Promise<InstalledPlugin> {
    const now = new Date();
    await this.plugins.updateOne(
      { _id: p.id },
      {
        $set: {
          version: p.version,
          manifestToml: p.manifestToml,
          packageSha256: p.packageSha256,
          componentSha256: p.componentSha256,
          updatedAt: now,
        },
        $setOnInsert: { enabled: true, settings: {}, installedAt: now },
      },
      { upsert: true },
    );
    return (await this.get(p.id)) as InstalledPlugin;
  }

  async setEnabled(id: string, enabled: boolean): Promise<InstalledPlugin | undefined> {
    await this.plugins.updateOne({ _id: id }, { $set: { enabled, updatedAt: new Date() } });
    return this.get(id);
  }

  async setSettings(id: string, settings: Record<string, string>): Promise<InstalledPlugin | undefined> {
    await this.plugins.updateOne({ _id: id }, { $set: { settings, updatedAt: new Date() } });
    return this.get(id);
  }

  async remove(id: string): Promise<boolean> {
    return (await this.plugins.deleteOne({ _id: id })).deletedCount > 0;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
