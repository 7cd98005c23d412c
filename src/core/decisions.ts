/** Allocation decisions, as `explain` reports them, and the bounded log each buffer keeps. */

export interface Candidate {
  readonly allocator: string;
  readonly ranking: number;
  readonly verdict: 'allocated' | 'no-match' | 'declined' | 'rejected' | 'not-asked';
  readonly reason: string;
}

/** One allocation attempt, as `explain` reports it. */
export interface Decision {
  readonly time: number;
  /** What needed the memory: "map by vdec", "mmap by cpu", "attach of display (migration)". */
  readonly trigger: string;
  readonly devices: readonly string[];
  readonly secure: boolean;
  readonly outcome: 'allocated' | 'failed';
  readonly allocator?: string;
  readonly region?: string;
  readonly segments?: number;
  readonly candidates: readonly Candidate[];
  readonly error?: string;
  /** How long the allocators took to decide (and allocate), in microseconds. */
  readonly elapsedUs?: number;
}

/** Decisions `explain` keeps per buffer: the first and the latest ones. */
export const MAX_DECISIONS = 16;

/** Where the core records a decision. */
export interface DecisionSink {
  record(d: Decision): void;
}

const NONE: readonly Decision[] = Object.freeze([]);

/**
 * The decisions kept for one buffer: the first one and the latest ones, at most MAX_DECISIONS in
 * all (a client repeating a refused map cannot grow them without bound). No array until the first.
 */
export class DecisionLog implements DecisionSink {
  private list: Decision[] | null = null;
  private count = 0;

  record(d: Decision): void {
    this.count++;
    this.list ??= [];
    if (this.list.length >= MAX_DECISIONS) this.list.splice(1, 1);
    this.list.push(d);
  }

  get kept(): readonly Decision[] {
    return this.list ?? NONE;
  }

  /** How many were ever taken (some may have been dropped from `kept`). */
  get total(): number {
    return this.count;
  }
}
