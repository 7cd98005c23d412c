import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Memblock } from './memblock.ts';

const MiB = 1024 ** 2;

test('allocations go top-down, aligned down, around reserved ranges and across banks', () => {
  const m = new Memblock([{ base: 0x80000000, size: 256 * MiB }, { base: 0x40000000, size: 64 * MiB }], 4096);
  m.reserve(0x8f000000, 16 * MiB);
  assert.equal(m.allocate(8 * MiB, 4 * MiB, 0, 0), 0x8e800000, 'below the reserved top, aligned down');
  assert.equal(m.allocate(8 * MiB, 0, 0, 0x84000000), 0x83800000, 'under an end limit');
  assert.equal(m.allocate(8 * MiB, 0, 0x40000000, 0x44000000), 0x43800000, 'inside a range (alloc-ranges)');
  assert.equal(m.allocate(512 * MiB, 0, 0, 0), null, 'no free range is large enough');
  assert.equal(m.allocate(4096, 0, 0x30000000, 0x40000000), null, 'nothing outside DRAM');
});

test('the first page is never handed out (memblock starts at PAGE_SIZE)', () => {
  const m = new Memblock([{ base: 0, size: 64 * 1024 }], 4096);
  assert.equal(m.allocate(60 * 1024, 0, 0, 0), 4096);
  assert.equal(m.allocate(4096, 0, 0, 0), null);
});
