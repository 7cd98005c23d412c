import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Smaf } from '../core/index.ts';
import { Platform } from '../platform/index.ts';
import { testPlatformSpec } from '../testing/index.ts';
import { allocatorContract } from './allocator-contract.ts';
import { createSystemAllocator } from './system.ts';

function fixture() {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  smaf.registerAllocator(createSystemAllocator(platform));
  return { smaf, platform, allocator: 'system', region: 'dram', devices: [platform.device('gpu'), platform.device('sec-mmu')], secure: false };
}

allocatorContract('system', fixture);

test('system hands out scattered pages, mapped as one IOVA range split at the max segment size', () => {
  const f = fixture();
  const b = f.smaf.create(1 << 20);
  const segs = b.map(b.attach(f.platform.device('gpu')));
  assert.ok(b.segments.length > 1, `scattered: ${b.segments.length} segments`);
  assert.equal(segs.length, (1 << 20) / (64 * 1024));
  for (let i = 1; i < segs.length; i++) assert.equal(segs[i]!.dma, segs[i - 1]!.dma + segs[i - 1]!.length);
});

test('system never hands out pages of the reserved regions inside DRAM', () => {
  const f = fixture();
  const reserved = f.platform.regions.filter((r) => r.kind !== 'system');
  const b = f.smaf.create(32 << 20);
  b.map(b.attach(f.platform.device('gpu')));
  for (const s of b.segments) for (const r of reserved) assert.ok(s.phys + s.length <= r.base || s.phys >= r.base + r.size);
});

test('system does not match a device without an IOMMU', () => {
  const f = fixture();
  const b = f.smaf.create(4096);
  b.attach(f.platform.device('gpu'));
  assert.throws(() => b.map(b.attach(f.platform.device('dec'))), /dec has no IOMMU/);
});
