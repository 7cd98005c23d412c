/**
 * Moving frame bytes, where a media pipeline pays:
 * - core.dma_copy.8m: a device behind an IOMMU copies 8 MiB between two of its mapped buffers
 *   in-process (through its page table and the bus), vs `Buffer.copy` of 8 MiB;
 * - daemon.data.write_read_8m: a client WRITEs 8 MiB through a CPU mapping and READs it back over
 *   the socket, vs the echo server receiving and returning the same two frames (same bytes, same
 *   round trips, same client code);
 * - daemon.dma_copy.8m: the DMA_COPY op for 8 MiB, vs the echo server's round trip of the same
 *   frame plus `Buffer.copy` of 8 MiB.
 */
import { Bench } from 'tinybench';
import { SmafClient } from '../src/client/client.ts';
import { DmaDirection, dmaCopy, dmaWrite } from '../src/core/index.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { Op } from '../src/uapi/index.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';
import { startServer } from './spawn.ts';

const SIZE = 8 << 20;

function body(n: number, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(n);
  fill(new DataView(b.buffer));
  return b;
}

/** tinybench's mean latency of each task, in µs, in the order they were added. */
async function means(bench: Bench): Promise<number[]> {
  await bench.run();
  return bench.tasks.map((t) => {
    if (t.result.state !== 'completed') throw new Error(`benchmark ${t.name} did not complete`);
    return t.result.latency.mean * 1000;
  });
}

async function coreDmaCopy(ctx: BenchContext): Promise<Metric> {
  const { smaf, platform } = createSmafSystem();
  const gpu = platform.device('gpu');
  const [src, dst] = [smaf.create(SIZE), smaf.create(SIZE)];
  const [sa, da] = [src.attach(gpu), dst.attach(gpu)];
  src.map(sa, DmaDirection.BIDIRECTIONAL);
  dst.map(da, DmaDirection.BIDIRECTIONAL);
  dmaWrite(sa, 0, new Uint8Array(SIZE).fill(0xa5)); // real bytes to move
  const [a, b] = [Buffer.alloc(SIZE, 0xa5), Buffer.alloc(SIZE)];
  const bench = new Bench({ time: ctx.quick ? 200 : 2000, warmupTime: 50 });
  bench.add('dma copy', () => void dmaCopy(da, 0, sa, 0, SIZE));
  bench.add('Buffer.copy', () => void a.copy(b));
  const [dma, copy] = await means(bench);
  return metric('core.dma_copy.8m', dma!, copy!, 'µs', 'gpu (IOMMU) copies 8 MiB between two mapped buffers in-process, vs Buffer.copy of 8 MiB');
}

/** A client that WRITEs then READs 8 MiB through mapping `m` of `fd` (raw requests: the echo server answers them too). */
function writeRead(c: SmafClient, fd: number, m: number): () => Promise<void> {
  const write = body(12 + SIZE, (v) => v.setUint32(0, m, true));
  write.fill(0x3c, 12);
  const read = body(16, (v) => { v.setUint32(0, m, true); v.setUint32(12, SIZE, true); });
  return async () => {
    await c.request(Op.WRITE, fd, write);
    const r = await c.request(Op.READ, fd, read);
    if (r.result < 0) throw new Error(`READ failed: ${r.result}`);
  };
}

async function daemonData(ctx: BenchContext): Promise<Metric[]> {
  const [daemon, echo] = await Promise.all([startServer('smafd'), startServer('echo')]);
  try {
    const sc = await SmafClient.connect(daemon.socket, { timeoutMs: 60_000 });
    const ec = await SmafClient.connect(echo.socket, { timeoutMs: 60_000 });
    const fd = await sc.create(SIZE);
    const m = await sc.mmap(fd, 0, SIZE, 3);
    const [src, dst] = [await sc.create(SIZE), await sc.create(SIZE)];
    const [sa, da] = [await sc.attach(src, 'gpu'), await sc.attach(dst, 'gpu')];
    await sc.map(src, sa, 0);
    await sc.map(dst, da, 0);
    const copy = body(40, (v) => { v.setUint32(0, da, true); v.setInt32(4, src, true); v.setUint32(8, sa, true); v.setBigUint64(32, BigInt(SIZE), true); });
    const [a, b] = [Buffer.alloc(SIZE, 0xa5), Buffer.alloc(SIZE)];
    const bench = new Bench({ time: ctx.quick ? 300 : 4000, warmupTime: ctx.quick ? 50 : 200 });
    bench.add('smafd write+read', writeRead(sc, fd, m));
    bench.add('echo write+read', writeRead(ec, fd, m));
    bench.add('smafd dma copy', async () => {
      const r = await sc.request(Op.DMA_COPY, dst, copy);
      if (r.result !== SIZE) throw new Error(`DMA_COPY failed: ${r.result}`);
    });
    bench.add('echo + Buffer.copy', async () => {
      await ec.request(Op.DMA_COPY, dst, copy);
      a.copy(b);
    });
    const [wr, ewr, dc, edc] = await means(bench);
    await Promise.all([sc.close(), ec.close()]);
    return [
      metric('daemon.data.write_read_8m', wr!, ewr!, 'µs', 'WRITE 8 MiB through a CPU mapping and READ it back over the socket, vs the echo server returning the same two frames'),
      metric('daemon.dma_copy.8m', dc!, edc!, 'µs', 'DMA_COPY of 8 MiB by gpu over the socket, vs the echo server\'s round trip of the same frame plus Buffer.copy of 8 MiB'),
    ];
  } finally {
    daemon.stop();
    echo.stop();
  }
}

export async function benchDataPath(ctx: BenchContext): Promise<Metric[]> {
  return [await coreDmaCopy(ctx), ...(await daemonData(ctx))];
}
