/**
 * A figure and its baseline measured in alternating rounds (a, b, a, b...), each round's median
 * kept and the median of those reported: on a shared machine, load that comes and goes hits both.
 */
import { percentile } from './spawn.ts';

const median = (v: number[]): number => percentile([...v].sort((x, y) => x - y), 50);

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

export async function alternate(rounds: number, a: () => Promise<number>, b: () => Promise<number>): Promise<[number, number]> {
  const as: number[] = [];
  const bs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    as.push(await a());
    bs.push(await b());
  }
  return [median(as), median(bs)];
}
