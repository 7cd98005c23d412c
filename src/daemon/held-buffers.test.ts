import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSmafSystem } from '../presets/default.ts';
import { HeldBuffers } from './held-buffers.ts';

test('a client\'s usage counts each buffer once, whatever its number of fds, until its last fd goes', () => {
  const { smaf } = createSmafSystem();
  const [a, b] = [smaf.create(4096), smaf.create(8192)];
  const held = new HeldBuffers();
  held.add(a);
  held.add(a);
  held.add(b);
  assert.deepEqual([held.buffers, held.bytes], [2, 12288]);
  assert.equal(held.remove(a), false, 'a still has an fd');
  assert.deepEqual([held.buffers, held.bytes], [2, 12288]);
  assert.equal(held.remove(a), true, 'a\'s last fd');
  assert.deepEqual([held.buffers, held.bytes], [1, 8192]);
  assert.equal(held.remove(b), true);
  assert.deepEqual([held.buffers, held.bytes], [0, 0]);
});

test('a held buffer is found by its id, and the list is in id order, one entry per buffer', () => {
  const { smaf } = createSmafSystem();
  const [a, b, c] = [smaf.create(4096), smaf.create(4096), smaf.create(4096)];
  const held = new HeldBuffers();
  held.add(c);
  held.add(a);
  held.add(c);
  assert.equal(held.get(a.id), a);
  assert.equal(held.get(b.id), undefined, 'b is not held');
  assert.deepEqual(held.list().map((x) => x.id), [a.id, c.id]);
  held.remove(c);
  assert.equal(held.get(c.id), c, 'one fd of c is left');
  held.remove(c);
  assert.equal(held.get(c.id), undefined);
});

test('removing a buffer that is not held changes nothing', () => {
  const { smaf } = createSmafSystem();
  const [a, b] = [smaf.create(4096), smaf.create(8192)];
  const held = new HeldBuffers();
  held.add(a);
  assert.equal(held.remove(b), true);
  assert.deepEqual([held.buffers, held.bytes, held.get(a.id)], [1, 4096, a]);
});
