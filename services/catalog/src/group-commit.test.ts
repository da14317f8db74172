import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';

const open: Database.Database[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
});

function setup() {
  const db = new Database(':memory:');
  open.push(db);
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  let commits = 0;
  // counts commits of the outermost transaction: better-sqlite3 runs them through this function
  const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
  const group = new GroupCommit(db);
  const realTransaction = db.transaction.bind(db);
  db.transaction = ((fn: (...args: unknown[]) => unknown) => {
    const wrapped = realTransaction(fn);
    return Object.assign((...args: unknown[]) => {
      const outermost = !db.inTransaction;
      const result = wrapped(...args);
      if (outermost) commits++;
      return result;
    }, wrapped);
  }) as typeof db.transaction;
  return { db, group, insert, commits: () => commits };
}

describe('GroupCommit', () => {
  it('commits the jobs of one turn together and answers each with its own result', async () => {
    const { db, group, insert, commits } = setup();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => group.run(() => insert.run(`k${i}`, i).changes)),
    );
    expect(results).toEqual(Array(20).fill(1));
    expect(commits()).toBe(1);
    expect((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(20);
    await group.run(() => insert.run('later', 0));
    expect(commits()).toBe(2);
  });

  it('rolls back only the job that threw, and rejects only its caller', async () => {
    const { db, group, insert } = setup();
    const outcomes = await Promise.allSettled([
      group.run(() => insert.run('a', 1)),
      group.run(() => {
        insert.run('b', 2);
        insert.run('a', 3); // a duplicate key: this job's own rows must go, b included
      }),
      group.run(() => insert.run('c', 4)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(db.prepare('SELECT k, v FROM t ORDER BY k').all()).toEqual([
      { k: 'a', v: 1 },
      { k: 'c', v: 4 },
    ]);
  });

  it('rejects every job of a batch whose commit fails', async () => {
    const { db, group, insert } = setup();
    const pending = [group.run(() => insert.run('x', 1)), group.run(() => insert.run('y', 2))];
    db.close();
    open.splice(0);
    const outcomes = await Promise.allSettled(pending);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  });
});
