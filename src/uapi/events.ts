/**
 * X_EVENTS, the daemon's event log over the wire: filtered and paged on the daemon, over the whole
 * log it keeps (not a client-side window). Its request struct and the event kinds' bit numbers.
 */
import { SmafError } from '../common/errors.ts';
import type { EventKind } from '../platform/index.ts';

/** Every event kind, in bit order for X_EVENTS' `kinds` mask (bit i = EVENT_KINDS[i]). */
export const EVENT_KINDS = [
  'create', 'allocate', 'allocate-failed', 'release', 'migrate', 'attach', 'detach', 'map', 'unmap',
  'cpu-access', 'grant', 'revoke', 'denial', 'tee', 'iommu-fault', 'name',
] as const satisfies readonly EventKind[];

// every EventKind has a bit: this line fails to compile when a kind is added to the platform only
const _allKinds: readonly (typeof EVENT_KINDS)[number][] = [] as EventKind[];
void _allKinds;

export function isEventKind(s: string): s is EventKind {
  return (EVENT_KINDS as readonly string[]).includes(s);
}

/** X_EVENTS request payload (40 bytes). */
export const X_EVENTS_SIZE = 40;
/** Most events one X_EVENTS answer carries (a page). */
export const X_EVENTS_MAX_LIMIT = 1000;
export const X_EVENTS_NEWEST = 1;

export interface EventQuery {
  /** Only events with a sequence number above this (paging cursor; 0 = from the oldest kept). */
  readonly after: number;
  /** Only events at or after this time (ms since the epoch; 0 = any). */
  readonly since: number;
  /** Only these kinds (empty = every kind). */
  readonly kinds: readonly EventKind[];
  /** 1..X_EVENTS_MAX_LIMIT. */
  readonly limit: number;
  /** Only events caused by this client id (0 = any). */
  readonly client: number;
  /** Only events of this buffer id (0 = any). */
  readonly buffer: number;
  /** The newest `limit` matching events instead of the oldest. */
  readonly newest: boolean;
}

/** What X_EVENTS answers (UTF-8 JSON after the result, which is the number of events). */
export interface EventPage<E> {
  readonly events: readonly E[];
  /** Matching events in the whole log kept (not only this page). */
  readonly matched: number;
  /** More matching events after this page (pass `next` as `after`). */
  readonly more: boolean;
  readonly next: number;
  /** Sequence number of the oldest event still kept (older ones have been dropped). */
  readonly oldest: number;
}

export function encodeEventQuery(q: Partial<EventQuery>): Uint8Array {
  const out = new Uint8Array(X_EVENTS_SIZE);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt(q.after ?? 0), true);
  v.setBigUint64(8, BigInt(q.since ?? 0), true);
  let mask = 0;
  for (const k of q.kinds ?? []) mask |= 1 << EVENT_KINDS.indexOf(k as (typeof EVENT_KINDS)[number]);
  v.setUint32(16, mask >>> 0, true);
  v.setUint32(20, q.limit ?? 100, true);
  v.setUint32(24, q.client ?? 0, true);
  v.setUint32(28, q.buffer ?? 0, true);
  v.setUint32(32, q.newest ? X_EVENTS_NEWEST : 0, true);
  return out;
}

/** Decode and validate; throws RangeError naming the field (the daemon answers EINVAL). */
export function decodeEventQuery(p: Uint8Array): EventQuery {
  if (p.length !== X_EVENTS_SIZE) throw new SmafError('EINVAL', `X_EVENTS takes ${X_EVENTS_SIZE} payload bytes, got ${p.length}`);
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const big = (o: number, name: string): number => {
    const x = v.getBigUint64(o, true);
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new SmafError('EINVAL', `X_EVENTS: ${name} ${x} is out of range`);
    return Number(x);
  };
  const mask = v.getUint32(16, true);
  if (mask >>> EVENT_KINDS.length !== 0) throw new SmafError('EINVAL', `X_EVENTS: kinds mask 0x${mask.toString(16)} has bits above ${EVENT_KINDS.length - 1} (kinds: ${EVENT_KINDS.join(', ')})`);
  const limit = v.getUint32(20, true);
  if (limit < 1 || limit > X_EVENTS_MAX_LIMIT) throw new SmafError('EINVAL', `X_EVENTS: limit ${limit} is not within 1..${X_EVENTS_MAX_LIMIT}`);
  const flags = v.getUint32(32, true);
  if ((flags & ~X_EVENTS_NEWEST) !== 0) throw new SmafError('EINVAL', `X_EVENTS: unknown flags 0x${flags.toString(16)} (1 = newest)`);
  if (v.getUint32(36, true) !== 0) throw new SmafError('EINVAL', 'X_EVENTS: reserved field must be 0');
  return {
    after: big(0, 'after'),
    since: big(8, 'since'),
    kinds: EVENT_KINDS.filter((_, i) => (mask & (1 << i)) !== 0),
    limit,
    client: v.getUint32(24, true),
    buffer: v.getUint32(28, true),
    newest: (flags & X_EVENTS_NEWEST) !== 0,
  };
}
