import { describe, expect, it } from 'vitest';
import { type BudgetClient, InstanceBudget } from './instance-budget.js';

const MIB = 1024 * 1024;

/** A source as the budget sees it: instances it runs, idle ones (idleAt times), calls it wants to run. */
class FakeSource implements BudgetClient {
  idle: number[] = [];
  busy = 0;
  wanted = 0;
  loading = false;
  granted = 0;
  evicted = 0;
  constructor(
    readonly name: string,
    readonly instanceBytes: number,
    private readonly budget: InstanceBudget,
  ) {
    budget.register(this);
  }
  get instanceCount(): number {
    return this.idle.length + this.busy;
  }
  wantsInstance(): boolean {
    return this.wanted > 0;
  }
  grant(): void {
    this.granted++;
    this.wanted--;
    this.busy++;
  }
  idleTimes(): number[] {
    return [...this.idle];
  }
  evictIdle(): void {
    this.idle.shift();
    this.evicted++;
  }
  /** asks for one more instance for a call; true when it got one at once */
  ask(): boolean {
    this.wanted++;
    if (!this.budget.acquire(this)) return false;
    this.grant();
    this.granted--;
    return true;
  }
  /** a busy instance goes idle at `at` */
  rest(at: number): void {
    this.busy--;
    this.idle.push(at);
    this.budget.instanceIdle();
  }
  /** a busy instance stops */
  stop(): void {
    this.busy--;
    this.budget.release(this);
  }
}

describe('InstanceBudget memory', () => {
  it('never lets the instances memory maxima exceed the budget, evicting the longest idle first', () => {
    const budget = new InstanceBudget(16, 600 * MIB);
    const sources = Array.from({ length: 7 }, (_, i) => new FakeSource(`s${i}`, 264 * MIB, budget));
    let clock = 0;
    for (const s of sources) {
      expect(s.ask()).toBe(true);
      expect(budget.bytesInUse).toBeLessThanOrEqual(budget.maxBytes);
      s.rest(clock++);
    }
    // two fit; each new one gave back the instance idle longest (the others' last warm ones)
    expect(budget.inUse).toBe(2);
    expect(budget.evictions).toBe(5);
    expect(sources.slice(0, 5).every((s) => s.evicted === 1 && s.instanceCount === 0)).toBe(true);
    expect(sources[5]?.instanceCount).toBe(1);
  });

  it('makes a source wait in line when busy instances hold the memory, and serves it in order', () => {
    const budget = new InstanceBudget(16, 600 * MIB);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => new FakeSource(n, 264 * MIB, budget)) as [
      FakeSource,
      FakeSource,
      FakeSource,
    ];
    expect(a.ask()).toBe(true);
    expect(b.ask()).toBe(true);
    expect(c.ask()).toBe(false);
    expect(budget.waitingCount).toBe(1);
    expect(budget.bytesInUse).toBe(528 * MIB);
    a.stop();
    expect(c.granted).toBe(1);
    expect(budget.bytesInUse).toBe(528 * MIB);
  });

  it('stops several small idle instances to fit one big one, and none when that would not be enough', () => {
    const budget = new InstanceBudget(16, 100 * MIB);
    const small = new FakeSource('small', 30 * MIB, budget);
    small.ask();
    small.ask();
    small.ask();
    small.rest(1);
    small.rest(2);
    const big = new FakeSource('big', 90 * MIB, budget);
    // idle ones free 60 MiB, 10 are free: 70 < 90, nothing is stopped
    expect(big.ask()).toBe(false);
    expect(small.evicted).toBe(0);
    // the busy one goes idle too: stopping all three is enough
    small.rest(3);
    expect(big.granted).toBe(1);
    expect(small.evicted).toBe(3);
    expect(budget.bytesInUse).toBe(90 * MIB);
  });

  it('stops an instance after a call when the line head needs more memory than a handover gives', () => {
    const budget = new InstanceBudget(16, 100 * MIB);
    const small = new FakeSource('small', 40 * MIB, budget);
    small.ask();
    small.ask();
    const big = new FakeSource('big', 90 * MIB, budget);
    expect(big.ask()).toBe(false);
    expect(budget.afterCall(small, true)).toBe('release');
    small.stop();
    expect(big.granted).toBe(0);
    // the last one is enough once stopped: handed over
    expect(budget.afterCall(small, true)).toEqual({ handOver: big });
    small.busy--;
    budget.handOver(small, big);
    expect(big.granted).toBe(1);
    expect(budget.bytesInUse).toBe(90 * MIB);
  });
});
