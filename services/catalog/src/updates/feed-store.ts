import { createHash } from 'node:crypto';

/** A new unit of a followed work, in one user's feed. */
export interface FeedItem {
  /** stable: derived from (user, source, media, unit), see feedItemId */
  id: string;
  userId: string;
  sourceId: string;
  mediaId: string;
  /** the user's library entry that follows the work */
  entryId: string;
  unitId: string;
  unitTitle: string;
  unitNumber?: number;
  /** unix ms, when the refresh found the unit */
  foundAt: number;
  read: boolean;
}

/** What a refresh hands the feed; the id and the unread flag are the store's. */
export type NewFeedItem = Omit<FeedItem, 'id' | 'read'>;

export interface FeedQuery {
  unreadOnly?: boolean;
  /** items per page, at least 1 */
  limit: number;
  /** nextCursor of the previous page */
  cursor?: string;
}

export interface FeedPage {
  /** newest first */
  items: FeedItem[];
  /** undefined on the last page */
  nextCursor?: string;
}

/** A cursor the store did not hand out (or one that was altered). */
export class InvalidFeedCursorError extends Error {
  constructor(cursor: string) {
    super(`invalid feed cursor '${cursor.slice(0, 64)}'`);
    this.name = 'InvalidFeedCursorError';
  }
}

/**
 * Per-user feeds of new units. Adding the same (user, source, media, unit) twice keeps one item,
 * so a refresh that is retried never duplicates news.
 */
export interface FeedStore {
  /** Adds the items that are not in their user's feed yet; returns how many were new. */
  add(items: NewFeedItem[]): Promise<number>;
  list(userId: string, query: FeedQuery): Promise<FeedPage>;
  /** Marks those of `ids` that are in this user's feed read; returns how many changed. */
  markRead(userId: string, ids: string[]): Promise<number>;
  /** Marks this user's whole feed read; returns how many changed. */
  markAllRead(userId: string): Promise<number>;
  /** Removes a removed user's whole feed; returns how many items went. */
  removeUser(userId: string): Promise<number>;
  close(): Promise<void>;
}

/** The item id of a unit in a user's feed: the same inputs always give the same id. */
export function feedItemId(item: Pick<NewFeedItem, 'userId' | 'sourceId' | 'mediaId' | 'unitId'>): string {
  return createHash('sha256')
    .update([item.userId, item.sourceId, item.mediaId, item.unitId].join('\u0000'))
    .digest('hex')
    .slice(0, 32);
}

interface CursorPosition {
  foundAt: number;
  id: string;
}

/** Newest-first order is (foundAt desc, id desc); a cursor is the last item's position. */
export function encodeFeedCursor(item: CursorPosition): string {
  return Buffer.from(JSON.stringify([item.foundAt, item.id])).toString('base64url');
}

export function decodeFeedCursor(cursor: string): CursorPosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string') {
      return { foundAt: value[0] as number, id: value[1] };
    }
  } catch {
    // falls through to the error below
  }
  throw new InvalidFeedCursorError(cursor);
}
