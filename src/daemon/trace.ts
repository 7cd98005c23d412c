/**
 * The journal as a Chrome trace-event JSON trace (the "JSON Object Format" of the Trace Event
 * Format document), which Perfetto (ui.perfetto.dev) and chrome://tracing open.
 *
 * Layout: one process per memory region (buffers that never got memory under "no memory yet";
 * denials and TEE events that concern no buffer under "firewall and secure module"), one thread per
 * buffer. On a buffer's thread: a complete slice for its whole life, with two children, "no memory
 * yet" (create to first allocation) and "<allocator>" (allocation to release); async slices for
 * each device's DMA mapping (they overlap freely); instant events for attach, detach, grants,
 * revocations, CPU access, denials and failures. A counter per region shows its bytes in use.
 */
import type { JournalEvent } from './journal.ts';
import type { TraceEvent, ChromeTrace } from '../uapi/replies.ts';
// the wire types live in uapi (the client reads them without importing the daemon)
export type { TraceEvent, ChromeTrace } from '../uapi/replies.ts';

export interface TraceInput {
  readonly events: readonly JournalEvent[];
  /** Regions in platform order, with their bytes in use now (the counters are computed backwards). */
  readonly regions: readonly { readonly name: string; readonly inUse: number }[];
  readonly platform: string;
  /** Now, in epoch microseconds: slices of live buffers end here. */
  readonly nowUs: number;
  /** An earlier time 0 than the first event's (the recording's start: its operations come before any event). */
  readonly originUs?: number;
}

const FIREWALL_PID = 1;
const NO_MEMORY_PID = 2;
const FIRST_REGION_PID = 10;

interface Life {
  readonly buffer: number;
  created?: number;
  allocated?: number;
  released?: number;
  region?: string;
  allocator?: string;
  size?: number;
  owner?: string;
  secure?: boolean;
}

function argsOf(e: JournalEvent): Record<string, string | number | boolean> {
  const a: Record<string, string | number | boolean> = { message: e.message, seq: e.seq, actor: e.actor };
  if (e.clientLabel) a.client = e.clientLabel;
  if (e.addr !== undefined) a.addr = `0x${e.addr.toString(16)}`;
  if (e.length !== undefined) a.length = e.length;
  if (e.latencyUs !== undefined) a.latency_us = e.latencyUs;
  return a;
}

const INSTANT_NAMES: Partial<Record<JournalEvent['kind'], (e: JournalEvent) => string>> = {
  attach: (e) => `attach ${e.actor}`,
  detach: (e) => `detach ${e.actor}`,
  grant: (e) => `grant ${e.actor}`,
  revoke: (e) => `revoke ${e.actor}`,
  denial: (e) => `DENIED ${e.actor}`,
  'cpu-access': () => 'cpu access',
  'allocate-failed': () => 'allocation FAILED',
  migrate: () => 'migrate',
  tee: () => 'tee',
};

/** What the steps share: the output, the clock and where each buffer goes. */
interface Trace {
  readonly input: TraceInput;
  readonly out: TraceEvent[];
  /** The first event's time, in epoch microseconds: trace time 0. */
  readonly t0: number;
  /** Now, in trace time. */
  readonly end: number;
  readonly regionPid: ReadonlyMap<string, number>;
  readonly lives: ReadonlyMap<number, Life>;
  readonly firewallTids: Map<string, number>;
}

export function buildChromeTrace(input: TraceInput): ChromeTrace {
  const { events } = input;
  const t0 = Math.min(events[0]?.us ?? input.nowUs, input.originUs ?? Infinity);
  const t: Trace = {
    input, out: [], t0, end: Math.max(0, input.nowUs - t0), lives: livesOf(events), firewallTids: new Map(),
    regionPid: new Map(input.regions.map((r, i) => [r.name, FIRST_REGION_PID + i])),
  };
  pushTrackNames(t);
  for (const l of t.lives.values()) pushLife(t, l);
  pushEvents(t);
  for (const r of input.regions) pushCounter(t, r);
  return {
    traceEvents: t.out,
    displayTimeUnit: 'ms',
    otherData: { producer: 'smafd (SMAF-TS)', platform: input.platform, origin_epoch_us: t0, events: events.length, first_seq: events[0]?.seq ?? 0, last_seq: events.at(-1)?.seq ?? 0 },
  };
}

/** An epoch time in trace time (microseconds since the first event, never negative). */
const tsOf = (t: Trace, us: number): number => Math.max(0, us - t.t0);

const pidOf = (t: Trace, l: Life): number => (l.region !== undefined ? t.regionPid.get(l.region) ?? NO_MEMORY_PID : NO_MEMORY_PID);

/** What each buffer went through, to place it and size its slices. */
function livesOf(events: readonly JournalEvent[]): Map<number, Life> {
  const lives = new Map<number, Life>();
  for (const e of events) {
    if (e.buffer === undefined) continue;
    let l = lives.get(e.buffer);
    if (!l) lives.set(e.buffer, (l = { buffer: e.buffer }));
    if (e.kind === 'create') l.created = e.us;
    if (e.kind === 'allocate' && l.allocated === undefined) l.allocated = e.us;
    if (e.kind === 'release') l.released = e.us;
    if (e.region) l.region = e.region;
    if (e.allocator) l.allocator = e.allocator;
    if (e.size !== undefined) l.size = e.size;
    if (e.ownerLabel) l.owner = e.ownerLabel;
    if (e.secure !== undefined) l.secure = e.secure;
  }
  return lives;
}

function pushMeta(t: Trace, name: string, pid: number, tid: number, args: Record<string, string | number>): void {
  t.out.push({ name, ph: 'M', pid, tid, args });
}

/** Metadata: names and order of the tracks. */
function pushTrackNames(t: Trace): void {
  pushMeta(t, 'process_name', FIREWALL_PID, 0, { name: 'firewall and secure module' });
  pushMeta(t, 'process_sort_index', FIREWALL_PID, 0, { sort_index: 0 });
  pushMeta(t, 'process_name', NO_MEMORY_PID, 0, { name: 'no memory yet (never allocated)' });
  pushMeta(t, 'process_sort_index', NO_MEMORY_PID, 0, { sort_index: 1 });
  for (const [name, pid] of t.regionPid) {
    pushMeta(t, 'process_name', pid, 0, { name: `region ${name}` });
    pushMeta(t, 'process_sort_index', pid, 0, { sort_index: pid });
  }
  for (const l of t.lives.values()) {
    const size = l.size !== undefined ? ` (${l.size / 1024} KiB)` : '';
    pushMeta(t, 'thread_name', pidOf(t, l), l.buffer, { name: `buffer ${l.buffer}${size}${l.owner ? ` · ${l.owner}` : ''}` });
    pushMeta(t, 'thread_sort_index', pidOf(t, l), l.buffer, { sort_index: l.buffer });
  }
}

/** The firewall track of an actor, named the first time it shows up. */
function firewallTid(t: Trace, actor: string): number {
  let tid = t.firewallTids.get(actor);
  if (tid === undefined) {
    t.firewallTids.set(actor, (tid = t.firewallTids.size + 1));
    pushMeta(t, 'thread_name', FIREWALL_PID, tid, { name: actor });
  }
  return tid;
}

/** A buffer's life, and its two phases. */
function pushLife(t: Trace, l: Life): void {
  const pid = pidOf(t, l);
  const start = tsOf(t, l.created ?? t.input.events.find((e) => e.buffer === l.buffer)!.us);
  const stop = l.released !== undefined ? tsOf(t, l.released) : t.end;
  const args: Record<string, string | number | boolean> = { buffer: l.buffer, live: l.released === undefined };
  if (l.size !== undefined) args.size = l.size;
  if (l.allocator) args.allocator = l.allocator;
  if (l.region) args.region = l.region;
  if (l.owner) args.owner = l.owner;
  if (l.secure !== undefined) args.secure = l.secure;
  t.out.push({ name: `buffer ${l.buffer}`, cat: 'buffer', ph: 'X', pid, tid: l.buffer, ts: start, dur: stop - start, args });
  const allocatedAt = l.allocated !== undefined ? tsOf(t, l.allocated) : stop;
  if (allocatedAt > start || l.allocated === undefined) {
    t.out.push({ name: 'no memory yet', cat: 'buffer', ph: 'X', pid, tid: l.buffer, ts: start, dur: allocatedAt - start, args: { buffer: l.buffer } });
  }
  if (l.allocated !== undefined) {
    t.out.push({ name: l.allocator ?? 'allocated', cat: 'memory', ph: 'X', pid, tid: l.buffer, ts: allocatedAt, dur: stop - allocatedAt, args });
  }
}

/** DMA mappings (async: several devices overlap), instants, and what concerns no buffer. */
function pushEvents(t: Trace): void {
  const openMaps = new Map<string, { pid: number; tid: number; device: string }>();
  for (const e of t.input.events) {
    const l = e.buffer !== undefined ? t.lives.get(e.buffer) : undefined;
    if (!l) {
      if (e.kind === 'denial' || e.kind === 'tee' || e.kind === 'grant' || e.kind === 'revoke') {
        t.out.push({ name: INSTANT_NAMES[e.kind]!(e), cat: e.kind, ph: 'i', s: 't', pid: FIREWALL_PID, tid: firewallTid(t, e.actor), ts: tsOf(t, e.us), args: argsOf(e) });
      }
      continue;
    }
    const pid = pidOf(t, l);
    const key = `${l.buffer}:${e.actor}`;
    if (e.kind === 'map' && !openMaps.has(key)) {
      openMaps.set(key, { pid, tid: l.buffer, device: e.actor });
      t.out.push({ name: `mapped by ${e.actor}`, cat: 'dma-map', ph: 'b', id2: { local: key }, pid, tid: l.buffer, ts: tsOf(t, e.us), args: argsOf(e) });
    } else if (e.kind === 'unmap' && openMaps.has(key)) {
      openMaps.delete(key);
      t.out.push({ name: `mapped by ${e.actor}`, cat: 'dma-map', ph: 'e', id2: { local: key }, pid, tid: l.buffer, ts: tsOf(t, e.us) });
    }
    if (e.kind === 'dma' && e.durationUs !== undefined) {
      // a device's DMA job: an async slice (two devices may work on one buffer at once)
      const id2 = { local: `dma:${e.seq}` };
      t.out.push({ name: `${e.actor} DMA`, cat: 'dma', ph: 'b', id2, pid, tid: l.buffer, ts: tsOf(t, e.us - e.durationUs), args: argsOf(e) });
      t.out.push({ name: `${e.actor} DMA`, cat: 'dma', ph: 'e', id2, pid, tid: l.buffer, ts: tsOf(t, e.us) });
    }
    const instant = INSTANT_NAMES[e.kind];
    if (instant) t.out.push({ name: instant(e), cat: e.kind, ph: 'i', s: 't', pid, tid: l.buffer, ts: tsOf(t, e.us), args: argsOf(e) });
  }
  for (const [key, m] of openMaps) t.out.push({ name: `mapped by ${m.device}`, cat: 'dma-map', ph: 'e', id2: { local: key }, pid: m.pid, tid: m.tid, ts: t.end });
}

/** A region's bytes in use, walked back from now: exact over the span the journal covers. */
function pushCounter(t: Trace, r: TraceInput['regions'][number]): void {
  const { events } = t.input;
  const pid = t.regionPid.get(r.name)!;
  const points: { t: number; bytes: number }[] = [{ t: t.end, bytes: r.inUse }];
  let bytes = r.inUse;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.region !== r.name || e.size === undefined) continue;
    if (e.kind === 'allocate') bytes -= e.size;
    else if (e.kind === 'release') bytes += e.size;
    else continue;
    points.push({ t: tsOf(t, e.us), bytes: Math.max(0, bytes) });
  }
  points.push({ t: 0, bytes: Math.max(0, bytes) });
  for (const p of points.reverse()) t.out.push({ name: `${r.name} bytes in use`, cat: 'memory', ph: 'C', pid, tid: 0, ts: p.t, args: { bytes: p.bytes } });
}
