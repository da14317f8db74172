import type { ProgressWrite, UnitProgress } from './library-store.js';

/**
 * The one merge rule of every LibraryStore (documented on ProgressWrite). Returns the row after
 * the write, or undefined when the write changes nothing, so a retry never touches the store.
 */
export function mergeProgress(
  entryId: string,
  stored: UnitProgress | undefined,
  write: ProgressWrite,
  at: number,
): UnitProgress | undefined {
  const base: UnitProgress = stored ?? {
    entryId,
    unitId: write.unitId,
    read: false,
    position: 0,
    total: 0,
    positionAt: 0,
    readAt: 0,
    updatedAt: at,
  };
  const next: UnitProgress = { ...base };

  if (write.position !== undefined || write.total !== undefined) {
    const position = write.position ?? 0;
    const newer =
      stored === undefined ||
      write.clientTime > base.positionAt ||
      (write.clientTime === base.positionAt && position > base.position);
    if (newer) {
      next.position = position;
      next.total = write.total ?? base.total;
      next.positionAt = write.clientTime;
    }
  }

  if (write.read !== undefined) {
    const wins = write.clientTime > base.readAt || (write.clientTime === base.readAt && write.read && !base.read);
    if (wins) {
      next.read = write.read;
      next.readAt = write.clientTime;
    }
  }

  // what a unit is called only fills gaps: a later write may know the number an earlier did not
  if (write.unitNumber !== undefined && base.unitNumber === undefined) next.unitNumber = write.unitNumber;
  if (write.unitTitle !== undefined && base.unitTitle === undefined) next.unitTitle = write.unitTitle;

  const changed =
    stored === undefined ||
    next.read !== base.read ||
    next.readAt !== base.readAt ||
    next.position !== base.position ||
    next.total !== base.total ||
    next.positionAt !== base.positionAt ||
    next.unitNumber !== base.unitNumber ||
    next.unitTitle !== base.unitTitle;
  if (!changed) return undefined;
  next.updatedAt = at;
  return next;
}
