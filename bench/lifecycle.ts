/**
 * core.lifecycle: create, attach, map, unmap, release (scrub included) in-process, against
 * Buffer.fill(0) of the same size (the memory bandwidth limit). The `_dirty` variants have a device
 * write every byte before each iteration, so the scrub has real bytes to clear.
 */
import { Bench } from 'tinybench';
import { DmaDirection, dmaWrite } from '../src/core/index.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';

export async function benchLifecycle(ctx: BenchContext): Promise<Metric[]> {
  const { smaf, platform } = createSmafSystem();
  const display = platform.device('display');
  const out: Metric[] = [];
  const sizes: [string, number][] = [['4k', 4096], ['1m', 1 << 20], ['32m', 32 << 20]];
  const bar = ctx.progress('core lifecycle', sizes.length);
  for (const [label, size] of sizes) {
    const fillBuf = Buffer.alloc(size);
    const dirty = new Uint8Array(size).fill(0xa5);
    const cycle = () => {
      const b = smaf.create(size);
      const a = b.attach(display);
      b.map(a, DmaDirection.TO_DEVICE);
      b.unmap(a);
      b.put();
    };
    const dirtyCycle = () => {
      const b = smaf.create(size);
      const a = b.attach(display);
      b.map(a, DmaDirection.FROM_DEVICE);
      return { b, a };
    };
    let pending: ReturnType<typeof dirtyCycle> | null = null;
    const bench = new Bench({ time: ctx.quick ? 300 : 1500, warmupTime: 100 });
    bench.add('lifecycle', cycle);
    bench.add('fill', () => void fillBuf.fill(0));
    // the setup of a dirty iteration (writing every byte) is not timed, but tinybench's time budget
    // counts only timed work: bound this one by iterations
    const dirtyBench = new Bench({ time: 1, iterations: ctx.quick ? 20 : 100, warmup: false });
    dirtyBench.add('lifecycle-dirty', () => {
      const { b, a } = pending!;
      b.unmap(a);
      b.put();
    }, {
      beforeEach: () => {
        pending = dirtyCycle();
        dmaWrite(pending.a, 0, dirty);
      },
    });
    await bench.run();
    await dirtyBench.run();
    const [l, f] = bench.tasks.map((t) => t.result);
    const ld = dirtyBench.tasks[0]?.result;
    if (l?.state !== 'completed' || ld?.state !== 'completed' || f?.state !== 'completed') throw new Error('lifecycle benchmark did not complete');
    const us = (ms: number) => ms * 1000;
    if (label === '4k') out.push(metric('core.lifecycle.4k', us(l.latency.mean), null, 'µs/op'));
    else {
      out.push(metric(`core.lifecycle.${label}`, us(l.latency.mean), us(f.latency.mean), 'µs/op', `vs Buffer.fill(0) of ${label}`));
      out.push(metric(`core.lifecycle.${label}_dirty`, us(ld.latency.mean), us(f.latency.mean), 'µs/op', 'every byte written by a device first (not timed): the scrub clears real bytes'));
    }
    bar.tick();
  }
  bar.stop();
  if (platform.bytesInUse !== 0) throw new Error('lifecycle benchmark leaked memory');
  return out;
}
