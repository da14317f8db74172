import { describe, expect, it } from 'vitest';
import { rateLimitStoreContract } from './rate-limit.contract.js';
import { MemoryRateLimitStore } from './rate-limit.js';

// One process: stores opened under the same name are the same store.
const stores = new Map<string, MemoryRateLimitStore>();
rateLimitStoreContract('in memory', async (name) => {
  let store = stores.get(name);
  if (!store) {
    store = new MemoryRateLimitStore();
    stores.set(name, store);
  }
  return store;
});

describe('MemoryRateLimitStore', () => {
  it('forgets keys whose bucket is full again once there are many, and only those', async () => {
    const store = new MemoryRateLimitStore();
    // 10 per second, no burst: a key reserved at ms i has no free slot before i + 100
    const rule = { requestsPerSecond: 10, burst: 1 };
    for (let i = 0; i < 4096; i++) await store.reserve(`host-${i}`, rule, i, i);
    expect(store.size).toBe(4096);
    // the 4097th key sweeps at now = 4096: keys 0..3996 are full again, 3997..4096 are not
    await store.reserve('host-4096', rule, 4096, 4096);
    expect(store.size).toBe(100);
    // a kept key still waits for its slot (a refusal changes nothing)
    expect(await store.reserve('host-4000', rule, 4096, 4096)).toEqual({ ok: false, retryAt: 4100 });
    for (let i = 4097; i < 5000; i++) await store.reserve(`host-${i}`, rule, i, i);
    expect(store.size).toBe(100 + 903);
    expect(await store.reserve('host-4999', rule, 5000, 5000)).toEqual({ ok: false, retryAt: 5099 });
    // a swept key had a full bucket: it gets its slot at once, as if it had been kept
    expect(await store.reserve('host-0', rule, 5000, 5000)).toEqual({ ok: true, startAt: 5000 });
  });
});
