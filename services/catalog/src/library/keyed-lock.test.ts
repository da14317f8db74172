import { describe, expect, it } from 'vitest';
import { KeyedLock } from './keyed-lock.js';

/** A promise and the function that settles it, so a test decides when a task finishes. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('KeyedLock', () => {
  it('runs the tasks of one key one after another, in order', async () => {
    const lock = new KeyedLock();
    const events: string[] = [];
    const first = gate();
    const a = lock.run('k', async () => {
      events.push('a start');
      await first.opened;
      events.push('a end');
      return 'a';
    });
    const b = lock.run('k', async () => {
      events.push('b start');
      return 'b';
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(events).toEqual(['a start']);
    first.open();
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
    expect(events).toEqual(['a start', 'a end', 'b start']);
  });

  it('runs tasks of different keys side by side', async () => {
    const lock = new KeyedLock();
    const held = gate();
    const events: string[] = [];
    const a = lock.run('one', async () => {
      await held.opened;
      events.push('one');
    });
    await lock.run('two', async () => {
      events.push('two');
    });
    expect(events).toEqual(['two']);
    held.open();
    await a;
    expect(events).toEqual(['two', 'one']);
  });

  it('goes on after a task fails, and passes the failure to its caller', async () => {
    const lock = new KeyedLock();
    const failing = lock.run('k', async () => {
      throw new Error('boom');
    });
    const next = lock.run('k', async () => 'next');
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('next');
  });
});
