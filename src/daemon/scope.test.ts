/**
 * Visibility, one property over every introspection op: after random histories of clients that
 * create, share, map, name and close buffers, each X_* op shows a client exactly what its connection
 * holds (its buffers, their memory and events, itself) and the operator everything. The table of
 * checks below must name every X_* op of the op table: a new introspection op without a check here
 * fails the first test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { Errno, isSmafError } from '../common/errors.ts';
import { createSmafSystem } from '../presets/default.ts';
import { encodeEventQuery, encodeName, encodeStruct, Op, OP_TABLE, SMAF_IOC_CREATE, type Request } from '../uapi/index.ts';
import type { DaemonState, DevicesReport, ProcessReport } from '../uapi/replies.ts';
import { DaemonContext, DEFAULT_LIMITS } from './context.ts';
import type { JournalEvent } from './journal.ts';
import { operatorScope } from './scope.ts';
import { ClientSession } from './session.ts';

let rid = 1;
const req = (op: number, fd: number, payload: Uint8Array = new Uint8Array(0)): Request => ({ id: rid++, op, fd, payload });
const u32 = (...v: number[]): Uint8Array => {
  const b = new Uint8Array(v.length * 4);
  v.forEach((x, i) => new DataView(b.buffer).setUint32(i * 4, x, true));
  return b;
};
const json = <T>(r: { payload: Uint8Array }): T => JSON.parse(new TextDecoder().decode(r.payload)) as T;

type Step =
  | { a: 'create'; c: number }
  | { a: 'share'; from: number; to: number; fd: number }
  | { a: 'dup'; c: number; fd: number }
  | { a: 'map'; c: number; fd: number; device: number }
  | { a: 'name'; c: number; fd: number }
  | { a: 'close'; c: number; fd: number }
  | { a: 'leave'; c: number };

const CLIENTS = 3;
const c = fc.nat({ max: CLIENTS - 1 });
const fdIx = fc.nat({ max: 5 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ a: fc.constant('create' as const), c }), weight: 4 },
  { arbitrary: fc.record({ a: fc.constant('share' as const), from: c, to: c, fd: fdIx }), weight: 2 },
  fc.record({ a: fc.constant('dup' as const), c, fd: fdIx }),
  { arbitrary: fc.record({ a: fc.constant('map' as const), c, fd: fdIx, device: fc.nat({ max: 2 }) }), weight: 2 },
  fc.record({ a: fc.constant('name' as const), c, fd: fdIx }),
  { arbitrary: fc.record({ a: fc.constant('close' as const), c, fd: fdIx }), weight: 2 },
  { arbitrary: fc.record({ a: fc.constant('leave' as const), c }), weight: 1 },
);

interface World {
  readonly ctx: DaemonContext;
  clients: ClientSession[];
  readonly admin: ClientSession;
  nextId: number;
}

function world(): World {
  const { smaf } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), DEFAULT_LIMITS);
  const w: World = { ctx, clients: [], admin: new ClientSession(100, ctx, { admin: true }), nextId: 1 };
  ctx.sessions.add(w.admin);
  for (let i = 0; i < CLIENTS; i++) w.clients.push(join(w));
  return w;
}

function join(w: World): ClientSession {
  const s = new ClientSession(w.nextId++, w.ctx);
  w.ctx.sessions.add(s);
  return s;
}

const DEVICES = ['gpu', 'display', 'isp'];

function run(w: World, s: Step): void {
  const pick = (k: ClientSession, i: number): number | undefined => k.openFds[i % Math.max(1, k.openFds.length)];
  const k = w.clients[s.a === 'share' ? s.from : s.c]!;
  const fd = 'fd' in s ? pick(k, s.fd) : undefined;
  if (s.a === 'create') k.handle(req(SMAF_IOC_CREATE.number, -1, encodeStruct(SMAF_IOC_CREATE.struct, { length: 8192n, flags: 2 })));
  else if (s.a === 'leave') {
    k.close();
    w.ctx.sessions.delete(k);
    w.clients[s.c] = join(w);
  } else if (fd === undefined) return;
  else if (s.a === 'share') {
    const token = k.handle(req(Op.EXPORT, fd)).payload;
    w.clients[s.to]!.handle(req(Op.IMPORT, -1, token));
  } else if (s.a === 'dup') k.handle(req(Op.DUP, fd));
  else if (s.a === 'map') {
    const att = k.handle(req(Op.ATTACH, fd, encodeName(DEVICES[s.device]!, 64))).result;
    if (att >= 0) k.handle(req(Op.MAP, fd, u32(att, 0)));
  } else if (s.a === 'name') k.handle(req(Op.SET_NAME, fd, encodeName(`b${fd}`, 32)));
  else k.handle(req(Op.CLOSE, fd));
}

/** The buffer ids a session holds an fd of. */
const heldIds = (s: ClientSession): number[] => [...new Set(s.openFds.map((fd) => s.bufferOfFd(fd).id))].sort((a, b) => a - b);

/** Every event of the journal X_EVENTS gives, paged to the end. */
function allEvents(s: ClientSession): JournalEvent[] {
  const out: JournalEvent[] = [];
  let after = 0;
  for (;;) {
    const page = json<{ events: JournalEvent[]; more: boolean; next: number }>(s.handle(req(Op.X_EVENTS, -1, encodeEventQuery({ after, limit: 1000 }))));
    out.push(...page.events);
    if (!page.more) return out;
    after = page.next;
  }
}

/** Every buffer id X_STATE lists, page by page. */
function stateBuffers(s: ClientSession): { ids: number[]; first: DaemonState } {
  const first = json<DaemonState>(s.handle(req(Op.X_STATE, -1, u32(0, 2))));
  const ids: number[] = [];
  for (let offset = 0; offset < first.buffersTotal; offset += 2) ids.push(...json<DaemonState>(s.handle(req(Op.X_STATE, -1, u32(offset, 2)))).buffers.map((b) => b.buffer));
  return { ids, first };
}

/**
 * For each introspection op: what a client `s` sees is exactly what it holds (`held`), and what the
 * operator sees is everything. Each check throws (an assert) when visibility is wrong.
 */
const CHECKS: Record<string, (w: World, s: ClientSession, held: number[]) => void> = {
  X_STATE: (w, s, held) => {
    const mine = stateBuffers(s);
    assert.deepEqual(mine.ids, held, 'X_STATE lists exactly the buffers held');
    assert.equal(mine.first.scope, 'own');
    assert.deepEqual(mine.first.clients.map((x) => x.id), [s.id], 'itself among the clients, nobody else');
    const st = json<DaemonState>(s.handle(req(Op.X_STATE, -1, u32(0, 500))));
    const mineSegs = held.flatMap((id) => w.ctx.smaf.find(id)!.segments.map((g) => `${id}@${g.phys}`)).sort();
    assert.deepEqual(st.regions.flatMap((r) => r.occupancy.map((o) => `${o.buffer}@${o.base}`)).sort(), mineSegs, 'the memory of held buffers, all of it');
    assert.ok(st.events.every((e) => e.buffer !== undefined && held.includes(e.buffer)), 'events of held buffers only');
    assert.ok(st.buffers.every((b) => b.holders.length === 0), 'names no holder');
    assert.deepEqual([st.limitUsage, st.internalErrors, st.eventCounts, st.bus, st.tokens], [[], 0, {}, {}, 0], 'no daemon-wide figure');
    const platformLog = w.ctx.platform.events.list({});
    assert.deepEqual(st.events.map((e) => e.seq), platformLog.filter((e) => e.buffer !== undefined && held.includes(e.buffer)).slice(-200).map((e) => e.seq), 'the latest events of its buffers, all of them');
    const all = stateBuffers(w.admin);
    assert.deepEqual(all.ids, w.ctx.smaf.buffers.map((b) => b.id), 'the operator sees every live buffer');
    assert.deepEqual(all.first.clients.map((x) => x.id).sort(), [...w.ctx.sessions].map((x) => x.id).sort(), 'and every client');
    assert.deepEqual(all.first.events.map((e) => e.seq), platformLog.slice(-200).map((e) => e.seq), 'and the latest events');
    const owned = [...w.ctx.smaf.ownedRanges()].map((r) => `${r.owner}@${r.base}`).sort();
    assert.deepEqual(all.first.regions.flatMap((r) => r.occupancy.map((o) => `${o.buffer}@${o.base}`)).sort(), owned, 'and all the memory in use');
    const { ctx } = w;
    assert.deepEqual([all.first.tokens, all.first.internalErrors, all.first.eventCounts, all.first.bus, all.first.limitUsage.length],
      [ctx.tokens.size, ctx.internalErrors, { ...ctx.platform.events.counts }, JSON.parse(JSON.stringify(ctx.platform.bus.stats())), ctx.limitUsage().length], 'and the daemon-wide figures');
    assert.equal(all.first.scope, 'all');
    // what every client may see is the same for both: the SoC, the allocators, region totals, the limits
    const shared = (x: DaemonState) => [x.platform, x.devices, x.allocators, x.secureModule, x.firewall, x.limits, x.regions.map(({ occupancy: _, ...r }) => r)];
    assert.deepEqual(shared(st), shared(all.first));
    const descriptions = ctx.smaf.registry.allocators.map((a) => [a.name, a.description ?? '']);
    assert.deepEqual([st.platform, st.secureModule, st.limits, st.allocators.map((a) => [a.name, a.description])], [{ name: ctx.platform.name, pageSize: ctx.platform.pageSize }, 'optee-sdp', { ...ctx.limits.settings }, descriptions]);
    assert.deepEqual(st.devices.map((d) => d.name), ctx.platform.devices.map((d) => d.name));
  },
  X_EXPLAIN: (w, s, held) => {
    const live = w.ctx.smaf.buffers.map((b) => b.id);
    // the operator also gets the story of a buffer already released, from the journal
    const released = new Set(w.ctx.journal.all().filter((e) => e.kind === 'release').map((e) => e.buffer));
    for (let id = 1; id < w.ctx.smaf.buffers.length + 40; id++) {
      const r = s.handle(req(Op.X_EXPLAIN, -1, u32(id)));
      assert.equal(r.result, held.includes(id) ? 0 : -Errno.ENOENT, `explain of buffer ${id}`);
      const op = w.admin.handle(req(Op.X_EXPLAIN, -1, u32(id)));
      assert.equal(op.result, live.includes(id) || released.has(id) ? 0 : -Errno.EBADF, `the operator's explain of ${id}`);
      if (released.has(id)) assert.ok(json<{ released?: unknown }>(op).released, `buffer ${id} explained as released`);
    }
    for (const fd of s.openFds) assert.equal(json<{ buffer: number }>(s.handle(req(Op.X_EXPLAIN, fd, u32(0)))).buffer, s.bufferOfFd(fd).id);
  },
  X_EVENTS: (w, s, held) => {
    const journal = w.ctx.journal.all();
    assert.deepEqual(allEvents(s).map((e) => e.seq), journal.filter((e) => e.buffer !== undefined && held.includes(e.buffer)).map((e) => e.seq), 'the events of held buffers, all of them');
    assert.deepEqual(allEvents(w.admin).map((e) => e.seq), journal.map((e) => e.seq), 'the operator: the whole journal');
  },
  X_PS: (w, s) => {
    assert.equal(s.handle(req(Op.X_PS, -1)).result, -Errno.EPERM);
    const ps = json<ProcessReport>(w.admin.handle(req(Op.X_PS, -1)));
    assert.deepEqual(ps.processes.map((p) => p.client), [...w.ctx.sessions].map((x) => x.id).sort((a, b) => a - b));
  },
  X_TRACE: (w, s) => {
    assert.equal(s.handle(req(Op.X_TRACE, -1, new Uint8Array(8))).result, -Errno.EPERM);
    const trace = json<{ otherData: { events: number } }>(w.admin.handle(req(Op.X_TRACE, -1, new Uint8Array(8))));
    assert.equal(trace.otherData.events, w.ctx.journal.all().length);
    const journal = w.ctx.journal.all();
    const since = journal[Math.floor(journal.length / 2)]?.time ?? 0;
    const p = new Uint8Array(8);
    new DataView(p.buffer).setBigUint64(0, BigInt(since), true);
    const from = json<{ otherData: { events: number } }>(w.admin.handle(req(Op.X_TRACE, -1, p)));
    assert.equal(from.otherData.events, journal.filter((e) => since === 0 || e.time >= since).length, 'since: the events from then on');
  },
  X_CHECK: (w, s) => {
    assert.equal(s.handle(req(Op.X_CHECK, -1)).result, -Errno.EPERM);
    assert.equal(w.admin.handle(req(Op.X_CHECK, -1)).result, 0);
  },
  X_HEAPS: (w, s) => {
    // no client's data: the same answer for everyone
    assert.deepEqual(json(s.handle(req(Op.X_HEAPS, -1))), json(w.admin.handle(req(Op.X_HEAPS, -1))));
  },
  X_RECORDING: (w, s) => {
    // every client's operations: the operator's only, whole
    const page = new Uint8Array(8);
    new DataView(page.buffer).setUint32(4, 10_000, true);
    assert.equal(s.handle(req(Op.X_RECORDING, -1, page)).result, -Errno.EPERM);
    const rec = json<{ records: { client: number }[]; header: { ops: number } }>(w.admin.handle(req(Op.X_RECORDING, -1, page)));
    assert.equal(rec.records.length, w.ctx.recorder.size);
    assert.deepEqual(new Set(rec.records.map((r) => r.client)), new Set(w.ctx.recorder.page(0, 10_000).records.map((r) => r.client)));
  },
  X_DEVICES: (w, s, held) => {
    // every DMA mapping of a buffer, as device:buffer pairs
    const pairs = (r: DevicesReport) => r.devices.flatMap((d) => d.mappings.map((m) => `${d.name}:${m.buffer}`)).sort();
    const truth = (ids: number[]) => w.ctx.smaf.buffers.filter((b) => ids.includes(b.id)).flatMap((b) => b.attachments.filter((a) => a.mapped).map((a) => `${a.device.name}:${b.id}`)).sort();
    const mine = json<DevicesReport>(s.handle(req(Op.X_DEVICES, -1)));
    assert.equal(mine.scope, 'own');
    assert.deepEqual(pairs(mine), truth(held), 'the mappings of the buffers it holds, all of them');
    assert.ok(mine.devices.every((d) => d.bus === null && (d.domain === null || d.domain.mappedBytes === null) && d.mappings.every((m) => m.holders.length === 0)), 'no domain use, bus counters or holders');
    const all = json<DevicesReport>(w.admin.handle(req(Op.X_DEVICES, -1)));
    assert.equal(all.scope, 'all');
    assert.deepEqual(pairs(all), truth(w.ctx.smaf.buffers.map((b) => b.id)), 'the operator: every mapping');
  },
  X_NATIVE: (w, s) => {
    // how C programs reach smafd, and totals of files: no client's data, the same for everyone
    assert.deepEqual(json(s.handle(req(Op.X_NATIVE, -1))), json(w.admin.handle(req(Op.X_NATIVE, -1))));
  },
};

test('every introspection op of the table has a visibility check here', () => {
  const ops = OP_TABLE.filter((r) => r.name.startsWith('X_')).map((r) => r.name).sort();
  assert.deepEqual(Object.keys(CHECKS).sort(), ops);
});

test('every introspection op shows a client exactly what its connection holds, and the operator everything', () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
      const w = world();
      for (const s of steps) run(w, s);
      for (const s of w.clients) {
        const held = heldIds(s);
        for (const [op, check] of Object.entries(CHECKS)) {
          try {
            check(w, s, held);
          } catch (e) {
            throw new Error(`${op} for client ${s.id} (holds ${held.join(', ') || 'nothing'}): ${(e as Error).message}`, { cause: e });
          }
        }
      }
    }),
    { numRuns: 40 },
  );
});

test('the dashboard\'s scope is the operator\'s, without fds; a client\'s scope refuses the self-check', () => {
  const w = world();
  const scope = operatorScope(w.ctx);
  assert.equal(scope.kind, 'all');
  assert.throws(() => scope.bufferOfFd(3), (e) => isSmafError(e, 'EBADF') && /this view has no fds/.test((e as Error).message));
  assert.equal(scope.selfCheck().ok, true);
  const c = w.clients[0]!;
  assert.throws(() => c.scope.selfCheck(), (e) => isSmafError(e, 'EPERM') && /X_CHECK \(smaf doctor\) shows every client's buffers: it is only answered on the operator's admin socket/.test((e as Error).message));
  assert.throws(() => c.scope.buffer(1), (e) => isSmafError(e, 'ENOENT') && (e as Error).message === "no buffer 1 among those this client holds (the operator's admin socket explains any buffer)");
  assert.deepEqual(c.scope.recentEvents(5), []);
  const fd = c.handle(req(SMAF_IOC_CREATE.number, -1, encodeStruct(SMAF_IOC_CREATE.struct, { length: 4096n, flags: 2 }))).payload;
  const mine = new DataView(fd.buffer, fd.byteOffset).getInt32(24, true);
  for (let i = 0; i < 150; i++) c.handle(req(Op.DETACH, mine, u32(c.handle(req(Op.ATTACH, mine, encodeName('gpu', 64))).result)));
  const all = w.ctx.platform.events.list({});
  assert.ok(all.length > 250);
  assert.deepEqual(scope.recentEvents(200).map((e) => e.seq), all.slice(-200).map((e) => e.seq), 'the operator: the latest 200');
  const id = c.bufferOfFd(mine).id;
  assert.deepEqual(c.scope.recentEvents(100).map((e) => e.seq), all.filter((e) => e.buffer === id).slice(-100).map((e) => e.seq), 'a client: the latest of its buffers');
});
