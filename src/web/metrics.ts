/**
 * Prometheus metrics of smafd (prom-client), served at `/metrics` by the dashboard. Gauges and
 * counters are read from the daemon at scrape time; allocation latencies and denials by kind are
 * observed as the journal records them. Names and meanings: METRIC_DOCS (also in the README).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DaemonContext } from '../daemon/context.ts';
import type { JournalEvent } from '../daemon/journal.ts';

export const METRIC_DOCS: readonly { name: string; type: string; labels: string; help: string }[] = [
  { name: 'smaf_region_size_bytes', type: 'gauge', labels: 'region, kind', help: 'Size of a memory region.' },
  { name: 'smaf_region_bytes_in_use', type: 'gauge', labels: 'region, kind', help: 'Bytes of a region held by buffers.' },
  { name: 'smaf_region_largest_free_bytes', type: 'gauge', labels: 'region', help: 'Largest free contiguous range of a region.' },
  { name: 'smaf_region_fragmentation_ratio', type: 'gauge', labels: 'region', help: 'Fragmentation of a region (0 = one free range).' },
  { name: 'smaf_allocator_bytes_in_use', type: 'gauge', labels: 'allocator', help: 'Bytes an allocator has handed out and not had back.' },
  { name: 'smaf_allocator_buffers_in_use', type: 'gauge', labels: 'allocator', help: 'Buffers an allocator backs now.' },
  { name: 'smaf_allocator_allocations_total', type: 'counter', labels: 'allocator', help: 'Allocations an allocator made.' },
  { name: 'smaf_allocator_failures_total', type: 'counter', labels: 'allocator', help: 'Times an allocator declined, threw or returned unusable memory.' },
  { name: 'smaf_allocation_latency_seconds', type: 'histogram', labels: 'allocator, outcome', help: 'Time the allocators took to choose and allocate a buffer\'s memory (outcome allocated or failed; allocator "none" on failure).' },
  { name: 'smaf_allocation_failures_total', type: 'counter', labels: '', help: 'Buffers that found no memory (ENODEV, ENOMEM, EPERM at allocation).' },
  { name: 'smaf_denials_total', type: 'counter', labels: 'kind, initiator', help: 'Refused accesses, by kind: firewall (a device or the CPU on the bus), attach (a device that may not use the buffer), cpu-map (a CPU mapping of secure memory), grant (the secure module refused a DMA map).' },
  { name: 'smaf_events_total', type: 'counter', labels: 'kind', help: 'Events of the daemon\'s log, by kind.' },
  { name: 'smaf_clients', type: 'gauge', labels: '', help: 'Connected clients.' },
  { name: 'smaf_buffers', type: 'gauge', labels: 'state', help: 'Live buffers, allocated or deferred (no memory yet).' },
  { name: 'smaf_buffer_bytes', type: 'gauge', labels: 'state', help: 'Bytes of live buffers, allocated or deferred.' },
];

/** What kind of refusal a denial event is (the label of smaf_denials_total). */
export function denialKind(e: Pick<JournalEvent, 'actor' | 'message'>): 'firewall' | 'attach' | 'cpu-map' | 'grant' {
  if (e.message.startsWith('firewall refused')) return 'firewall';
  if (e.message.startsWith('Cannot attach')) return 'attach';
  if (e.actor === 'cpu') return 'cpu-map';
  return 'grant';
}

const LATENCY_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];

export interface SmafMetrics {
  readonly registry: Registry;
  close(): void;
}

export function createMetrics(ctx: DaemonContext): SmafMetrics {
  const registry = new Registry();
  const help = (name: string): string => METRIC_DOCS.find((m) => m.name === name)!.help;
  const gauge = (name: string, labelNames: string[], collect: (g: Gauge) => void): void => {
    registry.registerMetric(new Gauge({ name, help: help(name), labelNames, registers: [], collect() { this.reset(); collect(this); } }));
  };
  const counterFrom = (name: string, labelNames: string[], values: () => [Record<string, string>, number][]): void => {
    registry.registerMetric(new Counter({
      name, help: help(name), labelNames, registers: [],
      collect() {
        this.reset();
        for (const [labels, v] of values()) this.inc(labels, v);
      },
    }));
  };
  const regions = () => ctx.platform.regionStats();
  gauge('smaf_region_size_bytes', ['region', 'kind'], (g) => regions().forEach((r) => g.set({ region: r.name, kind: r.kind }, r.size)));
  gauge('smaf_region_bytes_in_use', ['region', 'kind'], (g) => regions().forEach((r) => g.set({ region: r.name, kind: r.kind }, r.inUse)));
  gauge('smaf_region_largest_free_bytes', ['region'], (g) => regions().forEach((r) => g.set({ region: r.name }, r.largestFree)));
  gauge('smaf_region_fragmentation_ratio', ['region'], (g) => regions().forEach((r) => g.set({ region: r.name }, r.fragmentation)));
  const allocators = () => ctx.smaf.registry.allStats();
  gauge('smaf_allocator_bytes_in_use', ['allocator'], (g) => allocators().forEach((a) => g.set({ allocator: a.name }, a.bytesInUse)));
  gauge('smaf_allocator_buffers_in_use', ['allocator'], (g) => allocators().forEach((a) => g.set({ allocator: a.name }, a.buffersInUse)));
  counterFrom('smaf_allocator_allocations_total', ['allocator'], () => allocators().map((a) => [{ allocator: a.name }, a.allocations]));
  counterFrom('smaf_allocator_failures_total', ['allocator'], () => allocators().map((a) => [{ allocator: a.name }, a.failures]));
  counterFrom('smaf_events_total', ['kind'], () => Object.entries(ctx.platform.events.counts).map(([kind, n]) => [{ kind }, n]));
  gauge('smaf_clients', [], (g) => g.set(ctx.sessions.size));
  gauge('smaf_buffers', ['state'], (g) => {
    const bufs = ctx.smaf.buffers;
    g.set({ state: 'allocated' }, bufs.filter((b) => b.allocated).length);
    g.set({ state: 'deferred' }, bufs.filter((b) => !b.allocated).length);
  });
  gauge('smaf_buffer_bytes', ['state'], (g) => {
    const bufs = ctx.smaf.buffers;
    g.set({ state: 'allocated' }, bufs.filter((b) => b.allocated).reduce((s, b) => s + b.length, 0));
    g.set({ state: 'deferred' }, bufs.filter((b) => !b.allocated).reduce((s, b) => s + b.length, 0));
  });

  // observed as they happen
  const latency = new Histogram({ name: 'smaf_allocation_latency_seconds', help: help('smaf_allocation_latency_seconds'), labelNames: ['allocator', 'outcome'], buckets: LATENCY_BUCKETS, registers: [registry] });
  const failures = new Counter({ name: 'smaf_allocation_failures_total', help: help('smaf_allocation_failures_total'), registers: [registry] });
  const denials = new Counter({ name: 'smaf_denials_total', help: help('smaf_denials_total'), labelNames: ['kind', 'initiator'], registers: [registry] });
  const observe = (e: JournalEvent): void => {
    if ((e.kind === 'allocate' || e.kind === 'allocate-failed') && e.latencyUs !== undefined) {
      latency.observe({ allocator: e.kind === 'allocate' ? e.actor : 'none', outcome: e.kind === 'allocate' ? 'allocated' : 'failed' }, e.latencyUs / 1e6);
    }
    if (e.kind === 'allocate-failed') failures.inc();
    if (e.kind === 'denial') denials.inc({ kind: denialKind(e), initiator: e.actor });
  };
  for (const e of ctx.journal.all()) observe(e);
  const unsubscribe = ctx.journal.subscribe(observe);
  return { registry, close: unsubscribe };
}
