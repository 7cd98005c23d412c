/**
 * Platform files written to hurt (issue 17): huge declared sizes, thousands of regions, power-of-two
 * values past 2^31. Loading stays proportional to what is used, and bounded by limits a real SoC
 * never reaches.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { isPowerOfTwo, parsePlatform, PLATFORM_LIMITS, validatePlatform } from './loader.ts';
import { Platform } from './platform.ts';

test('a 79-byte file declaring a 4 TiB region is refused at once, naming the field and the limit', () => {
  const t = performance.now();
  assert.throws(
    () => parsePlatform('memory: [{ name: dram, base: 0x80000000, size: 4TiB, kind: system }]\n', 'evil.yaml'),
    (e) => isSmafError(e, 'EINVAL') && /memory\[0\]\.size: .*256 GiB/.test(e.message),
  );
  assert.ok(performance.now() - t < 1000);
});

test('the largest region allowed (256 GiB of DRAM) loads in a moment and costs memory for what is used only', () => {
  const spec = parsePlatform(`memory: [{ name: dram, base: 0x80000000, size: ${PLATFORM_LIMITS.maxRegionSize}, kind: system }]`);
  const heap = process.memoryUsage().heapUsed;
  const t = performance.now();
  const p = new Platform(spec);
  const pool = p.pagePool('dram');
  assert.ok(performance.now() - t < 2000, `built in ${(performance.now() - t).toFixed(0)} ms`);
  assert.equal(pool.freePages, PLATFORM_LIMITS.maxRegionSize / 4096);
  const segs = pool.allocate(1 << 20)!;
  assert.equal(segs.reduce((n, s) => n + s.length, 0), 1 << 20);
  // the page bitmap (8 MiB for 64 Mi pages) is the only structure proportional to the region
  assert.ok(process.memoryUsage().heapUsed - heap < 64 * 2 ** 20, 'no per-page array of the whole region');
  pool.free(segs);
  assert.equal(pool.freePages, PLATFORM_LIMITS.maxRegionSize / 4096);
});

test('a thousand regions validate in linear-ish time, and more than the limit are refused', () => {
  const regions = Array.from({ length: PLATFORM_LIMITS.maxRegions }, (_, i) => ({ name: `r${i}`, base: 0x1000_0000 + i * 0x10_0000, size: 0x10_0000, kind: 'carveout' }));
  const t = performance.now();
  validatePlatform({ memory: regions });
  assert.ok(performance.now() - t < 2000, `validated in ${(performance.now() - t).toFixed(0)} ms`);
  assert.throws(() => validatePlatform({ memory: [...regions, { name: 'x', base: 0, size: 4096, kind: 'carveout' }] }), (e) => isSmafError(e, 'EINVAL') && /memory: /.test(e.message));
  // overlaps are still found by the sweep: the last region overlaps the first
  const clash = [...regions.slice(0, 10), { name: 'clash', base: 0x1000_0000 + 0x8_0000, size: 0x10_0000, kind: 'carveout' }];
  assert.throws(() => validatePlatform({ memory: clash }), /memory\[10\]: region "clash" overlaps "r0"/);
});

test('power-of-two rules hold for every value, not only below 2^31', () => {
  for (const n of [4096, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 52]) assert.equal(isPowerOfTwo(n), true, String(n));
  for (const n of [0, -4096, 3 * 2 ** 30, 0x80000001, 2 ** 32 + 4096, 2 ** 53 + 2, 1.5]) assert.equal(isPowerOfTwo(n), false, String(n));
  const dev = (segment_boundary: string | number) => ({ memory: [{ name: 'dram', base: 0x40000000, size: '64MiB', kind: 'system' }], devices: [{ name: 'd', dma_mask: 32, segment_boundary }] });
  for (const bad of ['3GiB', 0x80000001]) assert.throws(() => validatePlatform(dev(bad)), /devices\[0\]\.segment_boundary: must be a power of two/, String(bad));
  assert.equal(validatePlatform(dev('4GiB')).devices[0]!.segmentBoundary, 2 ** 32);
});
