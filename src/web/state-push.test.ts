import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WSContext } from 'hono/ws';
import { EventLog } from '../platform/index.ts';
import { MAX_PUSH_GAP_MS, PUSH_SHARE, StatePusher } from './state-push.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wait until `ok()`, at most `ms` (a loaded machine runs timers late). */
async function until(ok: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!ok() && performance.now() < end) await sleep(5);
}

test('pushes follow changes, and a push that costs more spaces the next ones to its share of the time', async () => {
  const events = new EventLog();
  let cost = 0;
  const payload = () => {
    const end = performance.now() + cost;
    while (performance.now() < end); // a state that takes `cost` ms to build
    return 'state';
  };
  const pusher = new StatePusher(events, payload, () => {}, { throttleMs: 5 });
  const sent: number[] = [];
  const ws = { send: () => sent.push(performance.now()), close: () => {}, raw: undefined } as unknown as WSContext;
  pusher.add(ws);
  assert.equal(sent.length, 1, 'a new viewer gets the state at once');
  events.emit({ kind: 'tee', actor: 'x', message: 'a' });
  await until(() => sent.length === 2, 1000);
  assert.equal(sent.length, 2, 'a change is pushed after the throttle');
  cost = 20;
  events.emit({ kind: 'tee', actor: 'x', message: 'b' });
  await until(() => sent.length === 3, 1000);
  assert.equal(sent.length, 3, 'cheap so far: pushed at the throttle');
  const t = performance.now();
  events.emit({ kind: 'tee', actor: 'x', message: 'c' });
  await sleep(150);
  assert.equal(sent.length, 3, `a 20 ms push waits ${20 / PUSH_SHARE} ms before the next`);
  await until(() => sent.length === 4, 2000);
  assert.equal(sent.length, 4);
  assert.ok(sent[3]! - t >= 20 / PUSH_SHARE - 30, `${sent[3]! - t} ms`);
  pusher.close();
});

test('however much a push costs, the next one comes within MAX_PUSH_GAP_MS', async () => {
  const events = new EventLog();
  let cost = 0;
  const pusher = new StatePusher(events, () => {
    const end = performance.now() + cost;
    while (performance.now() < end);
    return 'state';
  }, () => {}, { throttleMs: 5 });
  const sent: number[] = [];
  pusher.add({ send: () => sent.push(performance.now()), close: () => {}, raw: undefined } as unknown as WSContext);
  cost = 150; // at a 5 % share, 3 s apart
  events.emit({ kind: 'tee', actor: 'x', message: 'a' });
  await until(() => sent.length === 2, 1000);
  cost = 0;
  const t = performance.now();
  events.emit({ kind: 'tee', actor: 'x', message: 'b' });
  await until(() => sent.length === 3, MAX_PUSH_GAP_MS + 2000);
  assert.equal(sent.length, 3);
  const gap = sent[2]! - t;
  assert.ok(gap >= MAX_PUSH_GAP_MS - 30 && gap < MAX_PUSH_GAP_MS + 1500, `${gap} ms`);
  pusher.close();
});
