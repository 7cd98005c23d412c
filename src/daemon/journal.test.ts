/** The journal's pages on the wire: X_EVENTS writes each event's text once and sends exactly JSON.stringify(page). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createSmafSystem } from '../presets/default.ts';
import { encodeEventQuery, encodeName, Op } from '../uapi/index.ts';
import { DaemonContext, DEFAULT_LIMITS } from './context.ts';
import { eventPageJson } from './journal.ts';
import { ClientSession } from './session.ts';
import { create, fdOf, req, u32 } from './session-fixtures.ts';

test('an X_EVENTS page is JSON.stringify of the page, byte for byte, however often it is sent', () => {
  const { smaf } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), DEFAULT_LIMITS);
  const c = new ClientSession(1, ctx);
  ctx.sessions.add(c);
  // events of every shape: create, attach, map (allocation: region, allocator, latency), name, unmap, release
  const fd = fdOf(c.handle(create(64 * 1024)));
  const att = c.handle(req(Op.ATTACH, fd, encodeName('gpu', 64))).result;
  c.handle(req(Op.MAP, fd, u32(att, 0)));
  c.handle(req(Op.SET_NAME, fd, encodeName('frame "0"\n', 32)));
  c.handle(req(Op.UNMAP, fd, u32(att)));
  c.handle(req(Op.CLOSE, fd));
  const operator = new ClientSession(2, ctx, { admin: true }); // sees the events of every buffer
  for (const q of [{ limit: 1000 }, { limit: 3 }, { limit: 2, newest: true }]) {
    const page = ctx.journal.query({ after: 0, since: 0, kinds: [], client: 0, buffer: 0, newest: false, ...q });
    assert.ok(page.events.length > 0);
    assert.equal(eventPageJson(page), JSON.stringify(page));
    assert.equal(eventPageJson(page), JSON.stringify(page), 'the second time, from the texts kept');
    const wire = operator.handle(req(Op.X_EVENTS, -1, encodeEventQuery(q)));
    assert.equal(wire.result, page.events.length);
    assert.equal(new TextDecoder().decode(wire.payload), JSON.stringify(page));
  }
});
