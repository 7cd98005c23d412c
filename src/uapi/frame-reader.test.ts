/**
 * The frame reader holds memory for the frame being received only: frames split anywhere (even in
 * 1-byte pieces) come out whole, a few leftover bytes never pin a large buffer, and what it holds is
 * what `pending` says (the announced frame, as soon as its length has arrived).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRequest, FrameError, FrameReader, MAX_FRAME, REQUEST_HEADER } from './wire.ts';

const frame = (id: number, n: number) => encodeRequest({ id, op: 10, fd: 3, payload: new Uint8Array(n).fill(id) });

test('frames split at every possible place, or byte by byte, come out whole and in order', () => {
  const stream = Buffer.concat([frame(1, 0), frame(2, 100), frame(3, 5000), frame(4, 1)]);
  for (const cut of [1, 2, 3, 4, 5, 15, 16, 17, 116, 1000, stream.length - 1]) {
    const r = new FrameReader(REQUEST_HEADER);
    const got = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))];
    assert.deepEqual(got.map((f) => [f[0], f.length]), [[1, 12], [2, 112], [3, 5012], [4, 13]], `cut at ${cut}`);
    assert.equal(r.pending, 0);
  }
  const r = new FrameReader(REQUEST_HEADER);
  const got = [];
  for (const b of stream) got.push(...r.push(Uint8Array.of(b)));
  assert.equal(got.length, 4);
  assert.equal(got[2]![20], 3);
});

test('pending counts the announced frame as soon as its length arrives, and leftovers are copied out', () => {
  const r = new FrameReader(REQUEST_HEADER);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(MAX_FRAME, 0);
  assert.equal(r.push(head.subarray(0, 2)).length, 0);
  assert.equal(r.pending, 2);
  r.push(head.subarray(2));
  assert.equal(r.pending, MAX_FRAME, 'the whole announced frame is held (and counted) from now on');
  assert.equal(r.received, 0);
  // a complete frame followed by 16 bytes of the next: only those 16 bytes' frame is held
  const r2 = new FrameReader(REQUEST_HEADER);
  const big = frame(9, 1 << 20);
  const next = frame(10, 64);
  const out = r2.push(Buffer.concat([big, next.subarray(0, 16)]));
  assert.equal(out.length, 1);
  assert.equal(r2.pending, next.length - 4, 'the next frame, not the 1 MiB chunk it arrived in');
  assert.deepEqual([...r2.push(next.subarray(16))].map((f) => f[0]), [10]);
});

test('a length shorter than the header or over the limit is a FrameError', () => {
  for (const len of [0, 11, MAX_FRAME + 1, 2 ** 32 - 1]) {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(len, 0);
    assert.throws(() => new FrameReader(REQUEST_HEADER).push(b), FrameError, String(len));
  }
});
