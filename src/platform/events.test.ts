import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLog } from './events.ts';

test('the event log keeps the newest events in order, bounded, and counts every kind', () => {
  const log = new EventLog(5);
  const seen: number[] = [];
  const off = log.subscribe((e) => seen.push(e.seq));
  for (let i = 0; i < 12; i++) log.emit({ kind: i % 3 === 0 ? 'denial' : 'grant', actor: 'x', message: `m${i}` });
  off();
  log.emit({ kind: 'tee', actor: 'x', message: 'after unsubscribe' });
  assert.deepEqual(log.list().map((e) => e.message), ['m8', 'm9', 'm10', 'm11', 'after unsubscribe']);
  assert.deepEqual(log.list({ kinds: ['denial'] }).map((e) => e.message), ['m9']);
  assert.deepEqual(log.list({ after: 11, limit: 1 }).map((e) => e.seq), [13]);
  assert.equal(seen.length, 12);
  assert.equal(log.counts.denial, 4);
  assert.equal(log.lastSeq, 13);
});
