/** A bounded time series of allocator and region usage, for the dashboard's sparklines. */
import type { Smaf } from '../core/index.ts';

export interface Sample {
  readonly time: number;
  readonly regions: Record<string, { inUse: number; failures: number }>;
  readonly allocators: Record<string, { inUse: number; failures: number }>;
}

export class StatsHistory {
  private readonly samples: Sample[] = [];

  constructor(private readonly smaf: Smaf, private readonly capacity = 120) {}

  /** Record the current usage (skipped when nothing changed since the last sample). */
  sample(): void {
    const s: Sample = {
      time: Date.now(),
      regions: Object.fromEntries(this.smaf.platform.regionStats().map((r) => [r.name, { inUse: r.inUse, failures: r.failures }])),
      allocators: Object.fromEntries(this.smaf.registry.allStats().map((a) => [a.name, { inUse: a.bytesInUse, failures: a.failures }])),
    };
    const last = this.samples.at(-1);
    if (last && JSON.stringify(last.regions) === JSON.stringify(s.regions) && JSON.stringify(last.allocators) === JSON.stringify(s.allocators) && s.time - last.time < 5000) return;
    this.samples.push(s);
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }

  list(): readonly Sample[] {
    return this.samples;
  }
}
