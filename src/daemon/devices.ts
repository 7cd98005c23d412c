/**
 * The view per device (X_DEVICES, `smaf devices`, the dashboard's devices panel): each device with
 * its constraints, its IOMMU domain (the IOVA window, how much is mapped, the largest free range)
 * and every buffer it has mapped now: the direction, the addresses it emits (IOVAs or physical) and,
 * for secure buffers, the grants the secure module made it at map.
 *
 * Who sees what is one argument: `visible` says which buffers the asker may see (a client: those it
 * holds; the operator: null, every buffer). A client also gets no domain usage, bus counters or
 * holders: they describe other clients' work.
 */
import { directionName, type SmafBuffer } from '../core/index.ts';
import type { DaemonContext } from './context.ts';
import type { DeviceMapping, DevicesReport, DeviceView } from '../uapi/replies.ts';
// the wire types live in uapi (the client reads them without importing the daemon)
export type { DevicesReport } from '../uapi/replies.ts';

/** Mappings listed per device, ranges and grants per mapping: a reply stays small whatever the daemon holds. */
const MAX_MAPPINGS = 200;
const MAX_RANGES = 8;

/** The buffers to look at: the asker's own, or every buffer with memory (only those can be mapped). */
function candidates(ctx: DaemonContext, visible: ((b: SmafBuffer) => boolean) | null, held: readonly SmafBuffer[] | null): SmafBuffer[] {
  if (held) return [...new Set(held)].filter((b) => !b.released).sort((a, b) => a.id - b.id);
  const seen = new Set<number>();
  const out: SmafBuffer[] = [];
  for (const r of ctx.smaf.ownedRanges()) {
    if (seen.has(r.owner)) continue;
    seen.add(r.owner);
    const b = ctx.smaf.find(r.owner);
    if (b && (visible === null || visible(b))) out.push(b);
  }
  return out.sort((a, b) => a.id - b.id);
}

function mappingOf(ctx: DaemonContext, b: SmafBuffer, att: SmafBuffer['attachments'][number], operator: boolean): DeviceMapping {
  const m = att.mapping!;
  return {
    buffer: b.id,
    label: b.label,
    attachment: att.id,
    direction: directionName(m.direction),
    length: b.length,
    secure: b.secure,
    ranges: m.segments.slice(0, MAX_RANGES).map((s) => ({ start: s.dma, length: s.length })),
    rangesTotal: m.segments.length,
    grants: m.grants.slice(0, MAX_RANGES).map((g) => ({ addr: g.addr, size: g.size })),
    grantsTotal: m.grants.length,
    holders: operator ? ctx.holdersOf(b.id) : [],
  };
}

/**
 * Every device and what it maps. `visible`: null for the operator (every buffer); else which
 * buffers the asker may see, and `held` the buffers it holds (so a client's view costs what it holds).
 */
export function devicesView(ctx: DaemonContext, visible: ((b: SmafBuffer) => boolean) | null = null, held: readonly SmafBuffer[] | null = null): DevicesReport {
  const operator = visible === null;
  const byDevice = new Map<string, { list: DeviceMapping[]; total: number }>();
  for (const b of candidates(ctx, visible, held)) {
    for (const att of b.attachments) {
      if (!att.mapping) continue;
      let d = byDevice.get(att.device.name);
      if (!d) byDevice.set(att.device.name, (d = { list: [], total: 0 }));
      d.total++;
      if (d.list.length < MAX_MAPPINGS) d.list.push(mappingOf(ctx, b, att, operator));
    }
  }
  const bus = operator ? ctx.platform.bus.stats() : {};
  const devices = ctx.platform.devices.map((dev): DeviceView => {
    const iommu = dev.iommu ? ctx.platform.iommu(dev) : null;
    const counters = bus[dev.name];
    const mine = byDevice.get(dev.name);
    return {
      name: dev.name,
      class: dev.class,
      description: dev.description ?? null,
      node: dev.node ?? null,
      dmaMask: dev.dmaMask,
      iommu: dev.iommu,
      secure: dev.secure,
      maxSegmentSize: dev.maxSegmentSize,
      domain: iommu
        ? { size: iommu.space, mappedBytes: operator ? iommu.mappedBytes : null, mappings: operator ? iommu.mappedCount : null, largestFree: operator ? iommu.largestFree() : null }
        : null,
      mappings: mine?.list ?? [],
      mappingsTotal: mine?.total ?? 0,
      bus: operator ? { bytesRead: counters?.bytesRead ?? 0, bytesWritten: counters?.bytesWritten ?? 0, denials: counters?.denials ?? 0 } : null,
    };
  });
  return { scope: operator ? 'all' : 'own', devices };
}
