/** One benchmark figure, as written to bench/results.json. */
export interface Metric {
  readonly metric: string;
  readonly value: number;
  /** The limit it is compared against, measured in the same run (null when the figure is a share). */
  readonly baseline: number | null;
  /** value / baseline (lower is better for times, higher for throughputs and shares). */
  readonly ratio: number | null;
  readonly unit: string;
  readonly note?: string;
}

export function metric(metric: string, value: number, baseline: number | null, unit: string, note?: string): Metric {
  return { metric, value, baseline, ratio: baseline ? value / baseline : null, unit, ...(note ? { note } : {}) };
}

export interface BenchContext {
  readonly quick: boolean;
  /** Progress for long loops (a bar on a terminal, silent otherwise). */
  progress(label: string, total: number): { tick(n?: number): void; stop(): void };
}
