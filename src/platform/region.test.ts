import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PhysicalMemory } from './memory.ts';
import { ContiguousPool, PagePool } from './region.ts';

test('page pool hands out scattered pages, skips reserved ranges, and takes back everything', () => {
  const pool = new PagePool({ name: 'ram', base: 0x1000_0000, size: 4 << 20, kind: 'system' }, 4096, [{ base: 0x1010_0000, size: 1 << 20 }]);
  assert.equal(pool.capacity, 3 << 20);
  const a = pool.allocate(256 * 1024)!;
  assert.ok(a.length > 1, 'several segments');
  for (const s of a) assert.ok(s.phys + s.length <= 0x1010_0000 || s.phys >= 0x1020_0000);
  assert.equal(pool.allocate(4 << 20), null, 'all or nothing');
  assert.equal(pool.inUse, 256 * 1024);
  pool.free(a);
  assert.equal(pool.inUse, 0);
  assert.deepEqual(pool.allocate(256 * 1024), a, 'LIFO: the same pages come back');
  const st = pool.stats();
  assert.equal(st.allocations, 2);
  assert.equal(st.failures, 1);
  assert.deepEqual(pool.occupancy().reduce((n, o) => n + o.length, 0), 256 * 1024);
});

test('contiguous pool aligns physical addresses even when the region base is not aligned', () => {
  const pool = new ContiguousPool({ name: 'c', base: 0x2000_1000, size: 4 << 20, kind: 'cma' }, 4096);
  const p = pool.allocate(64 * 1024, 64 * 1024, Number.MAX_SAFE_INTEGER)!;
  assert.equal(p % (64 * 1024), 0);
  assert.equal(pool.allocate(1 << 20, 4096, 0x2000_1000 + (1 << 20) - 1), null, 'limit counts');
  assert.equal(pool.stats().failures, 1);
  pool.free(p, 64 * 1024);
  assert.throws(() => pool.free(p, 64 * 1024), /double free/);
});

test('physical memory is sparse, zero until written, and zeroing drops whole chunks', () => {
  const m = new PhysicalMemory([{ base: 0, size: 1 << 30 }]);
  assert.equal(m.residentBytes, 0);
  m.write(70000, new Uint8Array([1, 2, 3]));
  const out = new Uint8Array(5);
  m.read(69999, out);
  assert.deepEqual([...out], [0, 1, 2, 3, 0]);
  assert.equal(m.residentBytes, 64 * 1024);
  m.zero(0, 1 << 20);
  assert.equal(m.residentBytes, 0);
  assert.ok(m.isZero(0, 1 << 20));
  assert.throws(() => m.read(1 << 30, new Uint8Array(1)), RangeError);
  m.write(10, new Uint8Array([5]));
  m.copy(200_000, 0, 100);
  m.read(200_010, out.subarray(0, 1));
  assert.equal(out[0], 5);
});
