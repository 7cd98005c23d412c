/**
 * A scripted camera -> GPU -> display pipeline on the default platform, in-process, printing what
 * happens at each step: deferred allocation, an allocator choice explained, a late attach that is
 * refused and one that migrates, scrub on release.
 */
import { isSmafError } from '../common/errors.ts';
import { formatSize, hex } from '../common/units.ts';
import { DmaDirection, dmaRead, dmaWrite, explain, formatExplanation } from '../core/index.ts';
import { describeDevice } from '../platform/index.ts';
import { createSmafSystem } from '../presets/default.ts';

/** Where a watcher may pause the demo (`smaf demo camera --step / --hold`). */
export interface DemoPace {
  /** Before step `n` (1-based) runs. */
  beforeStep?(n: number, title: string): Promise<void>;
  /** After the last step that holds memory, before the buffers are released. */
  beforeRelease?(): Promise<void>;
}

export async function runCameraPipelineDemo(print: (line: string) => void = console.log, pace: DemoPace = {}): Promise<void> {
  const { platform, smaf } = createSmafSystem();
  const dev = (n: string) => platform.device(n);
  const step = async (n: number, text: string) => {
    await pace.beforeStep?.(n, text);
    print(`\n[${n}] ${text}`);
  };
  const frame = 1920 * 1080 * 3 / 2; // one NV12 1080p frame

  print(`SMAF-TS camera -> GPU -> display demo on platform "${platform.name}"`);
  for (const r of platform.regions) print(`  region ${r.name.padEnd(5)} ${r.kind.padEnd(15)} ${hex(r.base)} ${formatSize(r.size)}`);
  for (const d of platform.devices) print(`  device ${describeDevice(d)}`);
  print(`  allocators (asked in this order): ${smaf.registry.allocators.map((a) => `${a.name} (${a.ranking})`).join(', ')}`);

  await step(1, `create a ${formatSize(frame)} frame buffer: nothing is allocated yet`);
  const buf = smaf.create(frame);
  print(`  buffer ${buf.id}: ${formatSize(buf.length)}, allocated=${buf.allocated}`);

  await step(2, 'the camera ISP and the GPU attach; both sit behind an IOMMU');
  const isp = buf.attach(dev('isp'));
  const gpu = buf.attach(dev('gpu'));
  print(`  still allocated=${buf.allocated}: SMAF waits until a device really needs the memory`);

  await step(3, 'the ISP maps the buffer to write a frame: first real need, the allocators are asked');
  buf.map(isp, DmaDirection.FROM_DEVICE);
  print(formatExplanation(explain(buf)).split('\n').map((l) => `  ${l}`).join('\n'));
  const pixels = Uint8Array.from({ length: 4096 }, (_, i) => (i * 31) & 0xff);
  dmaWrite(isp, 0, pixels);
  print(`  ISP wrote ${pixels.length} bytes through the bus (IOVA ${hex(isp.mapping!.segments[0]!.dma)})`);

  await step(4, 'the GPU maps it and reads the frame through its own IOMMU');
  const segs = buf.map(gpu, DmaDirection.TO_DEVICE);
  const seen = dmaRead(gpu, 0, pixels.length);
  print(`  GPU sees ${segs.length} DMA segments of <= 64 KiB (its max_segment_size); bytes match: ${seen.every((b, i) => b === pixels[i])}`);

  await step(5, 'the display controller (no IOMMU) attaches late, while the buffer is mapped');
  try {
    buf.attach(dev('display'));
  } catch (e) {
    if (!isSmafError(e)) throw e;
    print(`  refused (${e.code}): ${e.message}`);
  }

  await step(6, 'the pipeline unmaps; now the display attach migrates the frame to contiguous memory');
  buf.unmap(isp);
  buf.unmap(gpu);
  const disp = buf.attach(dev('display'));
  const moved = explain(buf);
  print(`  now in ${moved.allocator} (${moved.region}) at ${hex(moved.segments[0]!.phys)}, ${moved.segments.length} segment; the old pages were scrubbed`);
  buf.map(disp, DmaDirection.TO_DEVICE);
  print(`  display reads the same frame: ${dmaRead(disp, 0, pixels.length).every((b, i) => b === pixels[i])}`);

  await step(7, 'the deferred way: all three attach first, the first map picks memory that suits all of them');
  const next = smaf.create(frame);
  const a = next.attach(dev('isp'));
  next.attach(dev('gpu'));
  next.attach(dev('display'));
  next.map(a, DmaDirection.FROM_DEVICE);
  const d = next.decisions[0]!;
  print(`  allocated by ${d.allocator} at ${d.trigger}; asked: ${d.candidates.map((c) => `${c.allocator}=${c.verdict}`).join(', ')}`);

  await pace.beforeRelease?.();
  await step(8, 'release both buffers: grants revoked, memory scrubbed and returned');
  const cmaSeg = buf.segments[0]!;
  buf.put();
  next.put();
  print(`  scrubbed: ${platform.memory.isZero(cmaSeg.phys, cmaSeg.length)}; bytes in use in every pool: ${platform.bytesInUse}`);
  for (const r of smaf.stats().allocators) print(`  ${r.name.padEnd(16)} allocations=${r.allocations} frees=${r.frees} peak=${formatSize(r.peak)} in use=${formatSize(r.bytesInUse)}`);
}
