import { describe, expect, it } from 'vitest';
import { type ChannelEvent, ChannelReader, ChannelWriter, channelBuffer, MAILBOX_BYTES } from './http-channel.mjs';

function pair() {
  const buffer = channelBuffer();
  return { writer: new ChannelWriter(new Int32Array(buffer)), reader: new ChannelReader(buffer) };
}

const head: ChannelEvent = {
  id: 7,
  type: 'head',
  status: 404,
  headers: [
    ['Content-Type', new TextEncoder().encode('text/plain')],
    ['X-Latin1', Uint8Array.from([0x63, 0xe9, 0xff, 0x00])],
    ['X-Empty', new Uint8Array(0)],
  ],
};

describe('http channel mailbox', () => {
  it('carries heads, chunks and ends unchanged, as copies the mailbox can be reused under', () => {
    const { writer, reader } = pair();
    const chunk: ChannelEvent = { id: 7, type: 'chunk', data: Uint8Array.from([1, 2, 3]) };
    const batch = [head, chunk, { id: 7, type: 'end' } as ChannelEvent];
    expect(writer.tryPut(0, batch)).toBe(true);
    const got = reader.take(0) as ChannelEvent[];
    expect(got).toEqual(batch);
    const gotChunk = got[1] as Extract<ChannelEvent, { type: 'chunk' }>;
    expect(gotChunk.data.buffer).not.toBeInstanceOf(SharedArrayBuffer);
    // the next batch overwrites the mailbox; what was taken stays as it was
    expect(writer.tryPut(1, [{ id: 8, type: 'chunk', data: Uint8Array.from([9, 9, 9]) }])).toBe(true);
    expect(reader.take(1)).toEqual([{ id: 8, type: 'chunk', data: Uint8Array.from([9, 9, 9]) }]);
    expect(Array.from(gotChunk.data)).toEqual([1, 2, 3]);
  });

  it('holds one batch: the next is refused until the reader takes it, and only by its number', () => {
    const { writer, reader } = pair();
    expect(writer.tryPut(0, [{ id: 1, type: 'end' }])).toBe(true);
    expect(writer.tryPut(1, [{ id: 2, type: 'end' }])).toBe(false);
    expect(reader.take(1)).toBeUndefined();
    expect(reader.take(0)).toEqual([{ id: 1, type: 'end' }]);
    expect(reader.take(0)).toBeUndefined();
    expect(writer.tryPut(1, [{ id: 2, type: 'end' }])).toBe(true);
  });

  it('refuses an error event and a batch larger than the mailbox, leaving it empty', () => {
    const { writer, reader } = pair();
    expect(writer.tryPut(0, [{ id: 1, type: 'error', code: { tag: 'connection-refused' } }])).toBe(false);
    const big: ChannelEvent = { id: 1, type: 'chunk', data: new Uint8Array(MAILBOX_BYTES) };
    expect(writer.tryPut(0, [big])).toBe(false);
    expect(reader.take(0)).toBeUndefined();
    const fits: ChannelEvent = { id: 1, type: 'chunk', data: new Uint8Array(MAILBOX_BYTES - 9) };
    expect(writer.tryPut(0, [fits])).toBe(true);
    // 5 bytes of id and kind, 4 of length: the chunk fills the mailbox exactly
    const [taken] = reader.take(0) ?? [];
    expect((taken as Extract<ChannelEvent, { type: 'chunk' }>).data.length).toBe(MAILBOX_BYTES - 9);
  });

  it('has no mailbox over a bare signal word, and wakes bump the word', () => {
    const words = new Int32Array(new SharedArrayBuffer(4));
    const writer = new ChannelWriter(words);
    expect(writer.tryPut(0, [{ id: 1, type: 'end' }])).toBe(false);
    expect(new ChannelReader(words.buffer as SharedArrayBuffer).take(0)).toBeUndefined();
    writer.wake();
    writer.wake();
    expect(Atomics.load(words, 0)).toBe(2);
  });
});
