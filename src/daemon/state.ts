/**
 * A JSON snapshot of what smafd knows, for `smaf info`, the dashboard and scripts. Read-only.
 * What it shows is what the asker's scope (scope.ts) lets it see: the operator (admin socket,
 * dashboard) every client's buffers, a client only the buffers it holds and nothing about other
 * clients. Buffers come in pages, so that a reply never passes the frame limit whatever their number.
 */
import { explain } from '../core/index.ts';
import type { MemoryRegion } from '../platform/index.ts';
import type { RegionView, BufferView, DaemonState } from '../uapi/replies.ts';
import type { Occupied, Scope } from './scope.ts';
// the wire types live in uapi (the client reads them without importing the daemon)
export type { BufferView, DaemonState } from '../uapi/replies.ts';

export interface SnapshotOptions {
  readonly offset?: number;
  readonly limit?: number;
  readonly eventLimit?: number;
}

/** Where a region lies (regions and their statistics both have it). */
type Placed = Pick<MemoryRegion, 'name' | 'base' | 'size' | 'kind'>;

/** Buffers in one page of X_STATE (the reply stays far below the 16 MiB frame limit). */
const MAX_STATE_PAGE = 500;
const DEFAULT_STATE_PAGE = 200;
/** Occupied ranges listed per region. */
const MAX_OCCUPANCY = 4096;

/** Regions sorted by base, for finding the region of an address by binary search. */
function regionFinder(regions: readonly Placed[]): (addr: number) => Placed | undefined {
  // the most specific region wins (a carveout inside its DRAM), as Platform.regionAt does
  const sorted = [...regions].sort((a, b) => a.base - b.base || (a.kind === 'system' ? 1 : 0) - (b.kind === 'system' ? 1 : 0));
  const specific = sorted.filter((r) => r.kind !== 'system');
  const system = sorted.filter((r) => r.kind === 'system');
  const find = (list: Placed[], addr: number): Placed | undefined => {
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

/** Buffers explained, or occupied ranges placed, before a sliced snapshot lets other clients in. */
const STATE_SLICE = { buffers: 25, ranges: 4096 };

/** Occupied ranges by region name, at most MAX_OCCUPANCY each; one pass whatever the number of regions. */
function* occupancyByRegion(regions: readonly Placed[], ranges: Iterable<Occupied>): Generator<void, Map<string, Occupied[]>> {
  const regionOf = regionFinder(regions);
  const occupancy = new Map<string, Occupied[]>();
  let n = 0;
  for (const o of ranges) {
    if (++n % STATE_SLICE.ranges === 0) yield;
    const r = regionOf(o.base);
    if (!r) continue;
    let list = occupancy.get(r.name);
    if (!list) occupancy.set(r.name, (list = []));
    if (list.length < MAX_OCCUPANCY) list.push(o);
  }
  return occupancy;
}

/**
 * The snapshot a scope sees, in slices: it yields after every few buffers explained and every few
 * thousand ranges of memory placed, so that a page of 500 large buffers never holds smafd up.
 * `view` turns each buffer's view into what the caller keeps (the object, or its JSON for X_STATE).
 */
function* snapshotSteps<B>(scope: Scope, options: SnapshotOptions, view: (b: BufferView) => B): Generator<void, Omit<DaemonState, 'buffers'> & { buffers: B[] }> {
  const offset = Math.max(0, options.offset ?? 0);
  const limit = Math.min(MAX_STATE_PAGE, Math.max(0, options.limit ?? DEFAULT_STATE_PAGE));
  const { page, total } = scope.bufferPage(offset, limit);
  const buffers: B[] = [];
  for (const b of page) {
    if (buffers.length > 0 && buffers.length % STATE_SLICE.buffers === 0) yield;
    const e = explain(b);
    buffers.push(view({ ...e, decisions: e.decisionsTotal, holders: scope.holdersOf(b.id), createdAt: b.createdAt }));
  }
  const shared = scope.shared();
  const occupancy = yield* occupancyByRegion(shared.regions, scope.occupied());
  const regions = shared.regions.map((r): RegionView => ({ ...r, occupancy: (occupancy.get(r.name) ?? []).sort((a, b) => a.base - b.base) }));
  return {
    time: Date.now(),
    scope: scope.kind,
    platform: shared.platform,
    regions,
    devices: shared.devices.map((d) => ({ ...d })),
    allocators: shared.allocators,
    secureModule: shared.secureModule,
    firewall: shared.firewall,
    buffers,
    buffersTotal: total,
    offset,
    clients: scope.sessions().map((s) => ({ id: s.id, label: s.label, pid: s.pid, comm: s.comm, ...s.usage(), requests: s.requests, connectedAt: s.connectedAt })),
    limits: shared.limits,
    events: scope.recentEvents(options.eventLimit ?? 200),
    ...scope.figures(),
  };
}

/** The snapshot a scope sees, at once (the dashboard, tests). */
export function snapshot(scope: Scope, options: SnapshotOptions = {}): DaemonState {
  const steps = snapshotSteps(scope, options, (b) => b);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * X_STATE's answer, in slices: each buffer's view is written as JSON in the slice that explains it,
 * so that the last step only joins the pieces. The same JSON as `JSON.stringify(snapshot(...))`.
 */
export function* snapshotJson(scope: Scope, options: SnapshotOptions): Generator<void, string> {
  const state = yield* snapshotSteps(scope, options, (b) => JSON.stringify(b));
  const fields = Object.entries(state).map(([k, v]) => `${JSON.stringify(k)}:${k === 'buffers' ? `[${state.buffers.join(',')}]` : JSON.stringify(v)}`);
  return `{${fields.join(',')}}`;
}
