import { describe, expect, it } from 'vitest';
import type { UnitProgress } from './library-store.js';
import { planHistoryMove, planProgressMove } from './move-plan.js';

function row(unitId: string, extra: Partial<UnitProgress>): UnitProgress {
  return {
    entryId: 'e1',
    unitId,
    read: false,
    position: 0,
    total: 0,
    positionAt: 0,
    readAt: 0,
    updatedAt: 1,
    ...extra,
  };
}

describe('planProgressMove', () => {
  it('renames mapped rows, reports the rest and stamps the move time', () => {
    const a = row('a', { read: true, readAt: 10, unitNumber: 1 });
    const b = row('b', { position: 3, positionAt: 20 });
    const plan = planProgressMove([a, b], new Map([['a', 'x']]), 500);
    expect(plan.rows).toEqual([{ ...a, unitId: 'x', updatedAt: 500 }]);
    expect(plan.unmatched).toEqual([b]);
  });

  it('merges two rows mapped onto one unit by the progress rule, whatever their order', () => {
    const read = row('a', { read: true, readAt: 10, position: 2, positionAt: 5 });
    const later = row('b', { position: 9, total: 12, positionAt: 30 });
    const mapping = new Map([
      ['a', 'x'],
      ['b', 'x'],
    ]);
    const forward = planProgressMove([read, later], mapping, 500);
    const backward = planProgressMove([later, read], mapping, 500);
    expect(forward.rows).toHaveLength(1);
    expect(forward.rows[0]).toMatchObject({
      unitId: 'x',
      read: true,
      readAt: 10,
      position: 9,
      total: 12,
      positionAt: 30,
    });
    expect(backward.rows.map(({ unitNumber, unitTitle, ...r }) => r)).toEqual(
      forward.rows.map(({ unitNumber, unitTitle, ...r }) => r),
    );
  });
});

describe('planHistoryMove', () => {
  it('rewrites mapped units, keeps the others, and keeps the longer of records that meet', () => {
    const records = [
      { entryId: 'e1', unitId: 'a', openedAt: 10, durationMs: 5 },
      { entryId: 'e1', unitId: 'b', openedAt: 10, durationMs: 9 },
      { entryId: 'e1', unitId: 'c', openedAt: 20, durationMs: 1 },
    ];
    const moved = planHistoryMove(
      records,
      new Map([
        ['a', 'x'],
        ['b', 'x'],
      ]),
    );
    expect(moved).toEqual([
      { entryId: 'e1', unitId: 'x', openedAt: 10, durationMs: 9 },
      { entryId: 'e1', unitId: 'c', openedAt: 20, durationMs: 1 },
    ]);
  });
});
