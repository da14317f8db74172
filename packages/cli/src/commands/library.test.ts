/**
 * `awasm library` and `awasm category` against a real LibraryService (SqliteLibraryStore, the fake
 * runner) over an in-memory transport, every call made as one user.
 */
import { CatalogDatabase, registerLibraryService, SqliteLibraryStore } from '@awasm/catalog';
import { LibraryService } from '@awasm/shared/gen/awasm/v1/library_service_pb.js';
import { MediaKind } from '@awasm/shared/gen/awasm/v1/media_pb.js';
import { createClient, createRouterTransport } from '@connectrpc/connect';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeSourceRunner } from '../../../../services/catalog/src/updates/testing/fake-source-runner.js';
import { toConnectError } from '../../../../services/gateway/src/errors.js';
import { authenticate, requireUser } from '../../../server/src/auth.js';
import { UsageError } from '../usage.js';
import { addCategoryCommands } from './categories.js';
import type { CommandContext } from './context.js';
import { addLibraryCommands } from './library.js';

const databases: CatalogDatabase[] = [];
afterEach(() => {
  for (const db of databases.splice(0)) db.close();
});

const unused = () => {
  throw new Error('not used by the library commands');
};

function setup() {
  const db = CatalogDatabase.open(':memory:');
  databases.push(db);
  const runner = new FakeSourceRunner(10);
  runner.setMedia('demo', 'm1', { title: 'Moon Runner', kind: MediaKind.MANGA });
  runner.setMedia('demo', 'm2', { title: 'Ash Garden', kind: MediaKind.BOOK });
  runner.setMedia('mirror', 'x1', { title: 'Moon Runner', kind: MediaKind.MANGA });
  runner.setUnits('mirror', 'x1', [{ id: 'x-c1', number: 1 }]);
  let ids = 0;
  const transport = createRouterTransport(
    (router) =>
      registerLibraryService(router, {
        store: new SqliteLibraryStore(db),
        runner,
        sources: { requireEnabled: async (id) => ({ manifest: { name: id === 'demo' ? 'Demo' : 'Mirror' } }) },
        requireUser,
        sourceError: toConnectError,
        newId: () => `id${++ids}`,
      }),
    { router: { interceptors: [authenticate(() => ({ role: 'member', userId: 'alice', userName: 'alice' }))] } },
  );
  const library = createClient(LibraryService, transport);
  const printed: { text: string; value: unknown }[] = [];
  const ctx: CommandContext = {
    sources: unused,
    plugins: unused,
    registry: unused,
    repositories: unused,
    updates: unused,
    backup: unused,
    users: unused,
    server: () => 'http://127.0.0.1:7600',
    readPassword: unused,
    library: () => library,
    print: (text, value) => printed.push({ text, value }),
    warn: () => undefined,
    usage: (message) => new UsageError(message),
    progress: { tty: false, write: () => undefined, line: () => undefined },
  };
  /** Runs one command line; answers what it printed (text, and the --json value). */
  async function run(...args: string[]): Promise<{ text: string; value: unknown }> {
    const program = new Command('awasm').exitOverride().configureOutput({ writeErr: () => undefined });
    addLibraryCommands(program, ctx);
    addCategoryCommands(program, ctx);
    printed.length = 0;
    await program.parseAsync(args, { from: 'user' });
    const last = printed.at(-1);
    if (!last) throw new Error(`${args.join(' ')} printed nothing`);
    return last;
  }
  return { run, library };
}

describe('awasm library and awasm category', () => {
  it('adds, lists, shows, changes and removes entries, with categories by name', async () => {
    const { run } = setup();
    expect((await run('category', 'add', 'Weekend')).text).toBe("added category 'Weekend' (id1)");
    await run('category', 'add', 'Later');
    expect((await run('library', 'add', 'demo', 'm1', '--category', 'weekend')).text).toBe(
      "added 'Moon Runner' as entry id3",
    );
    expect((await run('library', 'add', 'demo', 'm1')).text).toBe('already in your library as entry id3');
    await run('library', 'add', 'demo', 'm2', '--status', 'on-hold');

    const all = await run('library', 'list');
    expect(all.text.split('\n').map((line) => line.split(/\s{2,}/)[1])).toEqual(['TITLE', 'Ash Garden', 'Moon Runner']);
    expect((await run('library', 'list', '--category', 'Weekend')).text).toMatch(/Moon Runner/);
    expect((await run('library', 'list', '--category', 'Weekend')).text).not.toMatch(/Ash Garden/);
    expect((await run('library', 'list', '--status', 'on-hold', '--kind', 'book')).text).toMatch(/Ash Garden/);
    expect((await run('library', 'list', '--kind', 'anime')).text).toBe('no entries');
    const paged = await run('library', 'list', '--limit', '1', '--sort', 'title', '--reverse');
    expect(paged.text).toMatch(/Moon Runner[\s\S]*more: --page-token \S+/);
    const token = (paged.value as { nextPageToken: string }).nextPageToken;
    expect((await run('library', 'list', '--limit', '1', '--reverse', '--page-token', token)).text).toMatch(
      /Ash Garden/,
    );

    await run('library', 'progress', 'id3', 'c1', '--read', '--number', '1');
    const progress = await run('library', 'progress', 'id3', 'c2', '--position', '4', '--total', '20');
    expect(progress.text).toMatch(/c2\s+4\/20/);
    const shown = await run('library', 'show', 'id3');
    expect(shown.text).toMatch(/Moon Runner/);
    expect(shown.text).toMatch(/categories +Weekend/);
    expect(shown.text).toMatch(/read +1\/\? units/);
    expect(shown.text).toMatch(/c1\s+1\s+yes/);
    expect((shown.value as { progress: unknown[] }).progress).toHaveLength(2);

    const set = await run('library', 'set', 'id3', '--favourite', '--notes', 'good', '--category', 'Later');
    expect(set.value).toMatchObject({ favourite: true, notes: 'good', categoryIds: ['id2'] });
    const cleared = await run('library', 'set', 'id3', '--no-favourite', '--no-category');
    expect(cleared.value).toMatchObject({ notes: 'good' });
    expect((cleared.value as { favourite?: boolean }).favourite).toBeUndefined();
    expect((cleared.value as { categoryIds?: string[] }).categoryIds).toBeUndefined();

    expect((await run('library', 'history')).text).toBe('no history');
    expect((await run('library', 'remove', 'id4')).text).toBe('removed id4');
    expect((await run('library', 'list')).text).not.toMatch(/Ash Garden/);
  });

  it('links, unlinks and moves entries', async () => {
    const { run } = setup();
    await run('library', 'add', 'demo', 'm1');
    await run('library', 'add', 'demo', 'm2');
    const linked = await run('library', 'link', 'id1', 'id2');
    expect(linked.text).toMatch(/^linked 2 entries as work id3$/);
    expect((await run('library', 'unlink', 'id2')).text).toBe('unlinked id2');

    await run('library', 'progress', 'id1', 'c1', '--read', '--number', '1');
    await run('library', 'progress', 'id1', 'c7', '--read', '--number', '7');
    const dry = await run('library', 'move', 'id1', 'mirror', 'x1', '--dry-run');
    expect(dry.text).toMatch(
      /^would move id1 to mirror\/x1: 1 progress row matched of the target's 1 units, 1 unmatched/,
    );
    expect(dry.text).toMatch(/would be dropped[\s\S]*c7/);
    const moved = await run('library', 'move', 'id1', 'mirror', 'x1');
    expect(moved.text).toMatch(/^moved id1 to mirror\/x1: 1 progress row matched/);
    expect((await run('library', 'show', 'id1')).text).toMatch(/Mirror \(mirror\) x1[\s\S]*x-c1/);
  });

  it('orders, renames and removes categories', async () => {
    const { run } = setup();
    for (const name of ['A', 'B', 'C']) await run('category', 'add', name);
    const moved = await run('category', 'move', 'C', '0');
    expect(
      moved.text
        .split('\n')
        .slice(1)
        .map((line) => line.split(/\s+/)[2]),
    ).toEqual(['C', 'A', 'B']);
    expect((await run('category', 'rename', 'a', 'Alpha')).text).toBe("renamed to 'Alpha'");
    expect((await run('category', 'remove', 'B')).text).toBe("removed category 'B'");
    expect((await run('category', 'list')).value).toEqual([
      { categoryId: 'id3', name: 'C' },
      { categoryId: 'id1', name: 'Alpha', position: 1 },
    ]);
    await expect(run('category', 'remove', 'B')).rejects.toThrow(/no category 'B'/);
    await expect(run('category', 'move', 'C', '5')).rejects.toThrow(UsageError);
  });

  it('refuses bad usage before calling the server', async () => {
    const { run } = setup();
    await run('library', 'add', 'demo', 'm1');
    for (const args of [
      ['library', 'add', 'demo', 'm2', '--status', 'skimming'],
      ['library', 'list', '--kind', 'podcast'],
      ['library', 'list', '--sort', 'random'],
      ['library', 'list', '--limit', '0'],
      ['library', 'set', 'id1'],
      ['library', 'progress', 'id1', 'c1'],
      ['library', 'progress', 'id1', 'c1', '--read', '--unread'],
      ['library', 'progress', 'id1', 'c1', '--position', 'ten'],
    ]) {
      await expect(run(...args), args.join(' ')).rejects.toThrow(UsageError);
    }
    expect((await run('library', 'list')).text).not.toMatch(/Ash Garden/);
  });
});
