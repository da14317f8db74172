import { describe, expect, it } from 'vitest';
import type { RateLimitStore } from './rate-limit.js';

/** A store as a runner holds it; `close` ends a connection where there is one. */
export type ContractStore = RateLimitStore & { close?(): Promise<void> };

/**
 * Behaviour every RateLimitStore must have. `open(name)` returns a store over the same bucket state
 * each time it is called with the same `name` (for a shared store: a new connection each time, as
 * another runner would have), and over state of its own for another name.
 */
export function rateLimitStoreContract(implementation: string, open: (name: string) => Promise<ContractStore>): void {
  describe(`RateLimitStore contract: ${implementation}`, () => {
    it('grants a burst, then one slot per interval; a refusal changes nothing', async () => {
      const store = await open('burst');
      const rule = { requestsPerSecond: 2, burst: 2 };
      const t = 10_000;
      const starts = [];
      for (let i = 0; i < 4; i++) starts.push(await store.reserve('k', rule, t, t + 10_000));
      expect(starts).toEqual([
        { ok: true, startAt: t },
        { ok: true, startAt: t },
        { ok: true, startAt: t + 500 },
        { ok: true, startAt: t + 1000 },
      ]);
      expect(await store.reserve('k', rule, t, t + 1000)).toEqual({ ok: false, retryAt: t + 1500 });
      expect(await store.reserve('k', rule, t, t + 1500)).toEqual({ ok: true, startAt: t + 1500 });
      // other keys are independent
      expect(await store.reserve('other', rule, t, t)).toEqual({ ok: true, startAt: t });
      await store.close?.();
    });

    it('refills the bucket as time passes', async () => {
      const store = await open('refill');
      const rule = { requestsPerSecond: 1, burst: 2 };
      const t = 1_700_000_000_000;
      expect((await store.reserve('k', rule, t, t)).ok).toBe(true);
      expect((await store.reserve('k', rule, t, t)).ok).toBe(true);
      expect(await store.reserve('k', rule, t, t)).toEqual({ ok: false, retryAt: t + 1000 });
      // one interval later one slot is back, after a long idle the whole burst
      expect(await store.reserve('k', rule, t + 1000, t + 1000)).toEqual({ ok: true, startAt: t + 1000 });
      expect((await store.reserve('k', rule, t + 1000, t + 1000)).ok).toBe(false);
      const later = t + 60_000;
      expect(await store.reserve('k', rule, later, later)).toEqual({ ok: true, startAt: later });
      expect(await store.reserve('k', rule, later, later)).toEqual({ ok: true, startAt: later });
      expect((await store.reserve('k', rule, later, later)).ok).toBe(false);
      await store.close?.();
    });

    it('gives exact times for fractional intervals', async () => {
      const store = await open('fractional');
      const rule = { requestsPerSecond: 3, burst: 1 };
      const t = 1_700_000_000_123;
      const interval = 1000 / 3;
      let tat = t;
      for (let i = 0; i < 5; i++) {
        expect(await store.reserve('k', rule, t, t + 10_000)).toEqual({ ok: true, startAt: tat });
        tat += interval;
      }
      expect(await store.reserve('k', rule, t, t)).toEqual({ ok: false, retryAt: tat });
      await store.close?.();
    });

    it('holds a key until a time, then resumes at the steady rate without a burst', async () => {
      const store = await open('hold');
      const rule = { requestsPerSecond: 1, burst: 3 };
      await store.holdUntil('k', rule, 5_000, 1_000);
      expect(await store.reserve('k', rule, 1_000, 4_999)).toEqual({ ok: false, retryAt: 5_000 });
      expect(await store.reserve('k', rule, 1_000, 60_000)).toEqual({ ok: true, startAt: 5_000 });
      expect(await store.reserve('k', rule, 1_000, 60_000)).toEqual({ ok: true, startAt: 6_000 });
      await store.close?.();
    });

    it('never brings a later slot forward with a shorter hold', async () => {
      const store = await open('hold-shorter');
      const rule = { requestsPerSecond: 1, burst: 1 };
      await store.holdUntil('k', rule, 9_000, 1_000);
      await store.holdUntil('k', rule, 2_000, 1_000);
      expect(await store.reserve('k', rule, 1_000, 60_000)).toEqual({ ok: true, startAt: 9_000 });
      // a hold that is already over leaves a fresh key free
      await store.holdUntil('fresh', rule, 500, 1_000);
      expect(await store.reserve('fresh', rule, 1_000, 1_000)).toEqual({ ok: true, startAt: 1_000 });
      await store.close?.();
    });

    it('admits exactly the burst between two stores on the same state under concurrent reservations', async () => {
      const [a, b] = [await open('shared'), await open('shared')];
      const rule = { requestsPerSecond: 0.5, burst: 5 };
      const t = 1_700_000_000_000;
      const round = (latestStart: number) =>
        Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).reserve('k', rule, t, latestStart)));
      const admitted = (rs: Array<{ ok: boolean }>) => rs.filter((r) => r.ok).length;
      // only the burst starts at once...
      expect(admitted(await round(t))).toBe(5);
      // ...then one slot per 2 s interval: three more by t + 6 s
      expect(admitted(await round(t + 6_000))).toBe(3);
      // a hold through either store stops both
      await b.holdUntil('k', rule, t + 60_000, t);
      expect(admitted(await round(t + 59_999))).toBe(0);
      await a.close?.();
      await b.close?.();
    });
  });
}
