/**
 * A figure and its baseline measured in paired rounds: each round measures both, back to back, and
 * the order alternates from one round to the next (a b, b a, a b...), so that load that comes and
 * goes on a shared machine hits both sides of a pair alike and neither side always goes first. Each
 * round gives a ratio; the figure's ratio is the median of those, and their spread (the middle half
 * and the extremes) says how much the machine moved it.
 */
import { percentile } from './spawn.ts';

const sorted = (v: readonly number[]): number[] => [...v].sort((x, y) => x - y);
export const median = (v: readonly number[]): number => percentile(sorted(v), 50);

/** How the per-round ratios of a paired figure spread. */
export interface Spread {
  readonly rounds: number;
  readonly min: number;
  readonly p25: number;
  readonly p75: number;
  readonly max: number;
}

export interface Paired {
  /** The median of the figure's rounds. */
  readonly value: number;
  /** The median of the baseline's rounds. */
  readonly baseline: number;
  /** The median of the per-round ratios (value / baseline of each round). */
  readonly ratio: number;
  readonly spread: Spread;
}

export function spreadOf(ratios: readonly number[]): Spread {
  const s = sorted(ratios);
  return { rounds: s.length, min: s[0]!, p25: percentile(s, 25), p75: percentile(s, 75), max: s.at(-1)! };
}

/** Paired rounds of `a` (the figure) and `b` (its baseline), each call returning one round's measure. */
export async function paired(rounds: number, a: () => Promise<number> | number, b: () => Promise<number> | number): Promise<Paired> {
  const as: number[] = [];
  const bs: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let x: number;
    let y: number;
    if (r % 2 === 0) {
      x = await a();
      y = await b();
    } else {
      y = await b();
      x = await a();
    }
    as.push(x);
    bs.push(y);
    ratios.push(x / y);
  }
  return { value: median(as), baseline: median(bs), ratio: median(ratios), spread: spreadOf(ratios) };
}

/** Microseconds per call of an async operation: the median of `n` timed calls. */
export async function timed(n: number, op: () => Promise<void>): Promise<number> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op();
    out.push((performance.now() - t) * 1000);
  }
  return median(out);
}

/** CPU microseconds (user + system, every thread of this process) per call of `op`, over `n` calls. */
export function cpuTimed(n: number, op: () => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) op();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}
