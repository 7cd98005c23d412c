/**
 * smafd's scheduler: which connection's work runs next. Fair by time, not by turn: every lane (a
 * connection) accumulates the time its units of work took (`vtime`), and the runnable lane that has
 * had the least runs next, one unit (a request, or one slice of a sliced one). A lane that wakes
 * after being idle starts at the scheduler's clock less a small credit: it cannot bank time while
 * idle, and it runs before the lanes that keep smafd busy. So a client that sends one request while
 * sixteen others pipeline heavy work waits for the unit in progress, not for a unit of each of them.
 * A unit is charged the time it took, which may hold a garbage collection or a moment when the
 * machine gave smafd's CPU to another process: a waking lane's debt is forgiven down to MAX_DEBT_MS,
 * or a client whose one small request met a 5 ms pause would then wait for 5 ms of each busy lane.
 * A lane that stays busy keeps all its debt: fairness among busy lanes is unchanged.
 *
 * Lanes wait in a binary heap by vtime; a lane whose state changed (new work, answers drained) is
 * `wake`d; one found not runnable when its turn comes leaves the heap until it is woken again.
 */

/** What the scheduler serves. */
export interface Lane {
  /** Whether it has a unit of work that may run now (work queued, answers not backed up, open). */
  readonly runnable: boolean;
  /** Run one unit of work. */
  unit(): void;
}

/** Credit (ms of service) a waking lane gets below the clock: it runs before the busy lanes. */
const WAKE_CREDIT_MS = 1;
/** The most debt (ms of service beyond its credit) a lane keeps when it wakes. */
const MAX_DEBT_MS = 0.5;

interface Entry<L> {
  readonly lane: L;
  vtime: number;
  queued: boolean;
}

export class FairScheduler<L extends Lane> {
  private readonly entries = new Map<L, Entry<L>>();
  private readonly heap: Entry<L>[] = [];
  /** The vtime of the last unit started: where waking lanes join. */
  private clock = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * A new lane, `creditMs` below the clock: it runs before lanes that wake with the usual credit (a
   * lane added again, idle, starts there afresh; one still queued keeps its place).
   */
  add(lane: L, creditMs = 0): void {
    const e = this.entries.get(lane);
    if (!e) this.entries.set(lane, { lane, vtime: this.clock - creditMs, queued: false });
    // a lane added again while it waits for nothing starts afresh (the lane of departed clients)
    else if (creditMs > 0 && !e.queued) e.vtime = Math.min(e.vtime, this.clock - creditMs);
    this.wake(lane, Math.max(creditMs, WAKE_CREDIT_MS));
  }

  remove(lane: L): void {
    this.entries.delete(lane); // a heap entry left behind is dropped when it comes up
  }

  /** The lane may have work that can run now (a request came, its answers drained). */
  wake(lane: L, creditMs = WAKE_CREDIT_MS): void {
    const e = this.entries.get(lane);
    if (!e || e.queued || !lane.runnable) return;
    e.vtime = Math.min(Math.max(e.vtime, this.clock - creditMs), this.clock - creditMs + MAX_DEBT_MS);
    e.queued = true;
    this.push(e);
  }

  /** Lanes waiting in the heap: each at most once, however often it is woken. */
  get waiting(): number {
    return this.heap.length;
  }

  /**
   * Run units, least-served lane first, until `budgetMs` have passed or no lane can run. Returns
   * whether work remains.
   */
  run(budgetMs: number): boolean {
    const deadline = this.now() + budgetMs;
    while (this.heap.length > 0) {
      const e = this.pop();
      e.queued = false;
      if (this.entries.get(e.lane) !== e || !e.lane.runnable) continue;
      this.clock = Math.max(this.clock, e.vtime);
      const t0 = this.now();
      try {
        e.lane.unit();
      } finally {
        const t1 = this.now();
        e.vtime += t1 - t0;
        if (this.entries.get(e.lane) === e && e.lane.runnable) {
          e.queued = true;
          this.push(e);
        }
      }
      if (this.now() >= deadline) break;
    }
    return this.heap.length > 0;
  }

  private push(e: Entry<L>): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.vtime <= e.vtime) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = e;
  }

  private pop(): Entry<L> {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && h[l + 1]!.vtime < h[l]!.vtime ? l + 1 : l;
        if (h[c]!.vtime >= last.vtime) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
