/**
 * cma.fit: finding a 2048-page (8 MiB) range with CMA's alignment (256 pages, 1 MiB: smaf-cma's
 * cap, as CONFIG_CMA_ALIGNMENT=8) in a 1 GiB pool that is 50% fragmented: a checkerboard of
 * 64-page allocations (64 used, 64 free). Word-at-a-time search vs a naive bit-by-bit first fit over
 * the same bitmap, in the same run. `fragmented` has one free window at the end; `nofit` has none.
 */
import { Bench } from 'tinybench';
import { Bitmap } from '../src/platform/bitmap.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';

const PAGES = (1 << 30) / 4096;
const WANT = 2048;
const ALIGN = 256;
const RUN = 64;

export function checkerboard(withWindow: boolean): Bitmap {
  const b = new Bitmap(PAGES);
  const windowStart = PAGES - WANT;
  for (let p = 0; p < PAGES; p += 2 * RUN) {
    if (withWindow && p >= windowStart) break;
    b.set(p + RUN, RUN);
  }
  return b;
}

export async function benchCmaFit(ctx: BenchContext): Promise<Metric[]> {
  const fit = checkerboard(true);
  const nofit = checkerboard(false);
  if (fit.findZeroArea(WANT, ALIGN) !== PAGES - WANT || fit.findZeroAreaNaive(WANT, ALIGN) !== PAGES - WANT) throw new Error('cma fit benchmark: wrong answer');
  if (nofit.findZeroArea(WANT, ALIGN) !== -1 || nofit.findZeroAreaNaive(WANT, ALIGN) !== -1) throw new Error('cma fit benchmark: found a range that does not exist');
  const bench = new Bench({ time: ctx.quick ? 400 : 2000, warmupTime: 100 });
  bench.add('ours-fit', () => void fit.findZeroArea(WANT, ALIGN));
  bench.add('naive-fit', () => void fit.findZeroAreaNaive(WANT, ALIGN));
  bench.add('ours-nofit', () => void nofit.findZeroArea(WANT, ALIGN));
  bench.add('naive-nofit', () => void nofit.findZeroAreaNaive(WANT, ALIGN));
  await bench.run();
  const r = bench.tasks.map((t) => t.result);
  const mean = (i: number) => {
    const x = r[i];
    if (x?.state !== 'completed') throw new Error('cma fit benchmark did not complete');
    return x.latency.mean * 1000;
  };
  return [
    metric('cma.fit.fragmented_ratio', mean(0), mean(1), 'µs', '8 MiB at 1 MiB alignment in a 1 GiB pool, half used in 64-page runs: word-at-a-time vs naive bit-by-bit'),
    metric('cma.fit.nofit_ratio', mean(2), mean(3), 'µs', 'same pool with no fit: the whole search fails'),
  ];
}
