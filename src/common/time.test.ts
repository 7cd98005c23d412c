import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSince } from './time.ts';

test('parseSince: durations ago and ISO dates; anything else is a RangeError naming the forms', () => {
  const now = Date.parse('2026-11-30T10:00:00Z');
  assert.equal(parseSince('30s', now), now - 30_000);
  assert.equal(parseSince('5m', now), now - 300_000);
  assert.equal(parseSince('2h', now), now - 7_200_000);
  assert.equal(parseSince('1d', now), now - 86_400_000);
  assert.equal(parseSince('250ms', now), now - 250);
  assert.equal(parseSince('2026-11-30T09:00:00Z', now), Date.parse('2026-11-30T09:00:00Z'));
  for (const bad of ['', 'abc', '5', '-5s', '5 years', '2026-13-45']) assert.throws(() => parseSince(bad, now), /is not a time: use a duration ago/, bad);
});
