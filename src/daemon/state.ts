/**
 * A JSON snapshot of what smafd knows, for `smaf info`, the dashboard and scripts. Read-only.
 * The operator (admin socket, dashboard) sees every client's buffers; a client sees only the
 * buffers it holds an fd of, and nothing about other clients. Buffers come in pages, so that a
 * reply never passes the frame limit whatever the number of buffers.
 */
import { explain, type SmafBuffer } from '../core/index.ts';
import type { MemoryRegion } from '../platform/index.ts';
import type { DaemonContext, SessionLike } from './context.ts';
import type { RegionView, BufferView, DaemonState } from '../uapi/replies.ts';
// the wire types live in uapi (the client reads them without importing the daemon)
export type { BufferView, DaemonState } from '../uapi/replies.ts';

export interface SnapshotOptions {
  /** null or absent: the operator's view of everything. */
  readonly viewer?: SessionLike | null;
  readonly offset?: number;
  readonly limit?: number;
  readonly eventLimit?: number;
}

/** Buffers in one page of X_STATE (the reply stays far below the 16 MiB frame limit). */
const MAX_STATE_PAGE = 500;
const DEFAULT_STATE_PAGE = 200;
/** Occupied ranges listed per region. */
const MAX_OCCUPANCY = 4096;

/** Regions sorted by base, for finding the region of an address by binary search. */
function regionFinder(regions: readonly MemoryRegion[]): (addr: number) => MemoryRegion | undefined {
  // the most specific region wins (a carveout inside its DRAM), as Platform.regionAt does
  const sorted = [...regions].sort((a, b) => a.base - b.base || (a.kind === 'system' ? 1 : 0) - (b.kind === 'system' ? 1 : 0));
  const specific = sorted.filter((r) => r.kind !== 'system');
  const system = sorted.filter((r) => r.kind === 'system');
  const find = (list: MemoryRegion[], addr: number): MemoryRegion | undefined => {
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = list[mid]!;
      if (addr < r.base) hi = mid - 1;
      else if (addr >= r.base + r.size) lo = mid + 1;
      else return r;
    }
    return undefined;
  };
  return (addr) => find(specific, addr) ?? find(system, addr);
}

/** Items offset..offset+limit of an iteration, walking no further. */
function pageOf<T>(items: Iterable<T>, offset: number, limit: number): T[] {
  const out: T[] = [];
  let i = 0;
  for (const item of items) {
    if (out.length >= limit) break;
    if (i++ >= offset) out.push(item);
  }
  return out;
}

type Occupied = RegionView['occupancy'][number];

/** The memory of some buffers, segment by segment. */
function* segmentsOf(buffers: readonly SmafBuffer[]): Generator<Occupied> {
  for (const b of buffers) {
    for (const s of b.segments) yield { base: s.phys, length: s.length, buffer: b.id, allocator: b.backing!.allocator, secure: b.secure };
  }
}

/** The memory of every live buffer, from the core's record of owned ranges (no walk over buffers). */
function* ownedSegments(smaf: DaemonContext['smaf']): Generator<Occupied> {
  for (const r of smaf.ownedRanges()) {
    const b = smaf.find(r.owner);
    if (b?.backing) yield { base: r.base, length: r.length, buffer: b.id, allocator: b.backing.allocator, secure: b.secure };
  }
}

/** Occupied ranges by region name, at most MAX_OCCUPANCY each; one pass whatever the number of regions. */
function occupancyByRegion(regions: readonly MemoryRegion[], ranges: Iterable<Occupied>): Map<string, Occupied[]> {
  const regionOf = regionFinder(regions);
  const occupancy = new Map<string, Occupied[]>();
  for (const o of ranges) {
    const r = regionOf(o.base);
    if (!r) continue;
    let list = occupancy.get(r.name);
    if (!list) occupancy.set(r.name, (list = []));
    if (list.length < MAX_OCCUPANCY) list.push(o);
  }
  return occupancy;
}

export function snapshot(ctx: DaemonContext, options: SnapshotOptions = {}): DaemonState {
  const { smaf, platform } = ctx;
  const viewer = options.viewer ?? null;
  // a client's view costs what it holds; the operator's costs its page and the memory in use,
  // never the number of live buffers (which may be 100,000 that have no memory yet)
  const held = viewer ? [...new Set(viewer.heldBuffers())].sort((a, b) => a.id - b.id) : null;
  const offset = Math.max(0, options.offset ?? 0);
  const limit = Math.min(MAX_STATE_PAGE, Math.max(0, options.limit ?? DEFAULT_STATE_PAGE));
  const page = held ? held.slice(offset, offset + limit) : pageOf(smaf.liveBuffers(), offset, limit);
  const buffers = page.map((b): BufferView => {
    const e = explain(b);
    return { ...e, decisions: e.decisionsTotal, holders: viewer ? [] : ctx.holdersOf(b.id), createdAt: b.createdAt };
  });
  const occupancy = occupancyByRegion(platform.regions, held ? segmentsOf(held) : ownedSegments(smaf));
  const regions = platform.regionStats().map((r): RegionView => ({ ...r, occupancy: (occupancy.get(r.name) ?? []).sort((a, b) => a.base - b.base) }));
  const descriptions = new Map(smaf.registry.allocators.map((a) => [a.name, a.description ?? '']));
  const eventLimit = options.eventLimit ?? 200;
  const visibleIds = held ? new Set(held.map((b) => b.id)) : null;
  const events = visibleIds
    ? platform.events.list({}).filter((e) => e.buffer !== undefined && visibleIds.has(e.buffer)).slice(-eventLimit)
    : platform.events.list({ limit: eventLimit });
  const sessions = viewer ? [viewer] : [...ctx.sessions];
  return {
    time: Date.now(),
    scope: viewer ? 'own' : 'all',
    platform: { name: platform.name, pageSize: platform.pageSize },
    regions,
    devices: platform.devices.map((d) => ({ ...d })),
    allocators: smaf.registry.allStats().map((s) => ({ ...s, description: descriptions.get(s.name) })),
    secureModule: smaf.secureModule?.name ?? null,
    firewall: platform.bus.firewall.name,
    buffers,
    buffersTotal: held ? held.length : smaf.bufferCount,
    offset,
    clients: sessions.map((s) => ({ id: s.id, label: s.label, pid: s.pid, comm: s.comm, ...s.usage(), requests: s.requests, connectedAt: s.connectedAt })),
    limits: { ...ctx.limits.settings },
    limitUsage: viewer ? [] : ctx.limitUsage(),
    internalErrors: viewer ? 0 : ctx.internalErrors,
    events,
    eventCounts: viewer ? {} : { ...platform.events.counts },
    bus: viewer ? {} : platform.bus.stats(),
    tokens: viewer ? 0 : ctx.tokens.size,
  };
}
