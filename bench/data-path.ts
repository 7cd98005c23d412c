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
import { SmafClient } from '../src/client/client.ts';
import { DmaDirection, dmaCopy, dmaWrite } from '../src/core/index.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { Op } from '../src/uapi/index.ts';
import { metric, type BenchContext, type Metric } from './metric.ts';
import { cpuPerOp } from './lifecycle.ts';
import { alternate, timed } from './rounds.ts';
import { processCpuMs, startServer } from './spawn.ts';

const SIZE = 8 << 20;

function body(n: number, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(n);
  fill(new DataView(b.buffer));
  return b;
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
  // CPU time, rounds of each in turn: the machine is shared
  const n = ctx.quick ? 30 : 60;
  const copy = cpuPerOp(() => void a.copy(b), n);
  const dma = cpuPerOp(() => void dmaCopy(da, 0, sa, 0, SIZE), n);
  return metric('core.dma_copy.8m', dma, copy, 'µs', 'gpu (IOMMU) copies 8 MiB between two mapped buffers in-process, vs Buffer.copy of 8 MiB (CPU time, median of 5 rounds)');
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
    // real bytes to move: memory never written reads as zeros and would copy for free
    await sc.write(src, await sc.mmap(src, 0, SIZE, 3), 0, new Uint8Array(SIZE).fill(0xa5));
    const copy = body(40, (v) => { v.setUint32(0, da, true); v.setInt32(4, src, true); v.setUint32(8, sa, true); v.setBigUint64(32, BigInt(SIZE), true); });
    const [a, b] = [Buffer.alloc(SIZE, 0xa5), Buffer.alloc(SIZE)];
    const rounds = ctx.quick ? 4 : 12;
    const [wr, ewr] = await alternate(rounds, () => timed(2, writeRead(sc, fd, m)), () => timed(2, writeRead(ec, fd, m)));
    const cpu0 = processCpuMs(daemon.process.pid);
    const [dc, edc] = await alternate(rounds, () => timed(5, async () => {
      const r = await sc.request(Op.DMA_COPY, dst, copy);
      if (r.result !== SIZE) throw new Error(`DMA_COPY failed: ${r.result}`);
    }), () => timed(5, async () => {
      await ec.request(Op.DMA_COPY, dst, copy);
      a.copy(b);
    }));
    const cpu1 = processCpuMs(daemon.process.pid);
    const cpuNote = cpu0 !== null && cpu1 !== null ? `; smafd used ${(((cpu1 - cpu0) * 1000) / (rounds * 5)).toFixed(0)} µs of CPU per copy` : '';
    await Promise.all([sc.close(), ec.close()]);
    return [
      metric('daemon.data.write_read_8m', wr, ewr, 'µs', 'WRITE 8 MiB through a CPU mapping and READ it back over the socket, vs the echo server returning the same two frames'),
      metric('daemon.dma_copy.8m', dc, edc, 'µs', `DMA_COPY of 8 MiB by gpu over the socket, vs the echo server's round trip of the same frame plus Buffer.copy of 8 MiB${cpuNote}`),
    ];
  } finally {
    daemon.stop();
    echo.stop();
  }
}

export async function benchDataPath(ctx: BenchContext): Promise<Metric[]> {
  return [await coreDmaCopy(ctx), ...(await daemonData(ctx))];
}
