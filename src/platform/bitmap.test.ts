import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Bitmap } from './bitmap.ts';

test('set/clear track usage and refuse double allocation and double free', () => {
  const b = new Bitmap(100);
  b.set(3, 40);
  assert.equal(b.setCount, 40);
  assert.throws(() => b.set(42, 2), /already in use/);
  assert.throws(() => b.clear(0, 5), /double free/);
  b.clear(3, 40);
  assert.equal(b.setCount, 0);
  assert.throws(() => b.set(99, 2), RangeError);
});

test('findZeroArea honours alignment and limit', () => {
  const b = new Bitmap(256);
  b.set(0, 1);
  assert.equal(b.findZeroArea(16, 16), 16);
  assert.equal(b.findZeroArea(1, 1), 1);
  b.set(16, 200);
  assert.equal(b.findZeroArea(32, 32, 0, 256), 224);
  assert.equal(b.findZeroArea(64, 32, 0, 256), -1);
  assert.equal(b.findZeroArea(8, 8, 0, 256), 8);
  assert.equal(b.findZeroArea(16, 8, 0, 256), 216);
  assert.equal(b.findZeroArea(16, 8, 0, 230), -1);
});

test('prevSet finds the last set bit, word-at-a-time', () => {
  const b = new Bitmap(200);
  b.set(5, 1);
  b.set(40, 3);
  b.set(130, 1);
  assert.equal(b.prevSet(0, 200), 130);
  assert.equal(b.prevSet(0, 130), 42);
  assert.equal(b.prevSet(43, 130), -1);
  assert.equal(b.prevSet(0, 6), 5);
  assert.equal(b.prevSet(6, 40), -1);
});

test('largestClearRun', () => {
  const b = new Bitmap(96);
  assert.equal(b.largestClearRun(), 96);
  b.set(10, 1);
  b.set(70, 3);
  assert.equal(b.largestClearRun(), 59);
});

test('word-at-a-time search agrees with the naive first fit (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 300 }),
      fc.array(fc.tuple(fc.nat(299), fc.integer({ min: 1, max: 40 })), { maxLength: 30 }),
      fc.integer({ min: 1, max: 70 }),
      fc.constantFrom(1, 2, 4, 8, 16, 32, 64),
      (size, sets, n, align) => {
        const b = new Bitmap(size);
        for (const [s, len] of sets) {
          const l = Math.min(len, size - s);
          if (s < size && l > 0 && b.nextSet(s, s + l) < 0) b.set(s, l);
        }
        assert.equal(b.findZeroArea(n, align), b.findZeroAreaNaive(n, align));
      },
    ),
    { numRuns: 500 },
  );
});
