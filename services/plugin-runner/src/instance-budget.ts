/**
 * The runner-wide budget of instances (worker threads), shared by all sources.
 *
 * A source asks for a slot when it has calls waiting and no idle instance. Below the budget it gets
 * one at once; at the budget an idle instance of another source is stopped to make room (the one
 * idle longest, preferring sources that keep more than one); failing that the source waits in a
 * round-robin line. When an instance finishes a call while others wait, it is handed over (stopped,
 * and its slot given to the first waiting source) if its own source has no more work, or has more
 * instances than that waiting source: so a busy source keeps at most about its share and cannot
 * starve the others, and sources with equal shares do not trade instances back and forth.
 */
export interface BudgetClient {
  /** instances of this source, running or starting */
  readonly instanceCount: number;
  /** has calls that no idle or starting instance will take, and is below its own cap */
  wantsInstance(): boolean;
  /** a slot was granted: start one instance now */
  grant(): void;
  /** when its longest-idle instance became idle, or undefined when none is idle */
  idleSince(): number | undefined;
  /** stops its longest-idle instance (the slot goes back to the budget's caller, not released) */
  evictIdle(): void;
}

export class InstanceBudget {
  /** slots in use: instances running or starting */
  private used = 0;
  private readonly waiting: BudgetClient[] = [];
  private readonly clients = new Set<BudgetClient>();
  /** instances stopped to make room for another source, and instances handed over after a call */
  evictions = 0;
  handovers = 0;

  constructor(readonly max: number) {}

  get inUse(): number {
    return this.used;
  }

  /** sources waiting for a slot, in the order they will be served */
  get waitingCount(): number {
    return this.waiting.length;
  }

  register(client: BudgetClient): void {
    this.clients.add(client);
  }

  unregister(client: BudgetClient): void {
    this.clients.delete(client);
    this.dropWaiter(client);
  }

  /**
   * A slot for `client`, now (true) or later through `grant()` (false: it is in the line).
   * With `wait: false` it never joins the line nor evicts (used to keep a source warm).
   */
  acquire(client: BudgetClient, opts: { wait: boolean } = { wait: true }): boolean {
    if (this.used < this.max) {
      this.used++;
      this.dropWaiter(client);
      return true;
    }
    if (!opts.wait) return false;
    const victim = this.idleVictim(client);
    if (victim) {
      victim.evictIdle();
      this.evictions++;
      this.dropWaiter(client);
      return true;
    }
    if (!this.waiting.includes(client)) this.waiting.push(client);
    return false;
  }

  /** A slot past the budget, for the first instance of a source being loaded. */
  force(client: BudgetClient): void {
    if (this.used >= this.max) {
      const victim = this.idleVictim(client);
      if (victim) {
        victim.evictIdle();
        this.evictions++;
        return;
      }
    }
    this.used++;
  }

  /** A slot is free again (an instance stopped). */
  release(): void {
    this.used--;
    this.serveLine();
  }

  /**
   * `client`'s instance has finished a call: the waiting source it should be handed to, if any
   * (removed from the line; the caller stops its instance and calls `handOver`).
   */
  handOverTo(client: BudgetClient, hasOwnWork: boolean): BudgetClient | undefined {
    if (this.waiting.length === 0) return undefined;
    for (let i = 0; i < this.waiting.length; i++) {
      const w = this.waiting[i] as BudgetClient;
      if (w === client || !w.wantsInstance()) continue;
      if (!hasOwnWork || w.instanceCount < client.instanceCount - 1 || w.instanceCount === 0) {
        this.waiting.splice(i, 1);
        return w;
      }
    }
    return undefined;
  }

  /** Gives the slot of a stopped instance to `to` without releasing it. */
  handOver(to: BudgetClient): void {
    this.handovers++;
    to.grant();
  }

  private serveLine(): void {
    while (this.used < this.max && this.waiting.length > 0) {
      const w = this.waiting.shift() as BudgetClient;
      if (!w.wantsInstance()) continue;
      this.used++;
      w.grant();
    }
    // the line's heads that no longer need a slot are dropped lazily
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (!(this.waiting[i] as BudgetClient).wantsInstance()) this.waiting.splice(i, 1);
    }
  }

  private dropWaiter(client: BudgetClient): void {
    const at = this.waiting.indexOf(client);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  /** The idle instance to stop for `client`: longest idle, sources with more than one first. */
  private idleVictim(client: BudgetClient): BudgetClient | undefined {
    let best: BudgetClient | undefined;
    let bestKey: [number, number] | undefined;
    for (const c of this.clients) {
      if (c === client) continue;
      const since = c.idleSince();
      if (since === undefined) continue;
      const key: [number, number] = [c.instanceCount > 1 ? 0 : 1, since];
      if (!bestKey || key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] < bestKey[1])) {
        best = c;
        bestKey = key;
      }
    }
    return best;
  }
}
