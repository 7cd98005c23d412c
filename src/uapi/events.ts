/**
 * X_EVENTS, the daemon's event log over the wire: filtered and paged on the daemon, over the whole
 * log it keeps (not a client-side window). Its request struct and the event kinds' bit numbers.
 */
import { SmafError } from '../common/errors.ts';
import type { EventKind } from '../platform/index.ts';
import { struct, type StructValue } from './abi.ts';
import { encodeStruct } from './codec.ts';

/** Every event kind, in bit order for X_EVENTS' `kinds` mask (bit i = EVENT_KINDS[i]). */
export const EVENT_KINDS = [
  'create', 'allocate', 'allocate-failed', 'release', 'migrate', 'attach', 'detach', 'map', 'unmap',
  'cpu-access', 'grant', 'revoke', 'denial', 'tee', 'iommu-fault', 'name', 'internal-error', 'dma',
] as const satisfies readonly EventKind[];

// every EventKind has a bit: this line fails to compile when a kind is added to the platform only
const _allKinds: readonly (typeof EVENT_KINDS)[number][] = [] as EventKind[];
void _allKinds;

export function isEventKind(s: string): s is EventKind {
  return (EVENT_KINDS as readonly string[]).includes(s);
}

/** Most events one X_EVENTS answer carries (a page). */
export const X_EVENTS_MAX_LIMIT = 1000;
const X_EVENTS_NEWEST = 1;

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

const inField = <const T extends 'u32' | 'u64', const N extends string>(type: T, name: N, doc: string) => ({ name, type, role: 'in', doc }) as const;

/** X_EVENTS' request struct (its row in ops.ts points here, so the query helpers below need no cycle). */
export const eventsIn = struct('smaf_events_in', 40, [
  inField('u64', 'after', 'sequence number; 0 = oldest kept'),
  inField('u64', 'since', 'ms since the epoch; 0 = any'),
  inField('u32', 'kinds', 'bit mask in the order of EVENT_KINDS; 0 = all'),
  inField('u32', 'limit', '1..1000'),
  inField('u32', 'client', 'client id; 0 = any'),
  inField('u32', 'buffer', 'buffer id; 0 = any'),
  inField('u32', 'flags', '1 = the newest `limit`'),
  { name: 'reserved', type: 'u32', role: 'reserved', doc: 'must be 0' },
]);

/** The X_EVENTS request of a query (the struct of its op row). */
export function eventQueryStruct(q: Partial<EventQuery>): StructValue<typeof eventsIn> {
  let mask = 0;
  for (const k of q.kinds ?? []) mask |= 1 << EVENT_KINDS.indexOf(k as (typeof EVENT_KINDS)[number]);
  return {
    after: BigInt(q.after ?? 0), since: BigInt(q.since ?? 0), kinds: mask >>> 0, limit: q.limit ?? 100, client: q.client ?? 0,
    buffer: q.buffer ?? 0, flags: q.newest ? X_EVENTS_NEWEST : 0, reserved: 0,
  };
}

export function encodeEventQuery(q: Partial<EventQuery>): Uint8Array {
  return encodeStruct(eventsIn, eventQueryStruct(q));
}

/** Validate a decoded X_EVENTS request; EINVAL naming the field. */
export function eventQueryFrom(v: StructValue<typeof eventsIn>): EventQuery {
  const big = (x: bigint, name: string): number => {
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new SmafError('EINVAL', `X_EVENTS: ${name} ${x} is out of range`);
    return Number(x);
  };
  const { kinds: mask, limit, flags } = v;
  if (mask >>> EVENT_KINDS.length !== 0) throw new SmafError('EINVAL', `X_EVENTS: kinds mask 0x${mask.toString(16)} has bits above ${EVENT_KINDS.length - 1} (kinds: ${EVENT_KINDS.join(', ')})`);
  if (limit < 1 || limit > X_EVENTS_MAX_LIMIT) throw new SmafError('EINVAL', `X_EVENTS: limit ${limit} is not within 1..${X_EVENTS_MAX_LIMIT}`);
  if ((flags & ~X_EVENTS_NEWEST) !== 0) throw new SmafError('EINVAL', `X_EVENTS: unknown flags 0x${flags.toString(16)} (1 = newest)`);
  if (v.reserved !== 0) throw new SmafError('EINVAL', 'X_EVENTS: reserved field must be 0');
  return {
    after: big(v.after, 'after'),
    since: big(v.since, 'since'),
    kinds: EVENT_KINDS.filter((_, i) => (mask & (1 << i)) !== 0),
    limit,
    client: v.client,
    buffer: v.buffer,
    newest: (flags & X_EVENTS_NEWEST) !== 0,
  };
}
