/**
 * The event stream over /ws/events: each viewer gets every event once, its backlog first.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { DaemonContext } from '../daemon/context.ts';
import { createSmafSystem } from '../presets/default.ts';
import { startDashboard, type Dashboard } from './server.ts';

type Message = { type: string; events: { seq: number; kind: string }[] };

let dash: Dashboard;
let ctx: DaemonContext;

before(async () => {
  const { smaf } = createSmafSystem();
  ctx = new DaemonContext(smaf, pino({ level: 'silent' }));
  // a long batch, so that a viewer surely opens while one is gathering
  dash = await startDashboard({ context: ctx, port: 0, eventBatchMs: 400 });
});
after(() => dash.close());

async function viewer(): Promise<{ ws: WebSocket; messages: Message[] }> {
  const origin = new URL(dash.url).origin;
  const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws/events`, { headers: { authorization: `Bearer ${dash.token}`, origin } });
  const messages: Message[] = [];
  ws.on('message', (m) => messages.push(JSON.parse(String(m)) as Message));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  while (messages.length === 0) await new Promise((r) => setTimeout(r, 5));
  return { ws, messages };
}

const seqs = (ms: readonly Message[]): number[] => ms.flatMap((m) => m.events.map((e) => e.seq));

test('a viewer that opens while a batch is gathering gets those events in its backlog only, never twice', async () => {
  const first = await viewer();
  const b = ctx.smaf.create(4096); // events gather in a batch for 400 ms
  const second = await viewer();
  assert.ok(seqs(second.messages).length > 0 && second.messages[0]!.type === 'backlog');
  const created = second.messages[0]!.events.find((e) => e.kind === 'create')!;
  assert.ok(created, 'the create event is in the late viewer\'s backlog');
  b.put();
  const end = Date.now() + 5000;
  while (!seqs(second.messages).some((s) => s > created.seq) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  for (const v of [first, second]) {
    const all = seqs(v.messages);
    assert.deepEqual(all, [...new Set(all)], 'no event twice');
    assert.deepEqual(all, [...all].sort((x, y) => x - y), 'in order');
  }
  assert.ok(seqs(first.messages.slice(1)).includes(created.seq), 'the first viewer gets the event in a batch');
  assert.ok(seqs(second.messages.slice(1)).every((s) => s > created.seq), 'the late viewer only newer ones');
  first.ws.close();
  second.ws.close();
});
