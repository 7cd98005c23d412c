/**
 * The platform's event log: allocations, grants, revocations and denials, newest last, bounded.
 * The CLI, the dashboard and the tests read this same log.
 */

export type EventKind =
  | 'create' | 'allocate' | 'allocate-failed' | 'release' | 'migrate'
  | 'attach' | 'detach' | 'map' | 'unmap' | 'cpu-access'
  | 'grant' | 'revoke' | 'denial' | 'tee' | 'iommu-fault' | 'name';

export interface SmafEvent {
  readonly seq: number;
  readonly time: number;
  readonly kind: EventKind;
  /** Who acted: a device name, "cpu", "tee", or an allocator. */
  readonly actor: string;
  readonly buffer?: number;
  readonly addr?: number;
  readonly length?: number;
  readonly message: string;
}

export type EventInput = Omit<SmafEvent, 'seq' | 'time'>;

export class EventLog {
  /** A circular buffer: `ring[(start + i) % capacity]` is the i-th oldest event. */
  private readonly ring: SmafEvent[] = [];
  private start = 0;
  private seq = 0;
  private readonly listeners = new Set<(e: SmafEvent) => void>();
  readonly counts: Record<string, number> = {};

  constructor(private readonly capacity = 2000) {}

  emit(e: EventInput): SmafEvent {
    const event: SmafEvent = { seq: ++this.seq, time: Date.now(), ...e };
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
