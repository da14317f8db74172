/**
 * Progress is never lost: `awasm serve` is killed with SIGKILL in the middle of a stream of
 * progress writes from several clients, and after a restart on the same data every write the
 * server had acknowledged is there. Counts, not timings: the kill comes after a number of
 * acknowledgements, whenever that is.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LibraryService } from '@awasm/shared/gen/awasm/v1/library_service_pb.js';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigDir, configDir, withApiKey } from '../support/auth.js';
import { type FeedSite, startFeedSite } from '../support/feed-sources.mjs';
import { awasm, serveAwasm, tempDir } from '../support/index.js';

const WRITERS = 8;
/** acknowledgements before the kill */
const KILL_AFTER = 300;

let feed: FeedSite;
let data: Awaited<ReturnType<typeof tempDir>>;
let config: ConfigDir;

function serve() {
  return serveAwasm(join(data.path, 'data'), { connectTo: feed.connectTo, env: config.env });
}

function library(url: string, key: string) {
  return createClient(LibraryService, createGrpcTransport({ baseUrl: url, interceptors: [withApiKey(key)] }));
}

beforeAll(async () => {
  feed = await startFeedSite({ count: 1, requestsPerSecond: 50 });
  feed.setUnits('feed-0', 'moon', [{ id: 'c1', title: 'Chapter 1', number: 1 }]);
  data = await tempDir('durability');
  config = await configDir('durability-config');
});

afterAll(async () => {
  await feed?.close();
  await config?.remove();
  await data?.remove();
});

describe('progress across a crash', () => {
  it('keeps every acknowledged write after kill -9 and a restart', async () => {
    const first = await serve();
    const firstUrl = first.match[1] as string;
    const key = config.savedKey(firstUrl);
    const packageFile = join(data.path, 'feed-0.awpkg');
    await writeFile(packageFile, feed.packages.get('feed-0') as Uint8Array);
    const install = await awasm(['--server', firstUrl, 'plugin', 'install', packageFile], config.env);
    expect(install.code, install.stderr).toBe(0);
    const client = library(firstUrl, key);
    const entryId = (await client.addEntry({ sourceId: 'feed-0', mediaId: 'moon' })).entry?.entryId ?? '';
    expect(entryId).not.toBe('');

    // each write is its own unit at its own position, so a lost one shows as a missing row
    const acknowledged: number[] = [];
    let next = 0;
    let killed: Promise<number | null> | undefined;
    const clientTime = timestampFromMs(Date.now());
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (!killed) {
          const i = next++;
          try {
            await client.writeProgress({
              entryId,
              writes: [{ unitId: `u${i}`, position: i, total: 1_000_000, read: i % 2 === 0, clientTime }],
            });
          } catch {
            return; // the server is gone: this write was never acknowledged
          }
          acknowledged.push(i);
          if (acknowledged.length === KILL_AFTER) killed = first.kill('SIGKILL');
        }
      }),
    );
    await killed;
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER);

    const second = await serve();
    try {
      const rows = (await library(second.match[1] as string, key).listProgress({ entryId })).progress;
      const byUnit = new Map(rows.map((r) => [r.unitId, r]));
      const lost = acknowledged.filter((i) => byUnit.get(`u${i}`)?.position !== i);
      expect(lost).toEqual([]);
      for (const i of acknowledged) expect(byUnit.get(`u${i}`)?.read).toBe(i % 2 === 0);
      // writes in flight at the kill may or may not have landed; nothing else is there
      expect(rows.length).toBeGreaterThanOrEqual(acknowledged.length);
      expect(rows.length).toBeLessThanOrEqual(next);
    } finally {
      await second.stop();
    }
  });
});
