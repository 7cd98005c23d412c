/** A JSON snapshot of everything smafd knows, for `smaf info`, the dashboard and scripts. Read-only. */
import { explain, type Explanation } from '../core/index.ts';
import type { SmafEvent, RegionStats } from '../platform/index.ts';
import type { DaemonContext } from './context.ts';

export interface RegionView extends RegionStats {
  /** Occupied ranges with their owner, to scale on the memory map. */
  readonly occupancy: readonly { base: number; length: number; buffer: number; allocator: string; secure: boolean }[];
}

export interface BufferView extends Omit<Explanation, 'decisions'> {
  readonly holders: readonly string[];
  readonly createdAt: number;
  readonly decisions: number;
}

export interface DaemonState {
  readonly time: number;
  readonly platform: { name: string; pageSize: number };
  readonly regions: readonly RegionView[];
  readonly devices: readonly Record<string, unknown>[];
  readonly allocators: readonly Record<string, unknown>[];
  readonly secureModule: string | null;
  readonly firewall: string;
  readonly buffers: readonly BufferView[];
  readonly clients: readonly { id: number; label: string; pid: number | null; comm: string | null; fds: number; buffers: number; bytes: number; requests: number; connectedAt: number }[];
  readonly limits: Record<string, number>;
  readonly events: readonly SmafEvent[];
  readonly eventCounts: Record<string, number>;
  readonly bus: Record<string, unknown>;
  readonly tokens: number;
}

export function snapshot(ctx: DaemonContext, eventLimit = 200): DaemonState {
  const { smaf, platform } = ctx;
  const buffers = smaf.buffers.map((b): BufferView => {
    const e = explain(b);
    return { ...e, decisions: e.decisions.length, holders: ctx.holdersOf(b.id), createdAt: b.createdAt };
  });
  const regions = platform.regionStats().map((r): RegionView => {
    const occupancy = [];
    for (const b of smaf.buffers) {
      for (const s of b.segments) {
        if (platform.regionAt(s.phys)?.name === r.name) occupancy.push({ base: s.phys, length: s.length, buffer: b.id, allocator: b.backing!.allocator, secure: b.secure });
      }
    }
    occupancy.sort((a, b) => a.base - b.base);
    return { ...r, occupancy };
  });
  const descriptions = new Map(smaf.registry.allocators.map((a) => [a.name, a.description ?? '']));
  return {
    time: Date.now(),
    platform: { name: platform.name, pageSize: platform.pageSize },
    regions,
    devices: platform.devices.map((d) => ({ ...d })),
    allocators: smaf.registry.allStats().map((s) => ({ ...s, description: descriptions.get(s.name) })),
    secureModule: smaf.secureModule?.name ?? null,
    firewall: platform.bus.firewall.name,
    buffers,
    clients: [...ctx.sessions].map((s) => ({ id: s.id, label: s.label, pid: s.pid, comm: s.comm, ...s.usage(), requests: s.requests, connectedAt: s.connectedAt })),
    limits: { ...ctx.limits.settings },
    events: platform.events.list({ limit: eventLimit }),
    eventCounts: { ...platform.events.counts },
    bus: platform.bus.stats(),
    tokens: ctx.tokens.size,
  };
}
