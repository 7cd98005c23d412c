/**
 * The IOMMU is on the data path (issue 11, section 4): a device behind an IOMMU reaches memory only
 * through its page table; an unmapped IOVA is an IOMMU fault. And its IOVA window is part of what
 * a buffer must fit before any memory is allocated.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isSmafError } from '../common/errors.ts';
import { parsePlatform, Platform } from '../platform/index.ts';
import { registerPlatformAllocators, testPlatformSpec } from '../testing/index.ts';
import { DmaDirection } from './contracts.ts';
import { dmaCopy, dmaRead, dmaWrite } from './dma.ts';
import { explain } from './explain.ts';
import { Smaf } from './smaf.ts';

function system(spec = testPlatformSpec()) {
  const platform = new Platform(spec);
  const smaf = new Smaf(platform);
  registerPlatformAllocators(smaf);
  return { platform, smaf, dev: (n: string) => platform.device(n) };
}

test('a GPU behind an IOMMU reads and writes scattered pages through its page table, at the IOVAs MAP gave it', () => {
  const { smaf, platform, dev } = system();
  const b = smaf.create(256 * 1024);
  const gpu = b.attach(dev('gpu'));
  const segs = b.map(gpu, DmaDirection.BIDIRECTIONAL);
  assert.ok(b.segments.length > 1, 'the backing is scattered');
  const iommu = platform.iommu(dev('gpu'));
  const pattern = Uint8Array.from({ length: 256 * 1024 }, (_, i) => (i * 7) & 0xff);
  dmaWrite(gpu, 0, pattern);
  // the bytes land where the page table points, page by page
  for (let off = 0; off < pattern.length; off += 4096) {
    const phys = iommu.translate(segs[0]!.dma + off)!;
    const seen = new Uint8Array(16);
    platform.memory.read(phys, seen);
    assert.deepEqual(seen, pattern.subarray(off, off + 16));
  }
  assert.deepEqual(dmaRead(gpu, 1000, 5000), pattern.subarray(1000, 6000));
});

test('a page the IOMMU no longer maps is an IOMMU fault: EFAULT and an event, no byte moved', () => {
  const { smaf, platform, dev } = system();
  const b = smaf.create(64 * 1024);
  const gpu = b.attach(dev('gpu'));
  b.map(gpu);
  const iommu = platform.iommu(dev('gpu'));
  // a driver bug: the IOVA range is torn down behind the mapping's back
  iommu.unmap(gpu.mapping!.iova!);
  const faults = () => platform.events.list({ kinds: ['iommu-fault'] }).length;
  const before = faults();
  assert.throws(() => dmaRead(gpu, 0, 4096), (e) => isSmafError(e, 'EFAULT') && /IOMMU fault: "gpu" accessed IOVA/.test(e.message));
  assert.throws(() => dmaWrite(gpu, 0, new Uint8Array(8).fill(9)), (e) => isSmafError(e, 'EFAULT'));
  assert.equal(faults(), before + 2);
  assert.ok(platform.memory.isZero(b.segments[0]!.phys, 4096), 'nothing was written');
});

test('a device without an IOMMU uses physical addresses: DMA copy between two buffers', () => {
  const { smaf, dev } = system();
  const a = smaf.create(8192);
  const b = smaf.create(8192);
  const da = a.attach(dev('dec'));
  const db = b.attach(dev('dec'));
  a.map(da);
  b.map(db);
  dmaWrite(da, 0, new TextEncoder().encode('frame'));
  assert.equal(dmaCopy(db, 100, da, 0, 5), 5);
  assert.equal(new TextDecoder().decode(dmaRead(db, 100, 5)), 'frame');
});

test('a 24-bit IOMMU device is refused before any memory is allocated for a buffer its IOVA space cannot hold, with the reason in explain', () => {
  const yaml = `
memory:
  - { name: dram, base: 0x40000000, size: 256MiB, kind: system }
devices:
  - { name: tiny-mmu, dma_mask: 24, iommu: true }
`;
  const { smaf, platform, dev } = system(parsePlatform(yaml));
  const big = smaf.create(32 * 1024 * 1024);
  const a = big.attach(dev('tiny-mmu'));
  const inUse = platform.bytesInUse;
  assert.throws(() => big.map(a), (e) => isSmafError(e, 'ENOMEM') && /IOVA space/.test(e.message));
  assert.equal(platform.bytesInUse, inUse, 'no memory was taken');
  assert.equal(big.allocated, false);
  const e = explain(big);
  assert.equal(e.decisions.at(-1)!.outcome, 'failed');
  assert.match(e.decisions.at(-1)!.error!, /"tiny-mmu" could never map buffer .*24-bit IOMMU's IOVA space \(15 MiB\)/);
  // what fits the window is served, and a second one that no longer fits is refused up front too
  const fits = smaf.create(8 * 1024 * 1024);
  fits.map(fits.attach(dev('tiny-mmu')));
  const second = smaf.create(8 * 1024 * 1024);
  assert.throws(() => second.map(second.attach(dev('tiny-mmu'))), (e2) => isSmafError(e2, 'ENOMEM') && /no free IOVA range/.test(e2.message));
  assert.equal(second.allocated, false);
});

test('through the IOMMU, any range of scattered buffers is written, read and copied at its own offsets (a slice starts mid-segment)', () => {
  const { smaf, dev } = system();
  const size = 1024 * 1024 + 3 * 4096;
  const [a, b] = [smaf.create(size), smaf.create(size)];
  const [ga, gb] = [a.attach(dev('gpu')), b.attach(dev('gpu'))];
  a.map(ga, DmaDirection.BIDIRECTIONAL);
  b.map(gb, DmaDirection.BIDIRECTIONAL);
  assert.ok(a.segments.length > 4 && b.segments.length > 4, 'both are scattered');
  const model = [new Uint8Array(size), new Uint8Array(size)];
  const range = fc.nat(size).chain((off) => fc.record({ off: fc.constant(off), len: fc.nat(size - off) }));
  fc.assert(fc.property(range, range, fc.integer({ min: 1, max: 255 }), (w, c, v) => {
    const bytes = Uint8Array.from({ length: w.len }, (_, i) => (v + i) & 0xff);
    dmaWrite(ga, w.off, bytes);
    model[0]!.set(bytes, w.off);
    const len = Math.min(c.len, size - w.off);
    dmaCopy(gb, c.off - Math.max(0, c.off + len - size), ga, w.off, len);
    model[1]!.set(model[0]!.subarray(w.off, w.off + len), c.off - Math.max(0, c.off + len - size));
    assert.deepEqual(dmaRead(ga, 0, size), model[0]);
    assert.deepEqual(dmaRead(gb, 0, size), model[1]);
  }), { numRuns: 40 });
});
