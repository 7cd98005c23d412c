import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TraceViewer } from './viewer.ts';

const MiB = 1 << 20;
const text = `${[
  { smaf_recording: { version: 1, platform: { name: 'tiny', memory: [{ name: 'dram', base: '0x40000000', size: '64MiB', kind: 'system' }, { name: 'cma', base: '0x43000000', size: '8MiB', kind: 'cma' }], devices: [{ name: 'display', dma_mask: 32 }] }, ops: 8, complete: true, dropped: 0, limit: 10, origin_us: 1_700_000_000_000_000 } },
  { client: 1, op: 'CONNECT', t: 0 },
  { client: 1, op: 'HELLO', fd: -1, args: { pid: 7, comm: 'cam' }, result: 0, t: 10 },
  { client: 1, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 4 * MiB, flags: 2, name: '' }, result: 0, new_fd: 3, t: 20 },
  { client: 1, op: 'ATTACH', fd: 3, args: { device: 'display' }, result: 0, t: 30 },
  { client: 1, op: 'MAP', fd: 3, args: { attachment: 0, direction: 1 }, result: 1, t: 40 },
  { client: 1, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 6 * MiB, flags: 2, name: '' }, result: 0, new_fd: 4, t: 50 },
  { client: 1, op: 'ATTACH', fd: 4, args: { device: 'display' }, result: 0, t: 60 },
  { client: 1, op: 'MAP', fd: 4, args: { attachment: 0, direction: 1 }, result: 1, t: 70 },
].map((r) => JSON.stringify(r)).join('\n')}\n`;

test('the viewer replays to any moment, forward and back: the memory map, the buffers, the events, the differences so far', () => {
  const v = new TraceViewer(text, 'frames.jsonl');
  assert.equal(v.total, 8);
  assert.deepEqual(v.allDifferences.map((d) => [d.index, d.op, d.replayed]), [[7, 'MAP', 'ENOMEM']], 'the second frame does not fit in 8 MiB with the first: the recording said it did');
  const m5 = v.at(5);
  assert.equal(m5.op!.op, 'MAP');
  assert.equal(m5.time, 1_700_000_000_000 + 0.04);
  const cma = m5.regions.find((r) => r.name === 'cma')!;
  assert.deepEqual(cma.occupancy.map((o) => [o.buffer, o.length, o.allocator]), [[1, 4 * MiB, 'smaf-cma']]);
  assert.deepEqual(m5.buffers.map((b) => [b.buffer, b.allocator, b.holders, b.attachments]), [[1, 'smaf-cma', ['client 1 (cam, pid 7)'], [{ device: 'display', mapped: true }]]]);
  assert.deepEqual(m5.events.map((e) => e.kind), ['create', 'attach', 'allocate', 'map']);
  assert.deepEqual(m5.events.find((e) => e.kind === 'allocate')!.region, 'cma');
  assert.equal(m5.events[0]!.clientLabel, 'client 1 (cam, pid 7)');
  assert.deepEqual(m5.differences, []);
  const end = v.at(8);
  assert.deepEqual(end.differences.map((d) => d.seq), [8]);
  assert.equal(end.buffers.length, 2);
  assert.match(v.explainBuffer(2)!, /decision at map by display for \[display\]: failed: ENOMEM/);
  assert.equal(v.replayedBuffer(2), 2);
  const back = v.at(3);
  assert.deepEqual(back.buffers.map((b) => b.allocator), [null], 'back in time: the first frame, not allocated yet');
  assert.deepEqual(back.differences, []);
  assert.equal(v.at(-5).position, 0);
  assert.equal(v.at(99).position, 8);
  const eager = new TraceViewer(text, 'f', 'eager');
  assert.deepEqual(eager.allDifferences.map((d) => [d.seq, d.op, d.replayed]), [[6, 'SMAF_IOC_CREATE', 'ENOMEM'], [7, 'ATTACH', 'EBADF'], [8, 'MAP', 'EBADF']], 'eager: the heap at create, and what follows');
});
