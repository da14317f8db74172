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
  it('forgets keys whose bucket is full again once there are many', async () => {
    const store = new MemoryRateLimitStore();
    const rule = { requestsPerSecond: 10, burst: 1 };
    for (let i = 0; i < 5000; i++) await store.reserve(`host-${i}`, rule, i, i);
    expect(store.size).toBeLessThan(5000);
  });
});
