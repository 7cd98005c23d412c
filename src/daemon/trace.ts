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

export function buildChromeTrace(input: TraceInput): ChromeTrace {
  const { events } = input;
  const t0 = events[0]?.us ?? input.nowUs;
  const ts = (us: number): number => Math.max(0, us - t0);
  const end = ts(input.nowUs);
  const out: TraceEvent[] = [];
  const regionPid = new Map(input.regions.map((r, i) => [r.name, FIRST_REGION_PID + i]));

  // what each buffer went through, to place it and size its slices
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
  const pidOf = (l: Life): number => (l.region !== undefined ? regionPid.get(l.region) ?? NO_MEMORY_PID : NO_MEMORY_PID);

  // metadata: names and order of the tracks
  const meta = (name: string, pid: number, tid: number, args: Record<string, string | number>): void => void out.push({ name, ph: 'M', pid, tid, args });
  meta('process_name', FIREWALL_PID, 0, { name: 'firewall and secure module' });
  meta('process_sort_index', FIREWALL_PID, 0, { sort_index: 0 });
  meta('process_name', NO_MEMORY_PID, 0, { name: 'no memory yet (never allocated)' });
  meta('process_sort_index', NO_MEMORY_PID, 0, { sort_index: 1 });
  for (const [name, pid] of regionPid) {
    meta('process_name', pid, 0, { name: `region ${name}` });
    meta('process_sort_index', pid, 0, { sort_index: pid });
  }
  for (const l of lives.values()) {
    const size = l.size !== undefined ? ` (${l.size / 1024} KiB)` : '';
    meta('thread_name', pidOf(l), l.buffer, { name: `buffer ${l.buffer}${size}${l.owner ? ` · ${l.owner}` : ''}` });
    meta('thread_sort_index', pidOf(l), l.buffer, { sort_index: l.buffer });
  }
  const firewallTids = new Map<string, number>();
  const firewallTid = (actor: string): number => {
    let tid = firewallTids.get(actor);
    if (tid === undefined) {
      firewallTids.set(actor, (tid = firewallTids.size + 1));
      meta('thread_name', FIREWALL_PID, tid, { name: actor });
    }
    return tid;
  };

  // each buffer's life, and its two phases
  for (const l of lives.values()) {
    const pid = pidOf(l);
    const start = ts(l.created ?? events.find((e) => e.buffer === l.buffer)!.us);
    const stop = l.released !== undefined ? ts(l.released) : end;
    const args: Record<string, string | number | boolean> = { buffer: l.buffer, live: l.released === undefined };
    if (l.size !== undefined) args.size = l.size;
    if (l.allocator) args.allocator = l.allocator;
    if (l.region) args.region = l.region;
    if (l.owner) args.owner = l.owner;
    if (l.secure !== undefined) args.secure = l.secure;
    out.push({ name: `buffer ${l.buffer}`, cat: 'buffer', ph: 'X', pid, tid: l.buffer, ts: start, dur: stop - start, args });
    const allocatedAt = l.allocated !== undefined ? ts(l.allocated) : stop;
    if (allocatedAt > start || l.allocated === undefined) {
      out.push({ name: 'no memory yet', cat: 'buffer', ph: 'X', pid, tid: l.buffer, ts: start, dur: allocatedAt - start, args: { buffer: l.buffer } });
    }
    if (l.allocated !== undefined) {
      out.push({ name: l.allocator ?? 'allocated', cat: 'memory', ph: 'X', pid, tid: l.buffer, ts: allocatedAt, dur: stop - allocatedAt, args });
    }
  }

  // DMA mappings (async: several devices overlap), instants, and what concerns no buffer
  const openMaps = new Map<string, { pid: number; tid: number; device: string }>();
  for (const e of events) {
    const l = e.buffer !== undefined ? lives.get(e.buffer) : undefined;
    if (!l) {
      if (e.kind === 'denial' || e.kind === 'tee' || e.kind === 'grant' || e.kind === 'revoke') {
        out.push({ name: INSTANT_NAMES[e.kind]!(e), cat: e.kind, ph: 'i', s: 't', pid: FIREWALL_PID, tid: firewallTid(e.actor), ts: ts(e.us), args: argsOf(e) });
      }
      continue;
    }
    const pid = pidOf(l);
    const key = `${l.buffer}:${e.actor}`;
    if (e.kind === 'map' && !openMaps.has(key)) {
      openMaps.set(key, { pid, tid: l.buffer, device: e.actor });
      out.push({ name: `mapped by ${e.actor}`, cat: 'dma-map', ph: 'b', id2: { local: key }, pid, tid: l.buffer, ts: ts(e.us), args: argsOf(e) });
    } else if (e.kind === 'unmap' && openMaps.has(key)) {
      openMaps.delete(key);
      out.push({ name: `mapped by ${e.actor}`, cat: 'dma-map', ph: 'e', id2: { local: key }, pid, tid: l.buffer, ts: ts(e.us) });
    }
    const instant = INSTANT_NAMES[e.kind];
    if (instant) out.push({ name: instant(e), cat: e.kind, ph: 'i', s: 't', pid, tid: l.buffer, ts: ts(e.us), args: argsOf(e) });
  }
  for (const [key, m] of openMaps) out.push({ name: `mapped by ${m.device}`, cat: 'dma-map', ph: 'e', id2: { local: key }, pid: m.pid, tid: m.tid, ts: end });

  // bytes in use per region, walked back from now: exact over the span the journal covers
  for (const r of input.regions) {
    const pid = regionPid.get(r.name)!;
    const points: { t: number; bytes: number }[] = [{ t: end, bytes: r.inUse }];
    let bytes = r.inUse;
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i]!;
      if (e.region !== r.name || e.size === undefined) continue;
      if (e.kind === 'allocate') bytes -= e.size;
      else if (e.kind === 'release') bytes += e.size;
      else continue;
      points.push({ t: ts(e.us), bytes: Math.max(0, bytes) });
    }
    points.push({ t: 0, bytes: Math.max(0, bytes) });
    for (const p of points.reverse()) out.push({ name: `${r.name} bytes in use`, cat: 'memory', ph: 'C', pid, tid: 0, ts: p.t, args: { bytes: p.bytes } });
  }

  return {
    traceEvents: out,
    displayTimeUnit: 'ms',
    otherData: { producer: 'smafd (SMAF-TS)', platform: input.platform, origin_epoch_us: t0, events: events.length, first_seq: events[0]?.seq ?? 0, last_seq: events.at(-1)?.seq ?? 0 },
  };
}
