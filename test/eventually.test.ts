import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from './helpers/daemon.ts';

test('eventually returns the first value the check accepts', async () => {
  let n = 0;
  const v = await eventually(async () => ++n, (x) => x >= 3, 2000);
  assert.equal(v, 3);
});

test('eventually fails on timeout, naming what it waited for and the last value', async () => {
  let n = 0;
  await assert.rejects(
    eventually(async () => ({ buffers: ++n }), () => false, 120, 'buffers to be released'),
    (e: Error) => /timed out after 120 ms waiting for buffers to be released; last value: \{"buffers":\d+\}/.test(e.message) && n >= 2,
  );
});

test('eventually lets an error of the polled function through', async () => {
  await assert.rejects(eventually(async () => { throw new Error('socket closed'); }, () => true, 1000), /socket closed/);
});
