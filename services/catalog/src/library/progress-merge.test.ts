import { describe, expect, it } from 'vitest';
import type { ProgressWrite, UnitProgress } from './library-store.js';
import { mergeProgress } from './progress-merge.js';

const stored: UnitProgress = {
  entryId: 'e1',
  unitId: 'u1',
  read: false,
  position: 5,
  total: 20,
  positionAt: 100,
  readAt: 0,
  updatedAt: 1_000,
};

/** Applies the writes in order, as a store does, starting from nothing. */
function replay(writes: ProgressWrite[], at = 2_000): UnitProgress | undefined {
  let row: UnitProgress | undefined;
  for (const write of writes) row = mergeProgress('e1', row, write, at) ?? row;
  return row;
}

describe('mergeProgress', () => {
  it('starts a row from the first write', () => {
    expect(
      mergeProgress('e1', undefined, { unitId: 'u1', unitNumber: 3, position: 2, total: 9, clientTime: 50 }, 500),
    ).toEqual({
      entryId: 'e1',
      unitId: 'u1',
      unitNumber: 3,
      read: false,
      position: 2,
      total: 9,
      positionAt: 50,
      readAt: 0,
      updatedAt: 500,
    });
  });

  it('changes nothing on a retry of the write the row came from', () => {
    expect(
      mergeProgress('e1', stored, { unitId: 'u1', position: 5, total: 20, clientTime: 100 }, 2_000),
    ).toBeUndefined();
    const read = { ...stored, read: true, readAt: 100 };
    expect(mergeProgress('e1', read, { unitId: 'u1', read: true, clientTime: 100 }, 2_000)).toBeUndefined();
  });

  it('does not move the position for an older clientTime', () => {
    expect(
      mergeProgress('e1', stored, { unitId: 'u1', position: 9, total: 30, clientTime: 99 }, 2_000),
    ).toBeUndefined();
  });

  it('moves the position for a newer clientTime, even backwards', () => {
    expect(mergeProgress('e1', stored, { unitId: 'u1', position: 1, clientTime: 101 }, 2_000)).toMatchObject({
      position: 1,
      total: 20,
      positionAt: 101,
      updatedAt: 2_000,
    });
  });

  it('takes the greater position on an equal clientTime', () => {
    expect(mergeProgress('e1', stored, { unitId: 'u1', position: 6, clientTime: 100 }, 2_000)?.position).toBe(6);
    expect(mergeProgress('e1', stored, { unitId: 'u1', position: 4, clientTime: 100 }, 2_000)).toBeUndefined();
  });

  it('never clears read on a write that omits it', () => {
    const read = { ...stored, read: true, readAt: 100 };
    const next = mergeProgress('e1', read, { unitId: 'u1', position: 8, clientTime: 500 }, 2_000);
    expect(next).toMatchObject({ read: true, readAt: 100, position: 8 });
  });

  it('clears read on an explicit, newer read:false, and not on an older one', () => {
    const read = { ...stored, read: true, readAt: 100 };
    expect(mergeProgress('e1', read, { unitId: 'u1', read: false, clientTime: 101 }, 2_000)).toMatchObject({
      read: false,
      readAt: 101,
    });
    expect(mergeProgress('e1', read, { unitId: 'u1', read: false, clientTime: 99 }, 2_000)).toBeUndefined();
  });

  it('lets true win a tie of clientTime', () => {
    const unread = { ...stored, read: false, readAt: 100 };
    expect(mergeProgress('e1', unread, { unitId: 'u1', read: true, clientTime: 100 }, 2_000)?.read).toBe(true);
    const read = { ...stored, read: true, readAt: 100 };
    expect(mergeProgress('e1', read, { unitId: 'u1', read: false, clientTime: 100 }, 2_000)).toBeUndefined();
  });

  it('fills a missing unit number or title and never overwrites one', () => {
    const named = mergeProgress('e1', stored, { unitId: 'u1', unitNumber: 7, clientTime: 1 }, 2_000);
    expect(named).toMatchObject({ unitNumber: 7, position: 5, positionAt: 100 });
    expect(mergeProgress('e1', named, { unitId: 'u1', unitNumber: 8, clientTime: 1 }, 3_000)).toBeUndefined();
  });

  it('ends in the same row whichever order two writes arrive in', () => {
    const pairs: [ProgressWrite, ProgressWrite][] = [
      [
        { unitId: 'u1', position: 4, total: 10, clientTime: 10 },
        { unitId: 'u1', position: 2, total: 12, clientTime: 20 },
      ],
      [
        { unitId: 'u1', position: 4, clientTime: 10 },
        { unitId: 'u1', position: 7, clientTime: 10 },
      ],
      [
        { unitId: 'u1', read: true, clientTime: 10 },
        { unitId: 'u1', read: false, clientTime: 10 },
      ],
      [
        { unitId: 'u1', read: true, position: 3, clientTime: 10 },
        { unitId: 'u1', read: false, position: 1, clientTime: 30 },
      ],
      [
        { unitId: 'u1', read: true, clientTime: 50 },
        { unitId: 'u1', position: 9, clientTime: 60 },
      ],
    ];
    for (const [a, b] of pairs) {
      expect(replay([a, b]), JSON.stringify([a, b])).toEqual(replay([b, a]));
    }
  });
});
