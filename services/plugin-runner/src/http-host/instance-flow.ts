import type http from 'node:http';
import { type FlowWords, MAX_UNREAD_RESPONSE_BYTES } from '../worker/http-channel.mjs';

/**
 * One instance's share of the host's HTTP memory: response body bytes handed to it that its guest
 * has not read or dropped (counted against MAX_UNREAD_RESPONSE_BYTES: at the cap its response
 * streams are paused, so Node stops reading their sockets, until the guest has given up half), and
 * its request bodies, reported to the worker once written out or dropped (it counts them against
 * MAX_UNSENT_REQUEST_BYTES until then).
 */
export class InstanceFlow {
  /** response body bytes emitted to the worker, a running total compared with its RELEASED (mod 2^32) */
  private emitted = 0;
  private readonly streams = new Set<http.IncomingMessage>();
  /** this instance's responses are paused */
  heldBack = false;
  /** times its responses were paused */
  holds = 0;

  constructor(
    private readonly words: FlowWords,
    readonly maxUnread: number = MAX_UNREAD_RESPONSE_BYTES,
  ) {}

  /** Response body bytes handed to the instance that its guest has not read or dropped. */
  get unread(): number {
    return (this.emitted - this.words.released()) | 0;
  }

  /** Body bytes on their way to the instance. */
  chunkEmitted(bytes: number): void {
    this.emitted = (this.emitted + bytes) | 0;
    if (!this.heldBack && this.unread > this.maxUnread) this.holdBack();
  }

  private holdBack(): void {
    // the worker asks for more once the guest has given up half of the cap
    if (!this.words.holdBack(this.emitted - this.maxUnread / 2)) return;
    this.heldBack = true;
    this.holds++;
    for (const res of this.streams) res.pause();
  }

  /** The worker says its guest has read or dropped enough. */
  resume(): void {
    if (!this.heldBack) return;
    this.heldBack = false;
    if (this.unread > this.maxUnread) {
      this.holdBack();
      return;
    }
    for (const res of this.streams) res.resume();
  }

  /** A response of this instance whose body is on its way. */
  track(res: http.IncomingMessage): void {
    this.streams.add(res);
    if (this.heldBack) res.pause();
  }

  untrack(res: http.IncomingMessage): void {
    this.streams.delete(res);
  }

  bodyDone(bytes: number): void {
    this.words.bodyDone(bytes);
  }

  requestFinished(): void {
    this.words.requestFinished();
  }
}
