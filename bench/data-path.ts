/**
 * Moving frame bytes, where a media pipeline pays:
 * - core.dma_copy.8m: a device behind an IOMMU copies 8 MiB between two of its mapped buffers
 *   in-process (through its page table and the bus), vs `Buffer.copy` of 8 MiB;
 * - daemon.data.write_read_8m: a client WRITEs 8 MiB through a CPU mapping and READs it back over
 *   the socket, vs the echo server receiving and returning the same two frames (same bytes, same
 *   round trips, same client code);
 * - daemon.dma_copy.8m: the DMA_COPY op for 8 MiB, vs the echo server's round trip of the same
 *   frame plus `Buffer.copy` of 8 MiB;
 * - core.zero_copy.share_release.256m: what smafd does for a C program's 256 MiB buffer under
 *   zero-copy, sharing its pages with the buffer's file at the first mmap and scrubbing them at the
 *   last close, vs one memset of 256 MiB (what scrubbing it by writing would cost at least).
 */
import { closeSync } from 'node:fs';
import { SmafClient } from '../src/client/client.ts';
import { BufferFiles } from '../src/daemon/buffer-files.ts';
import { loadAddon } from '../src/native/addon.ts';
import { DmaDirection, dmaCopy, dmaWrite } from '../src/core/index.ts';
import { createSmafSystem } from '../src/presets/default.ts';
import { Op } from '../src/uapi/index.ts';
import { pairedMetric, type BenchContext, type Metric } from './metric.ts';
import { cpuTimed, paired, timed } from './rounds.ts';
import { processCpuMs, startServer } from './spawn.ts';

const SIZE = 8 << 20;

function body(n: number, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(n);
  fill(new DataView(b.buffer));
  return b;
}

/** Copies of each side before the rounds: the JIT has compiled both, and every page has been touched. */
const WARM_UP = 10;

async function coreDmaCopy(ctx: BenchContext): Promise<Metric> {
  const { smaf, platform } = createSmafSystem();
  const gpu = platform.device('gpu');
  const [src, dst] = [smaf.create(SIZE), smaf.create(SIZE)];
  const [sa, da] = [src.attach(gpu), dst.attach(gpu)];
  src.map(sa, DmaDirection.BIDIRECTIONAL);
  dst.map(da, DmaDirection.BIDIRECTIONAL);
  dmaWrite(sa, 0, new Uint8Array(SIZE).fill(0xa5)); // real bytes to move
  const [a, b] = [Buffer.alloc(SIZE, 0xa5), Buffer.alloc(SIZE)];
  const dma = () => void dmaCopy(da, 0, sa, 0, SIZE);
  const copy = () => void a.copy(b);
  cpuTimed(WARM_UP, dma);
  cpuTimed(WARM_UP, copy);
  // CPU time (the machine is shared), in paired rounds of a few copies each
  const rounds = ctx.quick ? 10 : 40;
  const per = 4;
  const p = await paired(rounds, () => cpuTimed(per, dma), () => cpuTimed(per, copy));
  return pairedMetric('core.dma_copy.8m', p, 'µs', `gpu (IOMMU) copies 8 MiB between two mapped buffers in-process, vs Buffer.copy of 8 MiB: CPU time per copy, ${rounds} paired rounds of ${per} copies`);
}

const HUGE = 256 << 20;

/**
 * Share and release of a 256 MiB buffer of scattered pages (a GPU's, behind its IOMMU) through the
 * real addon, in CPU time; the program's writes in between (every page) are not counted.
 */
async function hugeShareRelease(ctx: BenchContext): Promise<Metric[]> {
  const load = loadAddon();
  if (!load.addon) {
    console.error(`core.zero_copy.share_release.256m not measured: ${load.reason}`);
    return [];
  }
  const addon = load.addon;
  const { smaf, platform } = createSmafSystem();
  const files = new BufferFiles(addon, smaf, () => undefined);
  const gpu = platform.device('gpu');
  const plain = Buffer.alloc(HUGE, 1);
  const cycle = (): number => {
    const buf = smaf.create(HUGE);
    const a = buf.attach(gpu);
    buf.map(a, DmaDirection.BIDIRECTIONAL);
    const c0 = process.cpuUsage();
    const fd = files.handOut(buf, 2);
    const c1 = process.cpuUsage(c0);
    const program = addon.map(fd, HUGE);
    new Uint8Array(program).fill(0x5a); // the program writes every page, then unmaps
    addon.detach(program);
    buf.unmap(a);
    buf.detach(a);
    buf.put();
    const c2 = process.cpuUsage();
    closeSync(fd); // the last file: the buffer is released once smafd takes in the close
    files.settle();
    const c3 = process.cpuUsage(c2);
    if (!buf.released) throw new Error('the buffer outlived its last file');
    return c1.user + c1.system + c3.user + c3.system;
  };
  const memset = (): number => cpuTimed(1, () => void plain.fill(0));
  cycle();
  memset();
  const rounds = ctx.quick ? 4 : 12;
  const p = await paired(rounds, cycle, memset);
  return [pairedMetric('core.zero_copy.share_release.256m', p, 'µs', `a 256 MiB buffer of scattered pages shared with its memfd and, at its last close, scrubbed and forgotten (smafd's CPU, in-process), vs one memset of 256 MiB; ${rounds} paired rounds`)];
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
    const dmaCopyOnce = async () => {
      const r = await sc.request(Op.DMA_COPY, dst, copy);
      if (r.result !== SIZE) throw new Error(`DMA_COPY failed: ${r.result}`);
    };
    const echoCopy = async () => {
      await ec.request(Op.DMA_COPY, dst, copy);
      a.copy(b);
    };
    const wrRounds = ctx.quick ? 6 : 30;
    const wr = await paired(wrRounds, () => timed(1, writeRead(sc, fd, m)), () => timed(1, writeRead(ec, fd, m)));
    await timed(WARM_UP, dmaCopyOnce);
    await timed(WARM_UP, echoCopy);
    const rounds = ctx.quick ? 10 : 40;
    const per = 5;
    const cpu0 = processCpuMs(daemon.process.pid);
    const dc = await paired(rounds, () => timed(per, dmaCopyOnce), () => timed(per, echoCopy));
    const cpu1 = processCpuMs(daemon.process.pid);
    const cpuNote = cpu0 !== null && cpu1 !== null ? `; smafd used ${(((cpu1 - cpu0) * 1000) / (rounds * per)).toFixed(0)} µs of CPU per copy` : '';
    await Promise.all([sc.close(), ec.close()]);
    return [
      pairedMetric('daemon.data.write_read_8m', wr, 'µs', `WRITE 8 MiB through a CPU mapping and READ it back over the socket, vs the echo server returning the same two frames; ${wrRounds} paired rounds of one each`),
      pairedMetric('daemon.dma_copy.8m', dc, 'µs', `DMA_COPY of 8 MiB by gpu over the socket, vs the echo server's round trip of the same frame plus Buffer.copy of 8 MiB; ${rounds} paired rounds (median of ${per} each)${cpuNote}`),
    ];
  } finally {
    daemon.stop();
    echo.stop();
  }
}

export async function benchDataPath(ctx: BenchContext): Promise<Metric[]> {
  return [await coreDmaCopy(ctx), ...(await hugeShareRelease(ctx)), ...(await daemonData(ctx))];
}
