/**
 * The README's family walkthrough against a real `awasm serve`: the admin installs two sources,
 * adds a member, both add works and progress, the feed fills after a refresh (each person's with
 * their own works only), neither reaches the other's data, and an uninstalled source leaves its
 * entries orphaned. Every step is a real `awasm` command line over HTTP/2.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigDir, configDir } from '../support/auth.js';
import { type FeedSite, type SiteUnit, startFeedSite } from '../support/feed-sources.mjs';
import { awasm, serveAwasm, type startProcess, tempDir } from '../support/index.js';

let feed: FeedSite;
let data: Awaited<ReturnType<typeof tempDir>>;
let config: ConfigDir;
let server: Awaited<ReturnType<typeof startProcess>>;
let url: string;
let bobKey: string;

const chapters = (count: number): SiteUnit[] =>
  Array.from({ length: count }, (_, i) => ({ id: `c${i + 1}`, title: `Chapter ${i + 1}`, number: i + 1 }));

/** The parts of the commands' --json output this test reads. */
interface Json {
  key: string;
  entry: { entryId: string; title: string };
  entries: { entryId: string; sourceId: string; mediaId: string }[];
  items: { id: string; entryId: string; sourceId: string; mediaId: string; unitId: string }[];
  done: unknown[];
  failed?: unknown[];
  marked: number;
}

/** Runs `awasm --json` as the admin (the key the server saved) or as bob; answers the parsed JSON. */
async function as(who: 'admin' | 'bob', ...args: string[]): Promise<Json> {
  const env = who === 'bob' ? { ...config.env, AWASM_API_KEY: bobKey } : config.env;
  const result = await awasm(['--server', url, '--json', ...args], env);
  if (result.code !== 0) throw new Error(`awasm ${args.join(' ')} (as ${who}) exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** Runs a command that must fail; answers its exit code and stderr. */
async function refused(who: 'admin' | 'bob', ...args: string[]) {
  const env = who === 'bob' ? { ...config.env, AWASM_API_KEY: bobKey } : config.env;
  const result = await awasm(['--server', url, ...args], env);
  return { code: result.code, stderr: result.stderr };
}

beforeAll(async () => {
  feed = await startFeedSite({ count: 2, requestsPerSecond: 50 });
  data = await tempDir('family');
  config = await configDir('family-config');
  for (const [id, file] of feed.packages) await writeFile(join(data.path, `${id}.awpkg`), file);
  server = await serveAwasm(join(data.path, 'data'), { connectTo: feed.connectTo, env: config.env });
  url = server.match[1] as string;
});

afterAll(async () => {
  await server?.stop();
  await feed?.close();
  await config?.remove();
  await data?.remove();
});

describe('a family of two on one server', () => {
  it('keeps two libraries apart and fills each feed with its own works after a refresh', async () => {
    for (const id of feed.sourceIds) await as('admin', 'plugin', 'install', join(data.path, `${id}.awpkg`));
    bobKey = (await as('admin', 'user', 'add', 'bob')).key;
    expect(bobKey).toMatch(/^awk_/);

    feed.setUnits('feed-0', 'moon', chapters(3));
    feed.setUnits('feed-1', 'ash', chapters(2));
    const adminMoon = (await as('admin', 'library', 'add', 'feed-0', 'moon')).entry;
    const adminAsh = (await as('admin', 'library', 'add', 'feed-1', 'ash')).entry;
    const bobMoon = (await as('bob', 'library', 'add', 'feed-0', 'moon')).entry;
    expect(adminMoon.title).toBe('Work moon');
    expect(bobMoon.entryId).not.toBe(adminMoon.entryId);
    await as('bob', 'library', 'progress', bobMoon.entryId, 'c1', '--read');
    await as('bob', 'library', 'progress', bobMoon.entryId, 'c2', '--position', '7', '--total', '20');

    // the first refresh only learns the unit lists: nothing is news yet
    const first = await as('admin', 'refresh', '--wait');
    expect(first.done).toHaveLength(2);
    expect((await as('admin', 'updates')).items).toEqual([]);

    feed.setUnits('feed-0', 'moon', chapters(4));
    feed.setUnits('feed-1', 'ash', chapters(3));
    const second = await as('admin', 'refresh', '--wait');
    expect(second.failed ?? []).toEqual([]);

    const adminFeed = (await as('admin', 'updates', '--unread')).items;
    expect(adminFeed.map((i) => `${i.sourceId}/${i.mediaId}/${i.unitId}`).sort()).toEqual([
      'feed-0/moon/c4',
      'feed-1/ash/c3',
    ]);
    const bobFeed = (await as('bob', 'updates', '--unread')).items;
    expect(bobFeed.map((i) => [i.entryId, i.unitId])).toEqual([[bobMoon.entryId, 'c4']]);

    // bob's library shows his progress; the admin's copy of the same work has none
    const bobShow = await as('bob', 'library', 'show', bobMoon.entryId);
    expect(JSON.stringify(bobShow)).toContain('"c2"');
    expect(JSON.stringify(await as('admin', 'library', 'show', adminMoon.entryId))).not.toContain('"c2"');

    // neither reaches the other's data, by id or by feed item id
    expect((await refused('bob', 'library', 'show', adminMoon.entryId)).stderr).toMatch(/NotFound/);
    expect((await refused('bob', 'library', 'remove', adminAsh.entryId)).stderr).toMatch(/NotFound/);
    expect((await as('bob', 'updates', 'read', adminFeed[0]?.id ?? '')).marked).toBe(0);
    expect((await as('admin', 'updates', '--unread')).items).toHaveLength(2);
    // and a member changes no plugins
    expect((await refused('bob', 'plugin', 'uninstall', 'feed-1')).stderr).toMatch(/PermissionDenied/);
  });

  it('keeps the entries of an uninstalled source, orphaned, and a reinstall brings them back', async () => {
    await as('admin', 'plugin', 'uninstall', 'feed-1');
    const { entries } = await as('admin', 'library', 'list', '--orphaned');
    expect(entries.map((e) => [e.sourceId, e.mediaId])).toEqual([['feed-1', 'ash']]);
    expect(JSON.stringify(entries[0])).toMatch(/UNINSTALLED/i);

    await as('admin', 'plugin', 'install', join(data.path, 'feed-1.awpkg'));
    expect((await as('admin', 'library', 'list', '--orphaned')).entries).toEqual([]);
  });
});
