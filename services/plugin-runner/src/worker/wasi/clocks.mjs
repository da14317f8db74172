// @ts-check
/** wasi:clocks: the real monotonic and wall clocks; a clock pollable is ready at its instant. */

import { INTERNAL } from './internal.mjs';
import { Pollable } from './io.mjs';

/** @typedef {import('./io.mjs').Waiter} Waiter */

/** @param {Waiter} waiter */
export function clocksImports(waiter) {
  /** @param {bigint} when @returns {Pollable} */
  const clockPollable = (when) => new Pollable(INTERNAL, waiter, () => process.hrtime.bigint() >= when, when);
  return {
    'wasi:clocks/monotonic-clock': {
      now: () => process.hrtime.bigint(),
      resolution: () => 1n,
      /** @param {bigint} when */
      subscribeInstant: (when) => clockPollable(when),
      /** @param {bigint} duration */
      subscribeDuration: (duration) => clockPollable(process.hrtime.bigint() + duration),
    },
    'wasi:clocks/wall-clock': {
      now: () => {
        const ns = BigInt(Date.now()) * 1_000_000n;
        return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
      },
      resolution: () => ({ seconds: 0n, nanoseconds: 1_000_000 }),
    },
  };
}
