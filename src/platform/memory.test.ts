import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CHUNK_SIZE, PhysicalMemory } from './memory.ts';

const PAGE = 4096;
const bytes = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);

test('a shared page is the store: writes either side are seen on the other, detach reads zero', () => {
  const m = new PhysicalMemory([{ base: 0, size: 1 << 20 }]);
  m.write(PAGE, bytes(PAGE, 7));
  const store = new Uint8Array(2 * PAGE);
  m.attachStore(PAGE, 2 * PAGE, store, 0, 'memory');
  assert.equal(store[0], 7, 'the bytes the memory held moved into the store');
  assert.equal(store[PAGE], 0);
  store[PAGE + 5] = 9; // the C program writes through its mapping
  const out = new Uint8Array(1);
  m.read(2 * PAGE + 5, out);
  assert.equal(out[0], 9, 'a device reads what the program wrote, with no copy in between');
  m.write(PAGE + 1, Uint8Array.of(3));
  assert.equal(store[1], 3, 'the program sees what a device wrote');
  assert.ok(m.isShared(PAGE, 1) && !m.isShared(0, PAGE));
  assert.equal(m.sharedBytes, 2 * PAGE);
  m.detachStore(PAGE, 2 * PAGE);
  assert.ok(m.isZero(PAGE, 2 * PAGE), 'detached pages read as zero: nothing of the store stays behind');
  assert.equal(store[1], 3, 'the store keeps its bytes (the caller scrubs it first when it must)');
  assert.equal(m.sharedBytes, 0);
});

test("keep 'store' keeps the store's bytes; zero() clears the store; stray arguments are RangeErrors", () => {
  const m = new PhysicalMemory([{ base: 0, size: 1 << 20 }]);
  m.write(0, bytes(PAGE, 1));
  const store = bytes(PAGE, 5);
  m.attachStore(0, PAGE, store, 0, 'store');
  assert.ok(!m.isZero(0, PAGE));
  const out = new Uint8Array(PAGE);
  m.read(0, out);
  assert.deepEqual(out, bytes(PAGE, 5));
  m.zero(0, PAGE);
  assert.deepEqual(store, bytes(PAGE, 0), 'a scrub of shared pages scrubs the store');
  assert.throws(() => m.attachStore(0, PAGE, new Uint8Array(PAGE), 0, 'store'), /already shared/);
  assert.throws(() => m.attachStore(PAGE + 1, PAGE, new Uint8Array(PAGE), 0, 'store'), /whole pages/);
  assert.throws(() => m.attachStore(PAGE, PAGE, new Uint8Array(PAGE), PAGE, 'store'), /leave/);
  m.detachStore(0, PAGE);
  assert.ok(m.isZero(0, PAGE), 'the private bytes under a shared page were cleared at attach');
});

test('move carries a shared page without copying it, and copies private pages', () => {
  const m = new PhysicalMemory([{ base: 0, size: 1 << 20 }]);
  const store = new Uint8Array(PAGE);
  m.attachStore(0, PAGE, store, 0, 'store');
  store[10] = 42;
  m.write(PAGE, bytes(PAGE, 8));
  m.move(8 * PAGE, 0, 2 * PAGE);
  assert.ok(m.isZero(0, 2 * PAGE), 'the old pages read as zero');
  assert.ok(m.isShared(8 * PAGE, PAGE) && !m.isShared(0, PAGE));
  store[11] = 43; // the program still writes through its mapping after the move
  const out = new Uint8Array(2);
  m.read(8 * PAGE + 10, out);
  assert.deepEqual([...out], [42, 43]);
  m.read(9 * PAGE, out);
  assert.deepEqual([...out], [8, 8]);
  assert.throws(() => m.move(8 * PAGE, 16 * PAGE, PAGE), /is shared/);
});

test('the model: any mix of reads, writes, copies, zeroing, sharing and moves agrees with a flat array', () => {
  const SIZE = 4 * CHUNK_SIZE;
  const PAGES = SIZE / PAGE;
  const op = fc.oneof(
    fc.record({ k: fc.constant('write' as const), a: fc.nat(SIZE - 1), n: fc.integer({ min: 1, max: 3 * PAGE }), v: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ k: fc.constant('zero' as const), a: fc.nat(SIZE - 1), n: fc.integer({ min: 1, max: 2 * CHUNK_SIZE }) }),
    fc.record({ k: fc.constant('copy' as const), a: fc.nat(SIZE - 1), b: fc.nat(SIZE - 1), n: fc.integer({ min: 1, max: 2 * PAGE }) }),
    fc.record({ k: fc.constant('attach' as const), p: fc.nat(PAGES - 1), n: fc.integer({ min: 1, max: 6 }), keep: fc.constantFrom('memory' as const, 'store' as const) }),
    fc.record({ k: fc.constant('detach' as const), p: fc.nat(PAGES - 1), n: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ k: fc.constant('move' as const), p: fc.nat(PAGES - 1), q: fc.nat(PAGES - 1), n: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ k: fc.constant('poke' as const), p: fc.nat(PAGES - 1), o: fc.nat(PAGE - 1), v: fc.integer({ min: 1, max: 255 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const m = new PhysicalMemory([{ base: 0, size: SIZE }]);
      // the model: each page is its own private bytes or a view of a store
      const flat = new Uint8Array(SIZE);
      const view = new Map<number, Uint8Array>();
      const modelBytes = (a: number): { arr: Uint8Array; i: number } => {
        const p = Math.floor(a / PAGE);
        const v = view.get(p);
        return v ? { arr: v, i: a - p * PAGE } : { arr: flat, i: a };
      };
      const get = (a: number): number => { const r = modelBytes(a); return r.arr[r.i]!; };
      const set = (a: number, x: number): void => { const r = modelBytes(a); r.arr[r.i] = x; };
      for (const o of ops) {
        if (o.k === 'write') {
          const n = Math.min(o.n, SIZE - o.a);
          m.write(o.a, bytes(n, o.v));
          for (let i = 0; i < n; i++) set(o.a + i, o.v);
        } else if (o.k === 'zero') {
          const n = Math.min(o.n, SIZE - o.a);
          m.zero(o.a, n);
          for (let i = 0; i < n; i++) set(o.a + i, 0);
        } else if (o.k === 'copy') {
          const n = Math.min(o.n, SIZE - o.a, SIZE - o.b);
          if (Math.abs(o.a - o.b) < n) continue; // device copies never overlap
          m.copy(o.a, o.b, n);
          const tmp = Array.from({ length: n }, (_, i) => get(o.b + i));
          tmp.forEach((x, i) => set(o.a + i, x));
        } else if (o.k === 'attach') {
          const n = Math.min(o.n, PAGES - o.p);
          if ([...Array(n).keys()].some((i) => view.has(o.p + i))) continue;
          const store = new Uint8Array(n * PAGE).map((_, i) => (i * 7) % 251);
          m.attachStore(o.p * PAGE, n * PAGE, store, 0, o.keep);
          for (let i = 0; i < n; i++) {
            const v = store.subarray(i * PAGE, (i + 1) * PAGE);
            if (o.keep === 'memory') v.set(flat.subarray((o.p + i) * PAGE, (o.p + i + 1) * PAGE));
            flat.fill(0, (o.p + i) * PAGE, (o.p + i + 1) * PAGE);
            view.set(o.p + i, v);
          }
        } else if (o.k === 'detach') {
          const n = Math.min(o.n, PAGES - o.p);
          m.detachStore(o.p * PAGE, n * PAGE);
          for (let i = 0; i < n; i++) view.delete(o.p + i);
        } else if (o.k === 'move') {
          const n = Math.min(o.n, PAGES - o.p, PAGES - o.q);
          if (Math.abs(o.p - o.q) < n || [...Array(n).keys()].some((i) => view.has(o.q + i))) continue;
          m.move(o.q * PAGE, o.p * PAGE, n * PAGE);
          for (let i = 0; i < n; i++) {
            const src = o.p + i;
            const dst = o.q + i;
            const v = view.get(src);
            if (v) {
              view.delete(src);
              view.set(dst, v);
              flat.fill(0, dst * PAGE, (dst + 1) * PAGE);
            } else {
              flat.copyWithin(dst * PAGE, src * PAGE, (src + 1) * PAGE);
              flat.fill(0, src * PAGE, (src + 1) * PAGE);
            }
          }
        } else {
          const v = view.get(o.p);
          if (v) v[o.o] = o.v; // the program writes its mapping
        }
      }
      const out = new Uint8Array(SIZE);
      m.read(0, out);
      for (let a = 0; a < SIZE; a++) if (out[a] !== get(a)) return false;
      for (let p = 0; p < PAGES; p++) if (m.isZero(p * PAGE, PAGE) !== out.subarray(p * PAGE, (p + 1) * PAGE).every((x) => x === 0)) return false;
      return true;
    }),
    { numRuns: process.env.SMAF_TEST_LONG ? 2000 : 200 },
  );
});

/** A store whose zeroing is counted (a memfd's would give its pages back). */
function countedStore(size: number): { store: { bytes: Uint8Array; zero(v: Uint8Array): void }; zeroed: number[] } {
  const zeroed: number[] = [];
  const bytes = new Uint8Array(size).fill(0xee);
  return { store: { bytes, zero: (v) => (zeroed.push(v.length), v.fill(0)) }, zeroed };
}

test("a buffer's scattered segments: the store is zeroed its own way, once per run that follows in it", () => {
  const m = new PhysicalMemory([{ base: 0, size: 1 << 20 }]);
  // three segments in reverse physical order, contiguous in the store (a buffer's file)
  const segs = [
    { phys: 40 * PAGE, length: 2 * PAGE, offset: 0 },
    { phys: 20 * PAGE, length: PAGE, offset: 2 * PAGE },
    { phys: 4 * PAGE, length: 3 * PAGE, offset: 3 * PAGE },
  ];
  m.write(20 * PAGE + 5, bytes(3, 9)); // the memory held bytes in the middle segment only
  const { store, zeroed } = countedStore(6 * PAGE);
  m.attachStores(segs, store, 'memory');
  assert.deepEqual(zeroed, [2 * PAGE, 3 * PAGE], 'the runs the memory never held, zeroed by the store; the held page copied');
  assert.deepEqual([...store.bytes.subarray(2 * PAGE + 4, 2 * PAGE + 9)], [0, 9, 9, 9, 0]);
  assert.equal(m.sharedBytes, 6 * PAGE);
  store.bytes.fill(3);
  zeroed.length = 0;
  m.zeroAndDetach(segs);
  assert.deepEqual(zeroed, [6 * PAGE], 'one call for the whole store');
  assert.ok(store.bytes.every((b) => b === 0));
  assert.equal(m.sharedBytes, 0);
  for (const s of segs) assert.ok(!m.isShared(s.phys, s.length) && m.isZero(s.phys, s.length));
});

test('attachStores changes nothing when a range is refused', () => {
  const m = new PhysicalMemory([{ base: 0, size: 1 << 20 }]);
  m.write(0, bytes(PAGE, 1));
  const { store } = countedStore(4 * PAGE);
  assert.throws(() => m.attachStores([{ phys: 0, length: 2 * PAGE, offset: 0 }, { phys: PAGE, length: PAGE, offset: 2 * PAGE }], store, 'memory'), /given twice/);
  m.attachStore(8 * PAGE, PAGE, new Uint8Array(PAGE), 0, 'store');
  assert.throws(() => m.attachStores([{ phys: 0, length: PAGE, offset: 0 }, { phys: 7 * PAGE, length: 2 * PAGE, offset: PAGE }], store, 'memory'), /0x8000 is already shared/);
  assert.equal(m.sharedBytes, PAGE);
  assert.ok(!m.isZero(0, PAGE), 'the memory kept its bytes');
  assert.ok(store.bytes.every((b) => b === 0xee), 'the store was not touched');
});

for (const cuts of [10, 100]) {
  test(`thousands of extents: detaching ${cuts} ranges cuts exactly those, splitting the extents at the edges`, () => {
    const m = new PhysicalMemory([{ base: 0, size: 64 << 20 }]);
    const n = 2000;
    const { store } = countedStore(n * 2 * PAGE);
    // every other pair of pages is shared: extents of 2 pages with 2-page gaps
    m.attachStores(Array.from({ length: n }, (_, i) => ({ phys: i * 4 * PAGE, length: 2 * PAGE, offset: i * 2 * PAGE })), store, 'store');
    const step = Math.floor(n / cuts) - 1;
    const cut = Array.from({ length: cuts }, (_, k) => ({ phys: (k * step * 4 + 1) * PAGE, length: 4 * PAGE })); // from the middle of one extent into the next
    m.detachStores(cut);
    assert.equal(m.sharedBytes, (2 * n - cuts * 2) * PAGE);
    for (const c of cut) {
      assert.ok(m.isShared(c.phys - PAGE, PAGE) && !m.isShared(c.phys, c.length) && m.isShared(c.phys + c.length, PAGE));
    }
    m.write(cut[3]!.phys - PAGE, bytes(1, 77));
    assert.equal(store.bytes[3 * step * 2 * PAGE], 77, 'the kept part of a cut extent is still its store');
    m.write(cut[3]!.phys + cut[3]!.length, bytes(1, 78));
    assert.equal(store.bytes[(3 * step + 1) * 2 * PAGE + PAGE], 78, 'and so is the part after the cut');
  });
}
