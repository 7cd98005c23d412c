import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLog, lazyText } from './events.ts';

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

test('a lazy text is written once, when first read, and JSON carries it like any other field', () => {
  const log = new EventLog(10);
  let writes = 0;
  const e = log.emit({ kind: 'create', actor: 'core', buffer: 7, length: 4096, message: lazyText((a: { id: number }) => (writes++, `buffer ${a.id} created`), { id: 7 }) });
  assert.equal(writes, 0, 'nothing written at emit');
  assert.equal(e.message, 'buffer 7 created');
  assert.equal(log.list().at(-1)!.message, 'buffer 7 created');
  assert.equal(writes, 1, 'written once');
  assert.deepEqual(JSON.parse(JSON.stringify(e)), { seq: 1, time: e.time, kind: 'create', actor: 'core', buffer: 7, length: 4096, message: 'buffer 7 created' });
  const plain = log.emit({ kind: 'tee', actor: 'x', message: 'plain' });
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(plain))), ['seq', 'time', 'kind', 'actor', 'message'], 'absent fields stay absent');
});
