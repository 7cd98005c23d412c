/**
 * The daemon's journal: the platform's events, each annotated with what an operator needs to see
 * a buffer's whole life after it is gone: which client caused it, which region and allocator hold
 * the buffer, who created it, how long the allocators took, and a microsecond timestamp. Bounded
 * (a ring), filtered and paged here, on the daemon, over everything it keeps.
 */
import type { Decision, Smaf } from '../core/index.ts';
import type { EventLog, SmafEvent } from '../platform/index.ts';
import type { EventPage, EventQuery } from '../uapi/index.ts';
import type { JournalEvent } from '../uapi/replies.ts';
// the wire types live in uapi (the client reads them without importing the daemon)
export type { JournalEvent } from '../uapi/replies.ts';

/**
 * A journal event: the platform event with its facts, one shape for every event (fast to build);
 * its text is the platform event's, written at first read.
 */
class JournalEntry implements JournalEvent {
  readonly seq: number;
  readonly time: number;
  readonly kind: SmafEvent['kind'];
  readonly actor: string;
  readonly buffer: number | undefined;
  readonly addr: number | undefined;
  readonly length: number | undefined;
  readonly durationUs: number | undefined;
  readonly client: number | undefined;
  readonly clientLabel: string | undefined;
  readonly owner: number | undefined;
  readonly ownerLabel: string | undefined;
  readonly size: number | undefined;
  readonly region: string | undefined;
  readonly allocator: string | undefined;
  readonly secure: boolean | undefined;
  readonly tee: SmafEvent['tee'];

  /** allocate / allocate-failed / migrate: the decision taken (kept for `explain` after the buffer is gone; not sent). */
  decision: Decision | undefined;
  private jsonText: string | undefined;

  constructor(private readonly source: SmafEvent, readonly us: number, actor: Actor | null, facts: BufferFacts | undefined, readonly latencyUs: number | undefined) {
    this.seq = source.seq;
    this.time = source.time;
    this.kind = source.kind;
    this.actor = source.actor;
    this.buffer = source.buffer;
    this.addr = source.addr;
    this.length = source.length;
    this.durationUs = source.durationUs;
    this.client = actor?.id;
    this.clientLabel = actor?.label;
    this.owner = facts?.owner?.id;
    this.ownerLabel = facts?.owner?.label;
    this.size = facts?.size;
    this.region = facts?.region;
    this.allocator = facts?.region !== undefined ? facts.allocator : undefined;
    this.secure = facts?.secure;
    this.tee = source.tee;
  }

  get message(): string {
    return this.source.message;
  }

  /**
   * Its JSON text, written at first need and kept: an event never changes once recorded, and a
   * full journal is sent again and again (every X_EVENTS page over it built 1,000 objects and
   * their text anew).
   */
  get json(): string {
    return (this.jsonText ??= JSON.stringify(this));
  }

  /** The plain event, as X_EVENTS and the dashboard send it (absent fields left out). */
  toJSON(): JournalEvent {
    const out: Mutable<JournalEvent> = { seq: this.seq, time: this.time, kind: this.kind, actor: this.actor, message: this.message, us: this.us };
    if (this.buffer !== undefined) out.buffer = this.buffer;
    if (this.addr !== undefined) out.addr = this.addr;
    if (this.length !== undefined) out.length = this.length;
    if (this.durationUs !== undefined) out.durationUs = this.durationUs;
    if (this.client !== undefined) [out.client, out.clientLabel] = [this.client, this.clientLabel];
    if (this.owner !== undefined) [out.owner, out.ownerLabel] = [this.owner, this.ownerLabel];
    if (this.size !== undefined) out.size = this.size;
    if (this.region !== undefined) [out.region, out.allocator] = [this.region, this.allocator];
    if (this.secure !== undefined) out.secure = this.secure;
    if (this.latencyUs !== undefined) out.latencyUs = this.latencyUs;
    if (this.tee !== undefined) out.tee = this.tee;
    return out;
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** JSON.stringify(page), exactly, with each journal event's text written once (JournalEntry.json). */
export function eventPageJson(page: EventPage<JournalEvent>): string {
  const events = page.events.map((e) => (e instanceof JournalEntry ? e.json : JSON.stringify(e))).join(',');
  return `{"events":[${events}],"matched":${JSON.stringify(page.matched)},"more":${JSON.stringify(page.more)},"next":${JSON.stringify(page.next)},"oldest":${JSON.stringify(page.oldest)}}`;
}

/** Who is acting while the daemon handles a request. */
export interface Actor {
  readonly id: number;
  readonly label: string;
}

interface BufferFacts {
  owner?: Actor;
  size?: number;
  region?: string;
  allocator?: string;
  secure?: boolean;
}

/** Events kept: a full trace of them stays well under the 16 MiB frame limit. */
const JOURNAL_CAPACITY = 10_000;

/** Events a sliced query looks at before it lets other clients in. */
export const QUERY_SLICE = 1000;

export class EventJournal {
  private readonly ring: JournalEvent[] = [];
  private start = 0;
  private readonly facts = new Map<number, BufferFacts>();
  private readonly listeners = new Set<(e: JournalEvent) => void>();
  private acting: Actor | null = null;
  /** performance.now() and the epoch in µs at the same instant: a monotonic clock in epoch µs. */
  private readonly originUs = Date.now() * 1000 - performance.now() * 1000;
  readonly unsubscribe: () => void;

  constructor(private readonly smaf: Smaf, events: EventLog, private readonly capacity = JOURNAL_CAPACITY) {
    this.unsubscribe = events.subscribe((e) => this.record(e));
  }

  /** Run `fn` on behalf of a client: events it causes carry its id and label. */
  actAs<T>(actor: Actor, fn: () => T): T {
    const previous = this.acting;
    this.acting = actor;
    try {
      return fn();
    } finally {
      this.acting = previous;
    }
  }

  nowUs(): number {
    return Math.round(this.originUs + performance.now() * 1000);
  }

  private record(e: SmafEvent): void {
    const actor = this.acting;
    let facts: BufferFacts | undefined;
    let latencyUs: number | undefined;
    let decision: Decision | undefined;
    if (e.buffer !== undefined) {
      facts = this.facts.get(e.buffer);
      if (!facts) this.facts.set(e.buffer, (facts = {}));
      const live = this.live(e.buffer);
      if (e.kind === 'create') {
        if (actor) facts.owner = actor;
        facts.size = e.length;
      }
      if (live) {
        facts.secure = live.secure;
        if (e.kind === 'allocate' || e.kind === 'allocate-failed' || e.kind === 'migrate') {
          const d = live.decisions.at(-1);
          decision = d;
          latencyUs = d?.elapsedUs;
          if (d?.outcome === 'allocated') {
            facts.region = d.region;
            facts.allocator = d.allocator;
          }
        }
      }
    }
    const event = new JournalEntry(e, this.nowUs(), actor, facts, latencyUs);
    event.decision = decision;
    if (e.kind === 'release' && e.buffer !== undefined) this.facts.delete(e.buffer);
    if (this.ring.length < this.capacity) this.ring.push(event);
    else {
      this.ring[this.start] = event;
      this.start = (this.start + 1) % this.capacity;
    }
    for (const l of this.listeners) l(event);
  }

  /** The buffer while it lives (undefined once released). */
  private live(id: number): ReturnType<Smaf['buffer']> | undefined {
    return this.smaf.find(id);
  }

  /** Every event kept, oldest first. */
  all(): JournalEvent[] {
    return this.start === 0 ? [...this.ring] : [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)];
  }

  /** How many events the journal keeps. */
  get capacityEvents(): number {
    return this.capacity;
  }

  get oldest(): number {
    return this.ring[this.start]?.seq ?? 0;
  }

  get lastSeq(): number {
    return this.ring.length ? this.ring[(this.start + this.ring.length - 1) % this.ring.length]!.seq : 0;
  }

  /** The events matching a query (and `may`, when given: what the asker may see), paged, at once. */
  query(q: EventQuery, may?: (e: JournalEvent) => boolean): EventPage<JournalEvent> {
    const steps = this.querySteps(q, may);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  }

  /**
   * The same, in slices: it yields after every QUERY_SLICE events it looked at, so that a query over
   * a full journal never holds other clients up for long. Events recorded between slices are seen;
   * events dropped from the ring between slices are skipped (the cursor is a sequence number).
   */
  *querySteps(q: EventQuery, may?: (e: JournalEvent) => boolean): Generator<void, EventPage<JournalEvent>> {
    const found: JournalEvent[] = [];
    let matched = 0;
    let cursor = q.after;
    for (;;) {
      let i = this.indexAfter(cursor);
      const end = Math.min(this.ring.length, i + QUERY_SLICE);
      for (; i < end; i++) {
        const e = this.at(i);
        cursor = e.seq;
        if ((may !== undefined && !may(e)) || (q.since !== 0 && e.time < q.since) || (q.kinds.length !== 0 && !q.kinds.includes(e.kind))
          || (q.client !== 0 && e.client !== q.client) || (q.buffer !== 0 && e.buffer !== q.buffer)) continue;
        matched++;
        if (q.newest || found.length < q.limit) found.push(e);
        if (q.newest && found.length >= 2 * q.limit) found.splice(0, found.length - q.limit);
      }
      if (i >= this.ring.length) break;
      yield;
    }
    const events = q.newest ? found.slice(-q.limit) : found;
    return { events, matched, more: !q.newest && matched > q.limit, next: events.at(-1)?.seq ?? q.after, oldest: this.oldest };
  }

  /** The i-th oldest event kept. */
  private at(i: number): JournalEvent {
    return this.ring[(this.start + i) % this.ring.length]!;
  }

  /** The position (0 = oldest) of the first event kept whose sequence number is above `seq`. */
  private indexAfter(seq: number): number {
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A buffer's events still kept (oldest first), with the allocation decisions taken for it. */
  storyOf(bufferId: number): { events: JournalEvent[]; decisions: Decision[] } {
    const events = this.all().filter((e) => e.buffer === bufferId);
    const decisions = events.flatMap((e) => (e instanceof JournalEntry && e.decision ? [e.decision] : []));
    return { events, decisions };
  }

  subscribe(listener: (e: JournalEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
