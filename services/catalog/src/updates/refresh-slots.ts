import { createHash } from 'node:crypto';

/**
 * Where in each interval a work's refresh falls: a stable hash of (source, media), so works are
 * spread over the interval rather than refreshed all at once, and keep their place across restarts.
 */
export function slotPhase(sourceId: string, mediaId: string, intervalMs: number): number {
  const digest = createHash('sha256').update(`${sourceId}\u0000${mediaId}`).digest();
  return digest.readUIntBE(0, 6) % intervalMs;
}

/** The first slot of the work strictly after `after` (unix ms). */
export function nextSlotAfter(after: number, phase: number, intervalMs: number): number {
  const cycles = Math.floor((after - phase) / intervalMs) + 1;
  return phase + cycles * intervalMs;
}

/**
 * When a work is next due: the first slot after its last refresh, or, never refreshed, its first
 * slot from `since` (when the scheduler started) on.
 */
export function nextDueAt(
  work: { sourceId: string; mediaId: string },
  fetchedAt: number | undefined,
  since: number,
  intervalMs: number,
): number {
  const phase = slotPhase(work.sourceId, work.mediaId, intervalMs);
  return nextSlotAfter(fetchedAt ?? since - 1, phase, intervalMs);
}
