import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MAX_PLUGIN_CURSOR_BYTES } from '@awasm/runner-api';
import { Code, ConnectError } from '@connectrpc/connect';

const TAG_BYTES = 32;
/** base64url of the plugin cursor, a dot, base64url of the tag: what a valid cursor can be at most. */
export const MAX_CURSOR_LENGTH = Math.ceil((MAX_PLUGIN_CURSOR_BYTES * 4) / 3) + 1 + Math.ceil((TAG_BYTES * 4) / 3);
export const CURSOR_SECRET_BYTES = 32;

/** What a cursor belongs to: the source, the operation and the query it pages through. */
export type CursorBinding = readonly [sourceId: string, op: string, ...query: unknown[]];

/**
 * Opaque cursors the gateway can verify: the plugin's own cursor plus an HMAC-SHA256 tag over it and
 * its binding. A client can neither forge one (page numbers the plugin would trust) nor replay one
 * against another source, operation or query: such a cursor is refused before any plugin work.
 */
export class CursorCodec {
  constructor(private readonly secret: Uint8Array) {
    if (secret.length < 16) throw new Error('the cursor secret must be at least 16 bytes');
  }

  /** The client's cursor for the plugin's next page; empty stays empty (the last page). */
  seal(binding: CursorBinding, pluginCursor: string): string {
    if (pluginCursor === '') return '';
    const bytes = Buffer.from(pluginCursor, 'utf8');
    // the runner refuses longer plugin cursors as malformed output; this keeps the length bound here
    if (bytes.length > MAX_PLUGIN_CURSOR_BYTES) {
      throw new ConnectError(
        `a plugin cursor of ${bytes.length} bytes; at most ${MAX_PLUGIN_CURSOR_BYTES}`,
        Code.Internal,
      );
    }
    return `${bytes.toString('base64url')}.${this.tag(binding, bytes).toString('base64url')}`;
  }

  /** The plugin cursor inside a client's cursor (undefined for the first page); INVALID_ARGUMENT otherwise. */
  open(binding: CursorBinding, cursor: string): string | undefined {
    if (cursor === '') return undefined;
    const refuse = (why: string) =>
      new ConnectError(`cursor ${why}; pass the next_cursor of a previous page of the same call`, Code.InvalidArgument);
    if (cursor.length > MAX_CURSOR_LENGTH) throw refuse(`is ${cursor.length} characters; at most ${MAX_CURSOR_LENGTH}`);
    const match = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(cursor);
    if (!match) throw refuse('is malformed');
    const bytes = Buffer.from(match[1] as string, 'base64url');
    const tag = Buffer.from(match[2] as string, 'base64url');
    const expected = this.tag(binding, bytes);
    if (tag.length !== expected.length || !timingSafeEqual(tag, expected)) {
      throw refuse('was not issued by this server for this source, operation and query');
    }
    return bytes.toString('utf8');
  }

  private tag(binding: CursorBinding, pluginCursor: Uint8Array): Buffer {
    // The binding is JSON, so no two bindings share an encoding; a NUL byte cannot occur in it.
    return createHmac('sha256', this.secret)
      .update('awasm cursor v1\0')
      .update(JSON.stringify(binding))
      .update('\0')
      .update(pluginCursor)
      .digest();
  }
}

/**
 * The server's cursor secret, made on first use and kept (mode 0600) so cursors survive a restart.
 * A file of the wrong size is refused rather than silently replaced.
 */
export async function loadOrCreateCursorSecret(path: string): Promise<Uint8Array> {
  const existing = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing) {
    if (existing.length !== CURSOR_SECRET_BYTES) {
      throw new Error(
        `${path} must hold ${CURSOR_SECRET_BYTES} bytes, has ${existing.length}; remove it to make a new one`,
      );
    }
    return existing;
  }
  const secret = randomBytes(CURSOR_SECRET_BYTES);
  await mkdir(dirname(path), { recursive: true });
  try {
    await writeFile(path, secret, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // another process made it first: use theirs
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateCursorSecret(path);
    throw error;
  }
  await chmod(path, 0o600);
  return secret;
}
