/**
 * The runner-wide budget of instances (worker threads), shared by all sources: a number of slots
 * and a number of bytes. Every instance running or starting holds one slot and its source's
 * `instanceBytes` (its memory maximum plus a fixed host overhead), so the sum of what all instances
 * may grow to fits the operator's memory budget.
 *
 * A source asks for a slot when it has calls waiting and no idle instance. When slots and bytes
 * are free it gets one at once; otherwise idle instances (of other sources, longest idle first,
 * sources that keep more than one before a source's last warm one) are stopped, as many as it
 * takes and only when that is enough; failing that the source waits in a round-robin line, served
 * in order. When an instance finishes a call while others wait, it is handed over (stopped, and its
 * slot given to the first waiting source) if its own source has no more work, or has more
 * instances than that waiting source: so a busy source keeps at most about its share and cannot
 * starve the others, and sources with equal shares do not trade instances back and forth. When
 * the waiting source needs more memory than that one instance gives back, the instance is stopped
 * anyway and the line's first source gets the memory once enough has come back.
 */
export interface BudgetClient {
  /** instances of this source, running or starting */
  readonly instanceCount: number;
  /** what one instance of this source counts against the memory budget */
  readonly instanceBytes: number;
  /** waits for its first instance at load, which may go past the slot count (never past the bytes) */
  readonly loading: boolean;
  /** has calls that no idle or starting instance will take (or is loading), and is below its own cap */
  wantsInstance(): boolean;
  /** a slot was granted: start one instance now */
  grant(): void;
  /** when each of its idle instances became idle, longest idle first */
  idleTimes(): readonly number[];
  /** stops its longest-idle instance (the budget accounts for it; its slot is not released) */
  evictIdle(): void;
}

/** What to do with an instance that has just finished a call (see InstanceBudget.afterCall). */
export type AfterCall = { handOver: BudgetClient } | 'release' | undefined;

export class InstanceBudget {
  /** slots in use: instances running or starting */
  private used = 0;
  /** bytes in use: the instanceBytes of every instance running or starting */
  private bytes = 0;
  private readonly waiting: BudgetClient[] = [];
  private readonly clients = new Set<BudgetClient>();
  /** instances stopped to make room for another source, and instances handed over after a call */
  evictions = 0;
  handovers = 0;

  constructor(
    readonly max: number,
    readonly maxBytes: number,
  ) {}

  get inUse(): number {
    return this.used;
  }

  get bytesInUse(): number {
    return this.bytes;
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
    // what it waited for may fit the next one in line
    this.serveLine();
  }

  /**
   * A slot for `client`, now (true) or later through `grant()` (false: it is in the line).
   * A source behind others in the line waits for its turn. With `wait: false` it never joins the
   * line nor evicts (used to keep a source warm).
   */
  acquire(client: BudgetClient, opts: { wait: boolean } = { wait: true }): boolean {
    if (this.othersAhead(client)) {
      if (opts.wait && !this.waiting.includes(client)) this.waiting.push(client);
      return false;
    }
    const victims = opts.wait ? this.makeRoomFor(client) : this.fits(client, 0, 0) ? [] : undefined;
    if (victims) {
      this.evict(victims);
      this.take(client);
      this.dropWaiter(client);
      return true;
    }
    if (opts.wait && !this.waiting.includes(client)) this.waiting.push(client);
    return false;
  }

  /**
   * The first instance of a source being loaded: past the slot count if need be (a load does not
   * wait for a slot), within the bytes. True when it may start now, else it is in the line and
   * gets `grant()` once the bytes are there.
   */
  acquireFirst(client: BudgetClient): boolean {
    const victims = this.makeRoomFor(client);
    if (victims) {
      this.evict(victims);
      this.take(client);
      return true;
    }
    if (!this.waiting.includes(client)) this.waiting.push(client);
    return false;
  }

  /** An instance of `client` stopped: its slot and bytes are free again. */
  release(client: BudgetClient): void {
    this.used--;
    this.bytes -= client.instanceBytes;
    this.serveLine();
  }

  /** An instance became idle: the line's first source may take its place. */
  instanceIdle(): void {
    if (this.waiting.length > 0) this.serveLine();
  }

  /**
   * `client`'s instance has finished a call. `{ handOver }`: stop it and give its slot to that
   * waiting source (removed from the line) with `handOver`; 'release': stop it and release it, the
   * line's first source needs more memory than it alone gives back; undefined: keep it.
   */
  afterCall(client: BudgetClient, hasOwnWork: boolean): AfterCall {
    let first = true;
    for (let i = 0; i < this.waiting.length; i++) {
      const w = this.waiting[i] as BudgetClient;
      if (w === client || !w.wantsInstance()) continue;
      const head = first;
      first = false;
      if (hasOwnWork && w.instanceCount >= client.instanceCount - 1 && w.instanceCount !== 0) continue;
      if (this.bytes - client.instanceBytes + w.instanceBytes <= this.maxBytes) {
        this.waiting.splice(i, 1);
        return { handOver: w };
      }
      if (head) return 'release';
    }
    return undefined;
  }

  /** Gives the slot of `from`'s stopped instance to `to` without releasing it. */
  handOver(from: BudgetClient, to: BudgetClient): void {
    this.handovers++;
    this.bytes += to.instanceBytes - from.instanceBytes;
    to.grant();
  }

  private take(client: BudgetClient): void {
    this.used++;
    this.bytes += client.instanceBytes;
  }

  private fits(client: BudgetClient, slotsFreed: number, bytesFreed: number): boolean {
    const slotOk = client.loading || this.used - slotsFreed < this.max;
    return slotOk && this.bytes - bytesFreed + client.instanceBytes <= this.maxBytes;
  }

  /** Whether a source other than `client` waits in the line ahead of it and still wants a slot. */
  private othersAhead(client: BudgetClient): boolean {
    for (const w of this.waiting) {
      if (w === client) return false;
      if (w.wantsInstance()) return true;
    }
    return false;
  }

  private serveLine(): void {
    while (this.waiting.length > 0) {
      const w = this.waiting[0] as BudgetClient;
      if (!w.wantsInstance()) {
        this.waiting.shift();
        continue;
      }
      // in order: a source that needs more memory than is free holds the ones behind it back
      const victims = this.makeRoomFor(w);
      if (!victims) break;
      this.waiting.shift();
      this.evict(victims);
      this.take(w);
      w.grant();
    }
    // the line's entries that no longer need a slot are dropped lazily
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (!(this.waiting[i] as BudgetClient).wantsInstance()) this.waiting.splice(i, 1);
    }
  }

  private dropWaiter(client: BudgetClient): void {
    const at = this.waiting.indexOf(client);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  private evict(victims: BudgetClient[]): void {
    for (const victim of victims) {
      victim.evictIdle();
      this.used--;
      this.bytes -= victim.instanceBytes;
      this.evictions++;
    }
  }

  /**
   * The idle instances to stop so that one instance of `client` fits (by their sources, one entry
   * per instance, in the order to stop them), [] when it fits already, undefined when stopping
   * every idle instance of the other sources would not be enough (then none is stopped).
   * Longest idle first, a source's last instance after every instance of sources that keep others.
   */
  private makeRoomFor(client: BudgetClient): BudgetClient[] | undefined {
    if (this.fits(client, 0, 0)) return [];
    const candidates: Array<{ client: BudgetClient; last: boolean; since: number }> = [];
    for (const c of this.clients) {
      if (c === client) continue;
      const times = c.idleTimes();
      for (let j = 0; j < times.length; j++) {
        candidates.push({ client: c, last: c.instanceCount - j === 1, since: times[j] as number });
      }
    }
    if (candidates.length === 0) return undefined;
    // within one source this keeps its own order (longest idle first, its last instance last)
    candidates.sort((a, b) => Number(a.last) - Number(b.last) || a.since - b.since);
    const victims: BudgetClient[] = [];
    let bytesFreed = 0;
    for (const c of candidates) {
      victims.push(c.client);
      bytesFreed += c.client.instanceBytes;
      if (this.fits(client, victims.length, bytesFreed)) return victims;
    }
    return undefined;
  }
}
