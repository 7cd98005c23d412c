/** The operator's snapshot: a page of the buffers, and the memory map from the memory in use. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { DmaDirection } from '../core/index.ts';
import { createSmafSystem } from '../presets/default.ts';
import { DaemonContext } from './context.ts';
import { snapshot } from './state.ts';
import { operatorScope } from './scope.ts';

test('a page walks only its buffers, counts them all, and the memory map lists every allocated range with its buffer', () => {
  const { smaf, platform } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }));
  const bufs = Array.from({ length: 30 }, () => smaf.create(4096));
  const display = platform.device('display');
  const mapped = [bufs[3]!, bufs[17]!, bufs[25]!];
  for (const b of mapped) b.map(b.attach(display), DmaDirection.TO_DEVICE);
  const s = snapshot(operatorScope(ctx), { offset: 10, limit: 5 });
  assert.equal(s.buffersTotal, 30);
  assert.deepEqual(s.buffers.map((b) => b.buffer), bufs.slice(10, 15).map((b) => b.id));
  const occupied = s.regions.flatMap((r) => r.occupancy.map((o) => [r.name, o.buffer, o.base, o.allocator]));
  assert.deepEqual(occupied.sort((a, b) => Number(a[2]) - Number(b[2])), mapped
    .map((b) => [platform.regionAt(b.segments[0]!.phys)!.name, b.id, b.segments[0]!.phys, b.backing!.allocator])
    .sort((a, b) => Number(a[2]) - Number(b[2])));
  bufs[17]!.put();
  const after = snapshot(operatorScope(ctx), {});
  assert.equal(after.buffersTotal, 29);
  assert.deepEqual(after.regions.flatMap((r) => r.occupancy.map((o) => o.buffer)).sort(), [bufs[3]!.id, bufs[25]!.id].sort(), 'a released buffer leaves the map');
});
