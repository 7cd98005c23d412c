/** Copies memory to memory: PhysicalMemory.copy (chunk to chunk) and the bus's checked copy. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHUNK_SIZE, PhysicalMemory } from './memory.ts';
import { MemoryBus, type Firewall } from './bus.ts';
import { EventLog } from './events.ts';
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
  assert.throws(() => bus.copy(dev, [{ dst: CHUNK_SIZE, src: 0, n: 4096 }, { dst: CHUNK_SIZE + 4096, src: 2 * CHUNK_SIZE, n: 4096 }]), /firewall refused dma read/);
  assert.ok(mem.isZero(CHUNK_SIZE, 8192), 'the allowed first piece was not written either');
  bus.copy(dev, [{ dst: CHUNK_SIZE, src: 0, n: 4096 }]);
  assert.ok(!mem.isZero(CHUNK_SIZE, 4096));
  assert.deepEqual(bus.stats().dma, { reads: 1, writes: 1, bytesRead: 4096, bytesWritten: 4096, denials: 1 });
});
