/** Pacing helpers: Ctrl-C is listened for before the user is told to press it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { holdUntilInterrupt } from './pace.ts';

test('holdUntilInterrupt listens for SIGINT before it says so, and returns on SIGINT', async (t) => {
  const listenersWhenWritten: number[] = [];
  t.mock.method(process.stderr, 'write', () => {
    listenersWhenWritten.push(process.listenerCount('SIGINT'));
    return true;
  });
  const before = process.listenerCount('SIGINT');
  const held = holdUntilInterrupt('press Ctrl-C');
  process.emit('SIGINT', 'SIGINT');
  await held;
  assert.deepEqual(listenersWhenWritten, [before + 1], 'a SIGINT listener exists when the message is written');
  assert.equal(process.listenerCount('SIGINT'), before);
});
