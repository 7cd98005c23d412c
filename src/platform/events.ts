/**
 * The platform's event log: allocations, grants, revocations and denials, newest last, bounded.
 * The CLI, the dashboard and the tests read this same log.
 */

export type EventKind =
  | 'create' | 'allocate' | 'allocate-failed' | 'release' | 'migrate'
  | 'attach' | 'detach' | 'map' | 'unmap' | 'cpu-access'
  | 'grant' | 'revoke' | 'denial' | 'tee' | 'iommu-fault' | 'name' | 'internal-error' | 'dma';

export interface SmafEvent {
  readonly seq: number;
  readonly time: number;
  readonly kind: EventKind;
  /** Who acted: a device name, "cpu", "tee", or an allocator. */
  readonly actor: string;
  readonly buffer?: number;
  readonly addr?: number;
  readonly length?: number;
  /** A `dma` event: how long the device's transfer took, from its first byte to its last, in microseconds. */
  readonly durationUs?: number;
  readonly message: string;
  /** A TEE event's facts (kind `tee`: sessions, shared memory and TA invocations of clients). */
  readonly tee?: TeeEventDetail;
}

export interface TeeEventDetail {
  readonly what: 'open-session' | 'close-session' | 'invoke' | 'shm-register' | 'shm-release';
  /** The TA (its UUID and name), for sessions and invocations. */
  readonly uuid?: string;
  readonly ta?: string;
  /** The client's session and shared memory ids. */
  readonly session?: number;
  readonly shm?: number;
  readonly command?: number;
  /** TEEC_* return code and TEEC_ORIGIN_* of an open or an invocation. */
  readonly result?: number;
  readonly origin?: number;
  /** How long the TA took, in microseconds. */
  readonly durationUs?: number;
}

/** Text written when first read: a module-level function and the values it needs. */
class LazyText<A> {
  constructor(private readonly write: (arg: A) => string, private readonly arg: A) {}

  render(): string {
    return this.write(this.arg);
  }
}

/**
 * An event's text, or a LazyText: hot paths (create, map, release...) pass the values the text
 * needs, so it is written only when someone reads it, and reads the same whenever that is (the
 * values are copied at the event, never read later from objects that change).
 */
export type EventText = string | { render(): string };

/** A LazyText (no closure: hot paths create one per event). */
export function lazyText<A>(write: (arg: A) => string, arg: A): EventText {
  return new LazyText(write, arg);
}

export interface EventInput extends Omit<SmafEvent, 'seq' | 'time' | 'message'> {
  readonly message: EventText;
}

/** A logged event: one shape for every kind (fast to build), its text written at first read. */
class LoggedEvent implements SmafEvent {
  readonly kind: EventKind;
  readonly actor: string;
  readonly buffer: number | undefined;
  readonly addr: number | undefined;
  readonly length: number | undefined;
  readonly durationUs: number | undefined;
  readonly tee: TeeEventDetail | undefined;
  private text: EventText;

  constructor(readonly seq: number, readonly time: number, e: EventInput) {
    this.kind = e.kind;
    this.actor = e.actor;
    this.buffer = e.buffer;
    this.addr = e.addr;
    this.length = e.length;
    this.durationUs = e.durationUs;
    this.tee = e.tee;
    this.text = e.message;
  }

  get message(): string {
    if (typeof this.text !== 'string') this.text = this.text.render();
    return this.text;
  }

  /** The plain event, as JSON shows it (absent fields left out). */
  toJSON(): SmafEvent {
    return eventFields(this);
  }
}

/** A plain copy of an event's fields, leaving out the absent ones (for JSON: no spreads, it runs per event). */
function eventFields(e: SmafEvent): SmafEvent {
  const out: { -readonly [K in keyof SmafEvent]: SmafEvent[K] } = { seq: e.seq, time: e.time, kind: e.kind, actor: e.actor, message: e.message };
  if (e.buffer !== undefined) out.buffer = e.buffer;
  if (e.addr !== undefined) out.addr = e.addr;
  if (e.length !== undefined) out.length = e.length;
  if (e.durationUs !== undefined) out.durationUs = e.durationUs;
  if (e.tee !== undefined) out.tee = e.tee;
  return out;
}

export class EventLog {
  /** A circular buffer: `ring[(start + i) % capacity]` is the i-th oldest event. */
  private readonly ring: SmafEvent[] = [];
  private start = 0;
  private seq = 0;
  private readonly listeners = new Set<(e: SmafEvent) => void>();
  readonly counts: Record<string, number> = {};

  constructor(private readonly capacity = 2000) {}

  emit(e: EventInput): SmafEvent {
    const event = new LoggedEvent(++this.seq, Date.now(), e);
    if (this.ring.length < this.capacity) this.ring.push(event);
    else {
      this.ring[this.start] = event;
      this.start = (this.start + 1) % this.capacity;
    }
    this.counts[e.kind] = (this.counts[e.kind] ?? 0) + 1;
    for (const l of this.listeners) l(event);
    return event;
  }

  /** Events, oldest first, optionally only those of some kinds or after a sequence number. */
  list(filter: { kinds?: readonly EventKind[]; after?: number; limit?: number } = {}): SmafEvent[] {
    const ordered = this.start === 0 ? this.ring : [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)];
    let out = ordered.filter((e) => (filter.kinds ? filter.kinds.includes(e.kind) : true) && e.seq > (filter.after ?? 0));
    if (filter.limit !== undefined) out = out.slice(-filter.limit);
    return out;
  }

  subscribe(listener: (e: SmafEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get lastSeq(): number {
    return this.seq;
  }
}
