import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OwnedRanges } from './owned-ranges.ts';

test('overlaps: touching ranges do not overlap, any shared byte does', () => {
  const o = new OwnedRanges();
  assert.equal(o.size, 0);
  assert.equal(o.overlaps(0, 1 << 30), false, 'nothing owned yet');
  o.add([{ phys: 0x3000, length: 0x1000 }, { phys: 0x1000, length: 0x1000 }], 1);
  o.add([{ phys: 0x8000, length: 0x2000 }], 2);
  assert.equal(o.size, 3);
  const cases: [number, number, boolean][] = [
    [0x0000, 0x1000, false], [0x0000, 0x1001, true], [0x1fff, 1, true], [0x2000, 0x1000, false], [0x2fff, 1, false],
    [0x2fff, 2, true], [0x3fff, 1, true], [0x4000, 0x4000, false], [0x4000, 0x4001, true], [0x9fff, 1, true],
    [0xa000, 0x1000, false], [0x0, 0x100000, true], [0x1800, 0x10, true], [0x8800, 0x10, true],
  ];
  for (const [phys, length, expected] of cases) assert.equal(o.overlaps(phys, length), expected, `0x${phys.toString(16)}+0x${length.toString(16)}`);
});

test('conflicts: with owned ranges, or between the segments of one list', () => {
  const o = new OwnedRanges();
  o.add([{ phys: 0x10000, length: 0x1000 }], 1);
  assert.equal(o.conflicts([{ phys: 0x3000, length: 0x1000 }, { phys: 0x1000, length: 0x1000 }]), false);
  assert.equal(o.conflicts([{ phys: 0x3000, length: 0x1000 }, { phys: 0x2000, length: 0x1001 }]), true, 'listed out of order, overlapping');
  assert.equal(o.conflicts([{ phys: 0x1000, length: 0x1000 }, { phys: 0x1000, length: 0x1000 }]), true, 'listed twice');
  assert.equal(o.conflicts([{ phys: 0x1000, length: 0x1000 }, { phys: 0x10fff, length: 1 }]), true, 'one segment is owned');
  assert.equal(o.conflicts([]), false);
});

test('remove takes out exactly the recorded range, and refuses one that is not recorded', () => {
  const o = new OwnedRanges();
  o.add([{ phys: 0x1000, length: 0x1000 }, { phys: 0x5000, length: 0x2000 }, { phys: 0x3000, length: 0x1000 }], 7);
  assert.throws(() => o.remove([{ phys: 0x5000, length: 0x1000 }]), /^Error: owned range 0x5000\+4096 is not recorded$/);
  assert.throws(() => o.remove([{ phys: 0x4000, length: 0x1000 }]), /owned range 0x4000\+4096 is not recorded/);
  assert.throws(() => o.remove([{ phys: 0x9000, length: 0x1000 }]), /not recorded/);
  o.remove([{ phys: 0x3000, length: 0x1000 }]);
  assert.equal(o.size, 2);
  assert.equal(o.overlaps(0x3000, 0x1000), false);
  assert.equal(o.overlaps(0x1000, 1), true);
  assert.equal(o.overlaps(0x6fff, 1), true);
  o.remove([{ phys: 0x1000, length: 0x1000 }, { phys: 0x5000, length: 0x2000 }]);
  assert.equal(o.size, 0);
});

test('ranges lists every owned range in address order with the buffer that holds it', () => {
  const o = new OwnedRanges();
  o.add([{ phys: 0x5000, length: 0x2000 }, { phys: 0x1000, length: 0x1000 }], 7);
  o.add([{ phys: 0x3000, length: 0x1000 }], 9);
  o.add([{ phys: 0x8000, length: 0x1000 }], 4);
  o.remove([{ phys: 0x8000, length: 0x1000 }]);
  assert.deepEqual([...o.ranges()], [
    { base: 0x1000, length: 0x1000, owner: 7 }, { base: 0x3000, length: 0x1000, owner: 9 }, { base: 0x5000, length: 0x2000, owner: 7 },
  ]);
});

test('a buffer of thousands of segments is added and removed in one pass, in order, between other buffers\' ranges', () => {
  const o = new OwnedRanges();
  const page = 0x1000;
  // every other page to buffer 1 (few at a time), the pages between to buffer 2 (all at once, out of order)
  for (let i = 0; i < 4000; i += 2) o.add([{ phys: i * page, length: page }], 1);
  const big = Array.from({ length: 2000 }, (_, k) => ({ phys: (2 * k + 1) * page, length: page })).reverse();
  o.add(big, 2);
  const all = [...o.ranges()];
  assert.equal(all.length, 4000);
  assert.ok(all.every((r, i) => r.base === i * page && r.owner === (i % 2 === 0 ? 1 : 2)), 'sorted, each with its owner');
  assert.equal(o.conflicts([{ phys: 3999 * page, length: page }]), true);
  assert.throws(() => o.remove([...big.slice(0, 100), { phys: 5000 * page, length: page }]), /is not recorded/);
  assert.equal(o.size, 4000, 'a refused remove takes nothing out');
  o.remove(big);
  assert.deepEqual([...o.ranges()].map((r) => r.owner), new Array(2000).fill(1));
  assert.equal(o.overlaps(page, page), false, 'buffer 2\'s pages are free');
});

test('many segments out of order are put in order, whether their addresses pack into one sort key or not', () => {
  const page = 0x1000;
  for (const base of [0x4000_0000, 2 ** 46]) {
    const o = new OwnedRanges();
    const segs = Array.from({ length: 40 }, (_, k) => ({ phys: base + ((k * 17) % 40) * 2 * page, length: page }));
    assert.equal(o.conflicts(segs), false, `0x${base.toString(16)}`);
    assert.equal(o.conflicts([...segs, segs[7]!]), true, 'one listed twice');
    assert.equal(o.conflicts([...segs, { phys: segs[3]!.phys + 0x800, length: page }]), true, 'one overlapping another');
    o.add(segs, 3);
    assert.deepEqual([...o.ranges()].map((r) => r.base), Array.from({ length: 40 }, (_, k) => base + k * 2 * page));
    o.remove(segs);
    assert.equal(o.size, 0);
  }
});
