/** One benchmark figure, as written to bench/results.json. */
import type { Paired, Spread } from './rounds.ts';

export interface Metric {
  readonly metric: string;
  readonly value: number;
  /** The limit it is compared against, measured in the same run (null when the figure is a share). */
  readonly baseline: number | null;
  /**
   * value / baseline (lower is better for times, higher for throughputs and shares); for a figure
   * measured in paired rounds, the median of the rounds' own ratios.
   */
  readonly ratio: number | null;
  readonly unit: string;
  /** Paired rounds: how their ratios spread (the middle half and the extremes). */
  readonly spread?: Spread;
  readonly note?: string;
}

export function metric(metric: string, value: number, baseline: number | null, unit: string, note?: string): Metric {
  return { metric, value, baseline, ratio: baseline ? value / baseline : null, unit, ...(note ? { note } : {}) };
}

/** A figure measured in paired rounds against its baseline (rounds.ts). */
export function pairedMetric(name: string, p: Paired, unit: string, note?: string): Metric {
  return { metric: name, value: p.value, baseline: p.baseline, ratio: p.ratio, unit, spread: p.spread, ...(note ? { note } : {}) };
}

export interface BenchContext {
  readonly quick: boolean;
  /** Progress for long loops (a bar on a terminal, silent otherwise). */
  progress(label: string, total: number): { tick(n?: number): void; stop(): void };
}
