/**
 * cma.fit: finding a 2048-page aligned range in a 1 GiB pool that is 50% fragmented (a checkerboard
 * of 8-page allocations), word-at-a-time search vs a naive bit-by-bit first fit, same bitmap, same
 * run. `fragmented` has one free aligned window at the end; `nofit` has none.
 */
import { Bench } from 'tinybench';
import { Bitmap } from '../src/platform/bitmap.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';

const PAGES = (1 << 30) / 4096;
const WANT = 2048;

export function checkerboard(withWindow: boolean): Bitmap {
  const b = new Bitmap(PAGES);
  const windowStart = PAGES - WANT;
  for (let p = 0; p < PAGES; p += 16) {
    if (withWindow && p >= windowStart) break;
    b.set(p, 8);
  }
  return b;
}

export async function benchCmaFit(ctx: BenchContext): Promise<Metric[]> {
  const fit = checkerboard(true);
  const nofit = checkerboard(false);
  if (fit.findZeroArea(WANT, WANT) !== PAGES - WANT || fit.findZeroAreaNaive(WANT, WANT) !== PAGES - WANT) throw new Error('cma fit benchmark: wrong answer');
  if (nofit.findZeroArea(WANT, WANT) !== -1 || nofit.findZeroAreaNaive(WANT, WANT) !== -1) throw new Error('cma fit benchmark: found a range that does not exist');
  const bench = new Bench({ time: ctx.quick ? 400 : 2000, warmupTime: 100 });
  bench.add('ours-fit', () => void fit.findZeroArea(WANT, WANT));
  bench.add('naive-fit', () => void fit.findZeroAreaNaive(WANT, WANT));
  bench.add('ours-nofit', () => void nofit.findZeroArea(WANT, WANT));
  bench.add('naive-nofit', () => void nofit.findZeroAreaNaive(WANT, WANT));
  await bench.run();
  const r = bench.tasks.map((t) => t.result);
  const mean = (i: number) => {
    const x = r[i];
    if (x?.state !== 'completed') throw new Error('cma fit benchmark did not complete');
    return x.latency.mean * 1000;
  };
  return [
    metric('cma.fit.fragmented_ratio', mean(0), mean(1), 'µs', '2048-page aligned fit in a 50% fragmented 1 GiB pool, ours vs naive first fit'),
    metric('cma.fit.nofit_ratio', mean(2), mean(3), 'µs', 'same pool with no fit: the whole search fails'),
  ];
}
