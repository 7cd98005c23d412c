/** memory.overhead: heap growth per live 4 KiB buffer (unallocated, allocated) vs a raw 4 KiB Uint8Array. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { metric, type BenchContext, type Metric } from './metric.ts';

export async function benchMemory(ctx: BenchContext): Promise<Metric[]> {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(new URL('./memory-child.ts', import.meta.url)), ctx.quick ? '5000' : '10000'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`memory benchmark failed: ${r.stderr}`);
  const m = JSON.parse(r.stdout) as { unallocated: number; allocated: number; raw: number };
  return [
    metric('memory.overhead.unallocated', m.unallocated, m.raw, 'B/buffer', 'heap and ArrayBuffer growth per live unallocated 4 KiB buffer, vs a raw 4 KiB Uint8Array'),
    metric('memory.overhead.allocated', m.allocated, m.raw, 'B/buffer', 'allocated (CMA) and mapped by the display; the bytes themselves are backed only once written'),
  ];
}
