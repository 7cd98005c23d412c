import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createSmafSystem } from '../presets/default.ts';
import { encodeName, encodeOpRequest, encodeStruct, Op, opRowNamed, SMAF_IOC_SET_SECURE_FLAG, type OpRecord } from '../uapi/index.ts';
import { DaemonContext, DEFAULT_LIMITS } from './context.ts';
import { Recorder } from './recorder.ts';
import { ClientSession } from './session.ts';
import { create, fdOf, req, u32 } from './session-fixtures.ts';

function daemon(recordedOps?: number) {
  const { smaf } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), DEFAULT_LIMITS, null, recordedOps);
  return { ctx, session: (id: number, admin = false) => new ClientSession(id, ctx, { admin }) };
}

/** A record without its clock. */
const plain = ({ t: _t, ...r }: OpRecord): Omit<OpRecord, 't'> => r;

test('every operation of every client is recorded at the dispatcher: decoded arguments, outcome, the buffers involved, in order', () => {
  const { ctx, session } = daemon();
  const a = session(1);
  const b = session(2);
  const fd = fdOf(a.handle(create(8192)));
  const att = a.handle(req(Op.ATTACH, fd, encodeName('display', 64))).result;
  a.handle(req(Op.MAP, fd, u32(att, 1)));
  a.handle(req(Op.MAP, fd, u32(att + 5, 1))); // no such attachment: EINVAL
  const token = a.handle(req(Op.EXPORT, fd)).payload;
  const imported = b.handle(req(Op.IMPORT, -1, token)).result;
  const src = fdOf(b.handle(create(4096)));
  b.handle(req(SMAF_IOC_SET_SECURE_FLAG.number, -1, encodeStruct(SMAF_IOC_SET_SECURE_FLAG.struct, { fd: imported, secure: 0 })));
  b.handle(req(Op.DMA_COPY, imported, encodeOpRequest(opRowNamed('DMA_COPY'), { dst_attachment: 0, src_fd: src, src_attachment: 0, transform: 0, src_offset: 0n, dst_offset: 0n, length: 16n })));
  b.handle(req(Op.CLOSE, 99));
  b.close();
  a.handle(req(Op.X_STATE, -1)); // introspection: counted, not recorded
  const page = ctx.recorder.page(0, 100);
  assert.deepEqual(page.records.map(plain), [
    { seq: 1, client: 1, op: 'CONNECT' },
    { seq: 2, client: 2, op: 'CONNECT' },
    { seq: 3, client: 1, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 8192, flags: 2, name: '' }, result: 0, new_fd: fd, buffer: 1 },
    { seq: 4, client: 1, op: 'ATTACH', fd, args: { device: 'display' }, buffer: 1, result: att },
    { seq: 5, client: 1, op: 'MAP', fd, args: { attachment: att, direction: 1 }, buffer: 1, result: 1 },
    { seq: 6, client: 1, op: 'MAP', fd, args: { attachment: att + 5, direction: 1 }, buffer: 1, errno: 'EINVAL', message: `no attachment ${att + 5} on fd ${fd}` },
    { seq: 7, client: 1, op: 'EXPORT', fd, args: {}, buffer: 1, result: 0 },
    { seq: 8, client: 2, op: 'IMPORT', fd: -1, args: {}, result: imported, buffer: 1 },
    { seq: 9, client: 2, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 4096, flags: 2, name: '' }, result: 0, new_fd: src, buffer: 2 },
    { seq: 10, client: 2, op: 'SMAF_IOC_SET_SECURE_FLAG', fd: -1, args: { fd: imported, secure: 0 }, buffer: 1, result: 0 },
    { seq: 11, client: 2, op: 'DMA_COPY', fd: imported, args: { dst_attachment: 0, src_fd: src, src_attachment: 0, transform: 0, src_offset: 0, dst_offset: 0, length: 16 }, buffer: 1, src_buffer: 2, errno: 'EINVAL', message: `no attachment 0 on fd ${imported}` },
    { seq: 12, client: 2, op: 'CLOSE', fd: 99, args: {}, errno: 'EBADF', message: 'fd 99 is not open in this client' },
    { seq: 13, client: 2, op: 'DISCONNECT' },
  ]);
  assert.ok(page.records.every((r, i) => i === 0 || r.t >= page.records[i - 1]!.t), 'times never go back');
  assert.deepEqual(page.header.unrecorded, { unknown: 0, malformed: 0, introspection: 1 });
  assert.equal(page.header.complete, true);
  assert.equal((page.header.platform as { name: string }).name, 'media-soc');
  assert.equal(page.header.limits?.maxClientBuffers, DEFAULT_LIMITS.maxClientBuffers);
});

test('an IMPORT names the buffer of its token, even when it fails after the lookup (EMFILE): the replay needs it', () => {
  const { smaf } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), { ...DEFAULT_LIMITS, maxFds: 1 });
  const a = new ClientSession(1, ctx);
  const b = new ClientSession(2, ctx);
  const token = a.handle(req(Op.EXPORT, fdOf(a.handle(create(4096))))).payload;
  b.handle(create(4096)); // b's one fd
  assert.equal(b.handle(req(Op.IMPORT, -1, token)).result, -24, 'EMFILE');
  assert.equal(b.handle(req(Op.IMPORT, -1, new Uint8Array(16))).result, -2, 'an unknown token: ENOENT');
  const records = ctx.recorder.page(0, 100).records.filter((r) => r.op === 'IMPORT');
  assert.deepEqual(records.map((r) => [r.errno, r.buffer]), [['EMFILE', 1], ['ENOENT', undefined]]);
});

test('a sliced request is recorded once, when it answers, with what it concerned when it began', () => {
  const { ctx, session } = daemon();
  const s = session(1);
  const fd = fdOf(s.handle(create(1 << 20)));
  const m = s.handle(req(Op.MMAP, fd, encodeOpRequest(opRowNamed('MMAP'), { offset: 0n, length: 1n << 20n, prot: 3 }))).result;
  const sliced = s.begin(req(Op.WRITE, fd, encodeOpRequest(opRowNamed('WRITE'), { mapping: m, offset: 0n, data: new Uint8Array(1 << 20) })));
  assert.ok('step' in sliced);
  const before = ctx.recorder.size;
  let r = sliced.step();
  while (r === null) r = sliced.step();
  assert.equal(ctx.recorder.size, before + 1);
  assert.deepEqual(plain(ctx.recorder.page(before, 1).records[0]!), { seq: before + 1, client: 1, op: 'WRITE', fd, args: { mapping: m, offset: 0, length: 1 << 20 }, buffer: 1, result: 1 << 20 });
});

test('bounded without losing the beginning: past the limit operations are counted as dropped, and the header says the recording is incomplete', () => {
  const { ctx, session } = daemon(5);
  const s = session(1);
  for (let i = 0; i < 6; i++) s.handle(create(4096));
  s.close(); // its DISCONNECT too is past the limit
  const page = ctx.recorder.page(0, 100);
  assert.deepEqual(page.records.map((r) => r.seq), [1, 2, 3, 4, 5]);
  assert.equal(page.records[0]!.op, 'CONNECT', 'the first operations are the ones kept');
  assert.deepEqual({ complete: page.header.complete, dropped: page.header.dropped, ops: page.header.ops, limit: page.header.limit }, { complete: false, dropped: 3, ops: 5, limit: 5 });
  assert.equal(daemon(0).ctx.recorder.header().complete, false, 'no recording at all is not a complete one');
});

test('X_RECORDING pages the recording for the operator only', () => {
  const { session } = daemon();
  const client = session(1);
  const admin = session(2, true);
  for (let i = 0; i < 5; i++) client.handle(create(4096));
  const denied = client.handle(req(Op.X_RECORDING, -1, u32(0, 10)));
  assert.equal(denied.result, -1, 'EPERM on the client socket');
  assert.match(new TextDecoder().decode(denied.payload), /X_RECORDING \(smaf trace export\) shows every client's buffers: it is only answered on the operator's admin socket/);
  const page = admin.handle(req(Op.X_RECORDING, -1, u32(2, 3)));
  const doc = JSON.parse(new TextDecoder().decode(page.payload)) as { records: OpRecord[]; next: number; header: { ops: number } };
  assert.equal(page.result, 3);
  assert.deepEqual(doc.records.map((r) => r.seq), [3, 4, 5]);
  assert.equal(doc.next, 5);
  assert.equal(admin.handle(req(Op.X_RECORDING, -1, u32(0, 0))).result, -22, 'a limit of 0 is EINVAL');
  assert.equal(admin.handle(req(Op.X_RECORDING, -1, u32(0, 10_001))).result, -22, 'so is one past the page limit');
  assert.equal(JSON.parse(new TextDecoder().decode(admin.handle(req(Op.X_RECORDING, -1, u32(1000, 10))).payload)).records.length, 0, 'past the end: an empty page');
});

test('a recorder on its own: records carry the clock since its origin', () => {
  let now = 1_000;
  const r = new Recorder(10, () => now, { name: 'x' });
  now = 1_500;
  r.connect({ id: 4, admin: true, bufferIdOf: () => undefined });
  assert.deepEqual(r.page(0, 1).records[0], { seq: 1, t: 500, client: 4, op: 'CONNECT', admin: true });
  assert.equal(r.header().origin_us, 1_000);
});
