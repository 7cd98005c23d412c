import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simulateCompatibility } from './deferred.ts';

test('deferred allocation serves every device of 300 random pipelines; eager ION-style does not', () => {
  const r = simulateCompatibility(42, 300);
  assert.deepEqual(r.failures, []);
  assert.equal(r.deferred, 1);
  assert.ok(r.eager < 0.95, `eager ${r.eager}`);
  assert.ok(r.migrations > 0, 'some late devices needed a migration');
});

test('the suite is deterministic for a seed', () => {
  assert.deepEqual(simulateCompatibility(7, 50), simulateCompatibility(7, 50));
});
