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
export type { RegionView, BufferView, ClientView, DaemonState } from '../uapi/replies.ts';

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

export function snapshot(ctx: DaemonContext, options: SnapshotOptions = {}): DaemonState {
  const { smaf, platform } = ctx;
  const viewer = options.viewer ?? null;
  // a client's view costs what it holds, never what the whole daemon holds
  const visible: SmafBuffer[] = viewer ? [...new Set(viewer.heldBuffers())].sort((a, b) => a.id - b.id) : [...smaf.buffers];
  const offset = Math.max(0, options.offset ?? 0);
  const limit = Math.min(MAX_STATE_PAGE, Math.max(0, options.limit ?? DEFAULT_STATE_PAGE));
  const buffers = visible.slice(offset, offset + limit).map((b): BufferView => {
    const e = explain(b);
    return { ...e, decisions: e.decisionsTotal, holders: viewer ? [] : ctx.holdersOf(b.id), createdAt: b.createdAt };
  });
  // one pass over the visible buffers' segments, whatever the number of regions
  const regionOf = regionFinder(platform.regions);
  const occupancy = new Map<string, RegionView['occupancy'][number][]>();
  for (const b of visible) {
    for (const s of b.segments) {
      const r = regionOf(s.phys);
      if (!r) continue;
      let list = occupancy.get(r.name);
      if (!list) occupancy.set(r.name, (list = []));
      if (list.length < MAX_OCCUPANCY) list.push({ base: s.phys, length: s.length, buffer: b.id, allocator: b.backing!.allocator, secure: b.secure });
    }
  }
  const regions = platform.regionStats().map((r): RegionView => ({ ...r, occupancy: (occupancy.get(r.name) ?? []).sort((a, b) => a.base - b.base) }));
  const descriptions = new Map(smaf.registry.allocators.map((a) => [a.name, a.description ?? '']));
  const visibleIds = new Set(visible.map((b) => b.id));
  const eventLimit = options.eventLimit ?? 200;
  const events = viewer
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
    buffersTotal: visible.length,
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
