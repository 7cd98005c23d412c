/** Copies memory to memory: PhysicalMemory.copy (chunk to chunk) and the bus's checked copy. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHUNK_SIZE, PhysicalMemory } from './memory.ts';
import { MemoryBus, type Firewall } from './bus.ts';
import { EventLog } from './events.ts';
import { PhysPieces } from './pieces.ts';
import type { Device } from './device.ts';

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);

test('copy moves bytes across chunk edges, copies unwritten memory as zeros, and handles overlap', () => {
  const mem = new PhysicalMemory([{ base: 0, size: 8 * CHUNK_SIZE }]);
  const src = CHUNK_SIZE - 100; // straddles a chunk edge
  mem.write(src, bytes(300, 7));
  mem.copy(5 * CHUNK_SIZE - 50, src, 300); // so does the destination, at another offset
  const out = new Uint8Array(300);
  mem.read(5 * CHUNK_SIZE - 50, out);
  assert.deepEqual(out, bytes(300, 7));
  mem.write(3 * CHUNK_SIZE, bytes(64, 9));
  mem.copy(3 * CHUNK_SIZE, 7 * CHUNK_SIZE, 64); // from memory never written: zeros
  assert.ok(mem.isZero(3 * CHUNK_SIZE, 64));
  mem.write(0, Uint8Array.from({ length: 16 }, (_, i) => i));
  mem.copy(4, 0, 12); // overlapping, forwards, in one chunk
  const o = new Uint8Array(16);
  mem.read(0, o);
  assert.deepEqual([...o], [0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.throws(() => mem.copy(8 * CHUNK_SIZE - 10, 0, 20), RangeError, 'the destination leaves memory');
});

test('a bus copy checks every read before any write: a refused read writes nothing', () => {
  const mem = new PhysicalMemory([{ base: 0, size: 4 * CHUNK_SIZE }]);
  const denyAbove: Firewall = { name: 'test', check: (_who, addr, _len, access) => (access === 'read' && addr >= 2 * CHUNK_SIZE ? 'no reading up there' : null) };
  const bus = new MemoryBus(mem, new EventLog());
  bus.setFirewall(denyAbove);
  const device: Device = { name: 'dma', class: 'gpu', dmaMask: 32, coherentDmaMask: 32, maxSegmentSize: 2 ** 32, segmentBoundary: 2 ** 32, iommu: false, secure: false };
  const dev = { kind: 'device', device } as const;
  mem.write(0, bytes(4096, 1));
  const pieces = (...p: [number, number][]) => {
    const out = new PhysPieces();
    for (const [addr, n] of p) out.push(addr, n);
    return out;
  };
  // the destination is one piece, the source two: the second is refused
  assert.throws(() => bus.copy(dev, pieces([CHUNK_SIZE, 8192]), pieces([0, 4096], [2 * CHUNK_SIZE, 4096])), /firewall refused dma read/);
  assert.ok(mem.isZero(CHUNK_SIZE, 8192), 'the allowed first piece was not written either');
  assert.throws(() => bus.copy(dev, pieces([CHUNK_SIZE, 4096]), pieces([0, 8192])), RangeError, 'the two sides must be of one length');
  bus.copy(dev, pieces([CHUNK_SIZE, 4096]), pieces([0, 4096]));
  assert.ok(!mem.isZero(CHUNK_SIZE, 4096));
  assert.deepEqual(bus.stats().dma, { reads: 1, writes: 1, bytesRead: 4096, bytesWritten: 4096, denials: 1 });
});

test('a bus copy pairs pieces of different cuts on either side, in order', () => {
  const mem = new PhysicalMemory([{ base: 0, size: 8 * CHUNK_SIZE }]);
  const bus = new MemoryBus(mem, new EventLog());
  const device: Device = { name: 'dma', class: 'gpu', dmaMask: 32, coherentDmaMask: 32, maxSegmentSize: 2 ** 32, segmentBoundary: 2 ** 32, iommu: false, secure: false };
  mem.write(0, Uint8Array.from({ length: 300 }, (_, i) => i % 251));
  const src = new PhysPieces();
  src.push(200, 100); // bytes 200..299, then 0..199
  src.push(0, 200);
  const dst = new PhysPieces();
  for (const at of [5000, 7000, 9000]) dst.push(at, 100);
  bus.copy({ kind: 'device', device }, dst, src);
  const out = new Uint8Array(100);
  const expect = (at: number, from: number) => {
    mem.read(at, out);
    assert.deepEqual([...out], Array.from({ length: 100 }, (_, i) => (from + i) % 251), `at ${at}`);
  };
  expect(5000, 200);
  expect(7000, 0);
  expect(9000, 100);
});

test('pieces merge when they continue each other, and grow past their first size', () => {
  const p = new PhysPieces();
  p.push(0, 4096);
  p.push(4096, 4096);
  p.push(16384, 4096);
  p.push(0, 0);
  assert.deepEqual([p.count, p.total, p.addr(0), p.length(0), p.addr(1)], [2, 12288, 0, 8192, 16384]);
  p.clear();
  for (let i = 0; i < 1000; i++) p.push(i * 8192, 4096);
  assert.deepEqual([p.count, p.total, p.addr(999)], [1000, 1000 * 4096, 999 * 8192]);
});
