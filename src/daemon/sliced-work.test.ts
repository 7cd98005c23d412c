/**
 * Every request's cost is bounded or sliced (issue 21, item 3): an introspection request over the
 * whole journal is answered in slices of QUERY_SLICE events, and what a client may see is looked
 * up by buffer id, never by walking its fds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createSmafSystem } from '../presets/default.ts';
import { encodeEventQuery, encodeName, Op } from '../uapi/index.ts';
import { DaemonContext, DEFAULT_LIMITS } from './context.ts';
import { QUERY_SLICE } from './journal.ts';
import { snapshot } from './state.ts';
import { ClientSession } from './session.ts';
import { create, fdOf, req, u32 } from './session-fixtures.ts';

test('X_EVENTS over a full journal, from a client holding 1,024 fds, looks at no more than QUERY_SLICE events per step', () => {
  const { smaf } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), DEFAULT_LIMITS);
  const c = new ClientSession(1, ctx);
  ctx.sessions.add(c);
  const fds = Array.from({ length: 1024 }, () => fdOf(c.handle(create(4096))));
  for (let i = 0; i < 5000; i++) {
    const fd = fds[i % fds.length]!;
    c.handle(req(Op.DETACH, fd, u32(c.handle(req(Op.ATTACH, fd, encodeName('gpu', 64))).result)));
  }
  const journal = ctx.journal.all().length;
  assert.equal(journal, 10_000, 'the journal is full');
  // count what the scope is asked, step by step
  let looked = 0;
  const sees = c.scope.seesEvent.bind(c.scope);
  Object.assign(c.scope, { seesEvent: (e: { buffer?: number }) => (looked++, sees(e)) });
  for (const q of [{ limit: 1000 }, { limit: 1000, newest: true }, { limit: 1, kinds: ['create' as const] }]) {
    const started = c.begin(req(Op.X_EVENTS, -1, encodeEventQuery(q)));
    assert.ok(!('id' in started), 'sliced: not answered at once');
    const perStep: number[] = [];
    for (;;) {
      looked = 0;
      const out = started.step();
      perStep.push(looked);
      if (out !== null) {
        assert.ok('payload' in out && out.result >= 0, JSON.stringify(q));
        break;
      }
    }
    assert.ok(Math.max(...perStep) <= QUERY_SLICE, `${JSON.stringify(q)}: at most ${QUERY_SLICE} events a step (${perStep.join(', ')})`);
    assert.equal(perStep.reduce((a, b) => a + b, 0), journal, 'every event looked at once');
  }
});

test('X_STATE of a page of 500 buffers is sliced: no step explains more than 25 of them, and the JSON is the snapshot\'s', () => {
  const { smaf } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), DEFAULT_LIMITS);
  const c = new ClientSession(1, ctx);
  ctx.sessions.add(c);
  for (let i = 0; i < 500; i++) {
    const fd = fdOf(c.handle(create(8192)));
    c.handle(req(Op.MAP, fd, u32(c.handle(req(Op.ATTACH, fd, encodeName('gpu', 64))).result, 0)));
  }
  let explained = 0;
  const holders = c.scope.holdersOf.bind(c.scope);
  Object.assign(c.scope, { holdersOf: (id: number) => (explained++, holders(id)) });
  const started = c.begin(req(Op.X_STATE, -1, u32(0, 500)));
  assert.ok(!('id' in started), 'sliced');
  const perStep: number[] = [];
  let out: ReturnType<typeof started.step> = null;
  while (out === null) {
    explained = 0;
    out = started.step();
    perStep.push(explained);
  }
  assert.ok(out && 'payload' in out && out.result === 0);
  assert.ok(Math.max(...perStep) <= 25, `at most 25 buffers a step (${perStep.join(', ')})`);
  assert.equal(perStep.reduce((a, b) => a + b, 0), 500);
  const sent = JSON.parse(new TextDecoder().decode(out.payload)) as { time: number };
  const whole = JSON.parse(JSON.stringify(snapshot(c.scope, { offset: 0, limit: 500 }))) as { time: number };
  assert.deepEqual({ ...sent, time: 0 }, { ...whole, time: 0 }, 'the same state as the snapshot, field for field');
});
