import type { HistoryRecord, UnitProgress } from './library-store.js';
import { mergeProgress } from './progress-merge.js';

/** What a move does to an entry's progress: the rows under their new unit ids, and the rest. */
export interface ProgressMove {
  rows: UnitProgress[];
  unmatched: UnitProgress[];
}

/**
 * Rewrites progress rows by the unit mapping. Two old units mapped onto one new unit merge by the
 * progress rule, each row replayed as the writes it came from, so the result does not depend on
 * the rows' order.
 */
export function planProgressMove(
  rows: readonly UnitProgress[],
  mapping: ReadonlyMap<string, string>,
  at: number,
): ProgressMove {
  const moved = new Map<string, UnitProgress>();
  const unmatched: UnitProgress[] = [];
  for (const row of rows) {
    const unitId = mapping.get(row.unitId);
    if (unitId === undefined) {
      unmatched.push(row);
      continue;
    }
    const existing = moved.get(unitId);
    if (existing === undefined) {
      moved.set(unitId, { ...row, unitId, updatedAt: at });
      continue;
    }
    let merged = existing;
    const replays = [
      { unitId, position: row.position, total: row.total, clientTime: row.positionAt },
      ...(row.readAt > 0 ? [{ unitId, read: row.read, clientTime: row.readAt }] : []),
    ];
    for (const write of replays) merged = mergeProgress(row.entryId, merged, write, at) ?? merged;
    moved.set(unitId, merged);
  }
  return { rows: [...moved.values()], unmatched };
}

/**
 * Rewrites history records by the unit mapping, keeping unmapped ones as they are; records that
 * land on one (unit, openedAt) keep the longer duration.
 */
export function planHistoryMove(
  records: readonly HistoryRecord[],
  mapping: ReadonlyMap<string, string>,
): HistoryRecord[] {
  const byKey = new Map<string, HistoryRecord>();
  for (const record of records) {
    const unitId = mapping.get(record.unitId) ?? record.unitId;
    const key = `${unitId}\u0000${record.openedAt}`;
    const existing = byKey.get(key);
    if (existing === undefined || record.durationMs > existing.durationMs) byKey.set(key, { ...record, unitId });
  }
  return [...byKey.values()];
}
