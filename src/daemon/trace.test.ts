/**
 * The journal (events with their client, region and allocator) and its Chrome trace, driven through
 * real client sessions on the default platform: a camera buffer, a secure frame with a refused GPU.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createSmafSystem } from '../presets/default.ts';
import { encodeEventQuery, eventQueryFrom, eventQueryStruct, encodeName, encodeStruct, Op, SMAF_IOC_CREATE, SMAF_IOC_SET_SECURE_FLAG, type Request } from '../uapi/index.ts';
import { DaemonContext, DEFAULT_LIMITS } from './context.ts';
import { traceOf } from './operator-ops.ts';
import { ClientSession } from './session.ts';
import { checkChromeTrace } from './trace-check.ts';
import type { TraceEvent } from './trace.ts';
import { req, u32 } from './session-fixtures.ts';
import { operatorScope } from './scope.ts';


function setup() {
  const { smaf } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), DEFAULT_LIMITS);
  const client = (id: number, comm: string) => {
    const s = new ClientSession(id, ctx);
    ctx.sessions.add(s);
    const hello = new Uint8Array(72);
    new DataView(hello.buffer).setUint32(0, 4000 + id, true);
    hello.set(new TextEncoder().encode(comm), 8);
    assert.equal(s.handle(req(Op.HELLO, -1, hello)).result, 0);
    const ok = (r: Request): number => {
      const res = s.handle(r);
      assert.ok(res.result >= 0, new TextDecoder().decode(res.payload));
      return res.result;
    };
    const create = (len: number, secure = false): number => {
      const r = s.handle(req(SMAF_IOC_CREATE.number, -1, encodeStruct(SMAF_IOC_CREATE.struct, { length: BigInt(len), flags: 2 })));
      const fd = new DataView(r.payload.buffer, r.payload.byteOffset).getInt32(24, true);
      if (secure) ok(req(SMAF_IOC_SET_SECURE_FLAG.number, -1, encodeStruct(SMAF_IOC_SET_SECURE_FLAG.struct, { fd, secure: 1 })));
      return fd;
    };
    const attach = (fd: number, dev: string) => s.handle(req(Op.ATTACH, fd, encodeName(dev, 64)));
    return { s, ok, create, attach };
  };
  return { smaf, ctx, client };
}

/** A camera buffer (isp + display: CMA), mapped then released; a secure frame the GPU may not attach to. */
function pipeline() {
  const sys = setup();
  const cam = sys.client(7, 'camera-app');
  const fd = cam.create(3040 * 1024);
  const isp = cam.attach(fd, 'isp').result;
  const disp = cam.attach(fd, 'display').result;
  cam.ok(req(Op.MAP, fd, u32(isp, 2)));
  cam.ok(req(Op.MAP, fd, u32(disp, 1)));
  cam.ok(req(Op.UNMAP, fd, u32(isp)));
  cam.ok(req(Op.CLOSE, fd));
  const player = sys.client(8, 'player');
  const sfd = player.create(64 * 1024, true);
  const vdec = player.attach(sfd, 'vdec').result;
  player.ok(req(Op.MAP, sfd, u32(vdec, 2)));
  assert.ok(player.attach(sfd, 'gpu').result < 0, 'the GPU is refused');
  return { ...sys, player };
}

test('the journal annotates each event with its client, the buffer\'s owner, region, allocator and allocation latency', () => {
  const { ctx } = pipeline();
  const events = ctx.journal.all();
  const alloc = events.find((e) => e.kind === 'allocate' && e.size === 3040 * 1024)!;
  assert.equal(alloc.clientLabel, 'client 7 (camera-app, pid 4007)');
  assert.equal(alloc.region, 'cma');
  assert.equal(alloc.allocator, 'smaf-cma');
  assert.equal(typeof alloc.latencyUs, 'number');
  assert.ok(alloc.latencyUs! >= 0);
  const release = events.find((e) => e.kind === 'release' && e.buffer === alloc.buffer)!;
  assert.equal(release.region, 'cma', 'a released buffer keeps its region in the journal');
  assert.equal(release.ownerLabel, 'client 7 (camera-app, pid 4007)');
  const denial = events.find((e) => e.kind === 'denial' && e.actor === 'gpu')!;
  assert.equal(denial.client, 8);
  assert.equal(denial.region, 'sdp');
  assert.equal(denial.secure, true);
  // microsecond timestamps, monotonic
  for (let i = 1; i < events.length; i++) assert.ok(events[i]!.us >= events[i - 1]!.us);
});

test('X_EVENTS filters and pages on the daemon over the whole journal; bad queries are EINVAL', () => {
  const { ctx, player } = pipeline();
  // 1,500 denials: more than the platform's own 2,000-event log would keep beside the rest
  const sfd = 3;
  for (let i = 0; i < 1500; i++) assert.ok(player.s.handle(req(Op.MMAP, sfd, (() => { const p = new Uint8Array(20); const v = new DataView(p.buffer); v.setBigUint64(8, 4096n, true); v.setUint32(16, 1, true); return p; })())).result < 0);
  const call = (q: Parameters<typeof encodeEventQuery>[0]) => {
    return ctx.journal.query(eventQueryFrom(eventQueryStruct(q)));
  };
  const first = call({ kinds: ['denial'], limit: 1000 });
  assert.equal(first.matched, 1501);
  assert.equal(first.events.length, 1000);
  assert.equal(first.more, true);
  assert.ok(first.events.every((e) => e.kind === 'denial'));
  const second = call({ kinds: ['denial'], limit: 1000, after: first.next });
  assert.equal(second.events.length, 501);
  assert.equal(second.more, false);
  assert.ok(second.events[0]!.seq > first.events.at(-1)!.seq);
  const newest = call({ kinds: ['denial'], limit: 3, newest: true });
  assert.deepEqual(newest.events.map((e) => e.seq), second.events.slice(-3).map((e) => e.seq));
  assert.ok(call({ client: 7, limit: 1000 }).events.every((e) => e.client === 7));
  assert.equal(call({ client: 7, kinds: ['denial'], limit: 10 }).matched, 0);
  const b = call({ kinds: ['create'], limit: 1, client: 7 }).events[0]!.buffer!;
  assert.ok(call({ buffer: b, limit: 100 }).events.every((e) => e.buffer === b));
  assert.equal(call({ since: Date.now() + 60_000, limit: 10 }).matched, 0);

  const bad = (bytes: Uint8Array) => player.s.handle(req(Op.X_EVENTS, -1, bytes));
  const q = () => encodeEventQuery({ limit: 10 });
  const set = (o: number, v: number) => { const p = q(); new DataView(p.buffer).setUint32(o, v, true); return p; };
  for (const [p, re] of [[set(20, 0), /limit 0 is not within 1..1000/], [set(20, 1001), /limit 1001/], [set(16, 1 << 20), /kinds mask/], [set(32, 2), /unknown flags/], [set(36, 1), /reserved/], [new Uint8Array(8), /takes 40 payload bytes/]] as const) {
    const r = bad(p);
    assert.equal(r.result, -22);
    assert.match(new TextDecoder().decode(r.payload), re);
  }
});

test('the trace is valid trace-event JSON with each buffer\'s life, its allocator, its maps and the GPU denial', () => {
  const { ctx } = pipeline();
  const trace = traceOf(operatorScope(ctx));
  assert.deepEqual(checkChromeTrace(JSON.parse(JSON.stringify(trace))), []);
  const ev = trace.traceEvents;
  const procName = (pid: number) => (ev.find((e) => e.ph === 'M' && e.name === 'process_name' && e.pid === pid)?.args as { name: string }).name;
  const life = ev.filter((e) => e.ph === 'X' && e.cat === 'buffer' && e.name.startsWith('buffer '));
  assert.equal(life.length, 2);
  const cam = life.find((e) => e.args!.size === 3040 * 1024)!;
  assert.equal(procName(cam.pid), 'region cma');
  assert.equal(cam.args!.live, false);
  assert.equal(cam.args!.owner, 'client 7 (camera-app, pid 4007)');
  const inside = (e: TraceEvent) => e.pid === cam.pid && e.tid === cam.tid;
  const memory = ev.find((e) => inside(e) && e.ph === 'X' && e.name === 'smaf-cma')!;
  assert.ok(memory.ts! >= cam.ts! && memory.ts! + memory.dur! <= cam.ts! + cam.dur!, 'the allocation lies within the buffer\'s life');
  assert.ok(ev.some((e) => inside(e) && e.ph === 'X' && e.name === 'no memory yet'));
  for (const dev of ['isp', 'display']) {
    assert.equal(ev.filter((e) => inside(e) && e.ph === 'b' && e.name === `mapped by ${dev}`).length, 1, dev);
    assert.equal(ev.filter((e) => inside(e) && e.ph === 'e' && e.name === `mapped by ${dev}`).length, 1, dev);
  }
  const secure = life.find((e) => e.args!.secure === true)!;
  assert.equal(procName(secure.pid), 'region sdp');
  assert.equal(secure.args!.live, true);
  assert.ok(ev.some((e) => e.ph === 'i' && e.pid === secure.pid && e.tid === secure.tid && e.name === 'DENIED gpu'));
  assert.ok(ev.some((e) => e.ph === 'X' && e.pid === secure.pid && e.tid === secure.tid && e.name === 'secure-carveout'));
  // the cma counter rises to 3040 KiB and falls back to 0
  const cma = ev.filter((e) => e.ph === 'C' && e.name === 'cma bytes in use').map((e) => e.args!.bytes);
  assert.equal(Math.max(...(cma as number[])), 3040 * 1024);
  assert.equal(cma.at(-1), 0);
  assert.equal(cma[0], 0);
});

test('the trace checker catches what viewers reject', () => {
  const ok = { name: 'a', ph: 'X', pid: 1, tid: 1, ts: 0, dur: 10 };
  assert.deepEqual(checkChromeTrace({ traceEvents: [ok], displayTimeUnit: 'ms' }), []);
  assert.notDeepEqual(checkChromeTrace({ traceEvents: [{ ...ok, dur: undefined }], displayTimeUnit: 'ms' }), []);
  assert.notDeepEqual(checkChromeTrace({ traceEvents: [{ name: 'm', ph: 'b', pid: 1, tid: 1, ts: 0, cat: 'c', id2: { local: 'x' } }], displayTimeUnit: 'ms' }), []);
  assert.notDeepEqual(checkChromeTrace({ traceEvents: [ok, { ...ok, name: 'b', ts: 5, dur: 10 }], displayTimeUnit: 'ms' }), []);
});
