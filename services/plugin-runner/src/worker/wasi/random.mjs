// @ts-check
/**
 * wasi:random: real random bytes for random, insecure and insecure-seed alike (the insecure ones are
 * what toolchains' standard libraries seed hash maps with).
 */

import { randomBytes } from 'node:crypto';
import { trap } from './internal.mjs';

/** Largest random buffer one call may request. */
const MAX_RANDOM_BYTES = 1024 * 1024;

/** @param {bigint} len */
function random(len) {
  const n = Number(len);
  if (n > MAX_RANDOM_BYTES) throw trap(`random bytes request of ${n} bytes is over ${MAX_RANDOM_BYTES}`);
  return new Uint8Array(randomBytes(n));
}
function randomU64() {
  return randomBytes(8).readBigUInt64LE(0);
}

export function randomImports() {
  return {
    'wasi:random/random': { getRandomBytes: random, getRandomU64: randomU64 },
    'wasi:random/insecure': { getInsecureRandomBytes: random, getInsecureRandomU64: randomU64 },
    'wasi:random/insecure-seed': { insecureSeed: () => [randomU64(), randomU64()] },
  };
}
