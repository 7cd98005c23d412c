/**
 * The daemon side of issue 16 without sockets: SET_NAME labels a buffer, X_PS accounts every
 * client's buffers (processes(scope)), X_HEAPS names the dma-heaps (heaps()).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { Errno } from '../common/errors.ts';
import { explain } from '../core/index.ts';
import { createSmafSystem } from '../presets/default.ts';
import { encodeStruct, HELLO_SIZE, Op, SMAF_IOC_CREATE, type Request } from '../uapi/index.ts';
import { DaemonContext } from './context.ts';
import { heaps, type HeapInfo } from './heaps.ts';
import type { ProcessReport } from './processes.ts';
import { ClientSession } from './session.ts';
import { snapshot } from './state.ts';
import { operatorScope } from './scope.ts';

function setup() {
  const { smaf } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }));
  let id = 1;
  const client = (pid?: number, comm?: string, admin = false) => {
    const s = new ClientSession(id++, ctx, { admin });
    ctx.sessions.add(s);
    if (pid !== undefined) {
      const hello = new Uint8Array(HELLO_SIZE);
      new DataView(hello.buffer).setUint32(0, pid, true);
      hello.set(new TextEncoder().encode(comm), 8);
      assert.equal(s.handle(req(Op.HELLO, -1, hello)).result, 0);
    }
    return s;
  };
  return { smaf, ctx, client };
}

let rid = 1;
const req = (op: number, fd: number, payload: Uint8Array = new Uint8Array(0)): Request => ({ id: rid++, op, fd, payload });
const create = (len: number, name = '') => {
  const body = encodeStruct(SMAF_IOC_CREATE.struct, { length: BigInt(len), flags: 2 });
  body.set(new TextEncoder().encode(name), 32);
  return req(SMAF_IOC_CREATE.number, -1, body);
};
const fdOf = (r: { result: number; payload: Uint8Array }) => {
  assert.equal(r.result, 0, new TextDecoder().decode(r.payload));
  return new DataView(r.payload.buffer, r.payload.byteOffset).getInt32(24, true);
};
const name32 = (s: string | Uint8Array) => {
  const b = new Uint8Array(32);
  b.set(typeof s === 'string' ? new TextEncoder().encode(s) : s);
  return b;
};
const json = <T>(r: { result: number; payload: Uint8Array }): T => {
  assert.equal(r.result, 0);
  return JSON.parse(new TextDecoder().decode(r.payload)) as T;
};

test('SET_NAME labels a buffer: explain, state and the event log show it; 32 bytes without a NUL is EINVAL', () => {
  const { smaf, ctx, client } = setup();
  const c = client();
  const fd = fdOf(c.handle(create(4096)));
  assert.equal(c.handle(req(Op.SET_NAME, fd, name32('camera-out'))).result, 0);
  const buf = smaf.buffers[0]!;
  assert.equal(explain(buf).label, 'camera-out');
  assert.equal(snapshot(operatorScope(ctx)).buffers[0]!.label, 'camera-out');
  assert.ok(smaf.platform.events.list({ kinds: ['name'] }).some((e) => e.buffer === buf.id && e.message.includes('camera-out')));
  assert.equal(c.handle(req(Op.SET_NAME, fd, new Uint8Array(32).fill(0x41))).result, -Errno.EINVAL, 'no NUL in 32 bytes');
  assert.equal(c.handle(req(Op.SET_NAME, fd, new Uint8Array(31))).result, -Errno.EINVAL, 'payload of the wrong size');
  assert.equal(c.handle(req(Op.SET_NAME, 99, name32('x'))).result, -Errno.EBADF);
  assert.equal(c.handle(req(Op.SET_NAME, fd, name32(Uint8Array.of(0x61, 0x0a, 0x62)))).result, 0);
  assert.equal(buf.label, 'a\\x0ab', 'control characters cannot forge lines in logs');
  // C1 controls (a one-byte CSI, OSC) and bidi overrides are escaped too, not only C0
  assert.equal(c.handle(req(Op.SET_NAME, fd, name32('x\u009b2J\u009d0;t\u202e'))).result, 0);
  assert.equal(buf.label, 'x\\u009b2J\\u009d0;t\\u202e');
  assert.equal(c.handle(req(Op.SET_NAME, fd, name32(Uint8Array.of(0x61, 0x0a, 0x62)))).result, 0);
  assert.equal(c.handle(req(Op.CLOSE, fd)).result, 0);
  assert.match(smaf.platform.events.list({ kinds: ['release'] }).at(-1)!.message, /"a\\x0ab"/);
});

test('X_PS: every client, its buffers (size, name, allocator, mapped, shared), totals per process and per allocator', () => {
  const { client } = setup();
  const cam = client(4242, 'camera');
  const gpu = client(4343, 'compositor');
  const anon = client(undefined, undefined, true); // the operator, on the admin socket
  const a = fdOf(cam.handle(create(8192, 'smaf-cma')));
  const b = fdOf(cam.handle(create(4096)));
  cam.handle(req(Op.SET_NAME, a, name32('frame-0')));
  const mmap = new Uint8Array(20);
  new DataView(mmap.buffer).setBigUint64(8, 8192n, true);
  new DataView(mmap.buffer).setUint32(16, 3, true);
  assert.ok(cam.handle(req(Op.MMAP, a, mmap)).result >= 0);
  const gpuName = new Uint8Array(64);
  gpuName.set(new TextEncoder().encode('gpu'));
  const att = cam.handle(req(Op.ATTACH, b, gpuName)).result;
  assert.equal(cam.handle(req(Op.MAP, b, Uint8Array.from([att, 0, 0, 0, 0, 0, 0, 0]))).result, 1, 'the GPU maps buffer b for DMA; nobody maps it with the CPU');
  const dup = cam.handle(req(Op.DUP, a)).result;
  const token = cam.handle(req(Op.EXPORT, a)).payload;
  const imported = gpu.handle(req(Op.IMPORT, -1, token)).result;
  assert.ok(imported >= 3);

  const r = json<ProcessReport>(anon.handle(req(Op.X_PS, -1)));
  assert.deepEqual(r.processes.map((p) => [p.pid, p.comm]), [[4242, 'camera'], [4343, 'compositor'], [null, null]]);
  const [pc, pg, pa] = r.processes;
  const seen = (x: ProcessReport['processes'][number]['buffers'][number]) => ({ size: x.size, name: x.name, allocator: x.allocator, cpuMapped: x.cpuMapped, dmaMapped: x.dmaMapped, dmaDevices: x.dmaDevices, fds: x.fds, sharedBy: x.sharedBy });
  assert.deepEqual(pc!.buffers.map(seen), [
    { size: 8192, name: 'frame-0', allocator: 'smaf-cma', cpuMapped: true, dmaMapped: false, dmaDevices: [], fds: [a, dup], sharedBy: 2 },
    { size: 4096, name: null, allocator: 'system', cpuMapped: false, dmaMapped: true, dmaDevices: ['gpu'], fds: [b], sharedBy: 1 },
  ]);
  assert.deepEqual(pc!.totals, { buffers: 2, bytes: 12288, cpuMappedBytes: 8192 });
  assert.deepEqual(pg!.buffers.map((x) => ({ size: x.size, cpuMapped: x.cpuMapped, fds: x.fds })), [{ size: 8192, cpuMapped: false, fds: [imported] }]);
  assert.deepEqual(pa!.buffers, []);
  assert.deepEqual(r.allocators, [{ allocator: 'smaf-cma', buffers: 1, bytes: 8192 }, { allocator: 'system', buffers: 1, bytes: 4096 }], 'a shared buffer counts once');
  assert.deepEqual(r.total, { buffers: 2, bytes: 12288 });
  assert.equal(anon.handle(req(Op.X_PS, 3)).result, -Errno.EINVAL, 'X_PS goes to the device');
  assert.equal(cam.handle(req(Op.X_PS, -1)).result, -Errno.EPERM, "another client's processes are the operator's to see");

  cam.close();
  const after = json<ProcessReport>(anon.handle(req(Op.X_PS, -1)));
  assert.deepEqual(after.processes[0]!.buffers, [], 'a closed client holds nothing');
  assert.deepEqual(after.total, { buffers: 1, bytes: 8192 });
});

test('X_HEAPS: one heap per allocator (no late-choice heap: a heap allocates at ALLOC), linux,cma for smaf-cma, protected,<allocator> for a secure-only one', () => {
  const { smaf, client } = setup();
  const list = json<HeapInfo[]>(client().handle(req(Op.X_HEAPS, -1)));
  assert.deepEqual(list.map((h) => [h.name, h.allocator, h.secure]), [
    ['protected,secure-carveout', 'secure-carveout', true],
    ['protected,smaf-optee', 'smaf-optee', true],
    ['system', 'system', false],
    ['linux,cma', 'smaf-cma', false],
  ]);
  assert.deepEqual(heaps(smaf), list);
  assert.equal(smaf.buffers.length, 0, 'probing the allocators allocates nothing');
});

test('GENERATION counts the writes into a buffer through smafd: CPU WRITEs and DMA copies into it, nothing else', () => {
  const { client } = setup();
  const c = client();
  const dst = fdOf(c.handle(create(8192)));
  const src = fdOf(c.handle(create(8192)));
  const gen = (fd: number) => c.handle(req(Op.GENERATION, fd)).result;
  assert.equal(gen(dst), 0);
  const mmap = new Uint8Array(20);
  new DataView(mmap.buffer).setBigUint64(8, 8192n, true);
  new DataView(mmap.buffer).setUint32(16, 3, true);
  const m = c.handle(req(Op.MMAP, dst, mmap)).result;
  const read = new Uint8Array(16);
  new DataView(read.buffer).setUint32(0, m, true);
  new DataView(read.buffer).setUint32(12, 16, true);
  assert.equal(c.handle(req(Op.READ, dst, read)).result, 16);
  assert.equal(gen(dst), 0, 'reading and mapping change nothing');
  const write = new Uint8Array(12 + 4);
  new DataView(write.buffer).setUint32(0, m, true);
  assert.equal(c.handle(req(Op.WRITE, dst, write)).result, 4);
  const afterWrite = gen(dst);
  assert.ok(afterWrite > 0, 'a CPU WRITE');
  const attach = (fd: number) => c.handle(req(Op.ATTACH, fd, new TextEncoder().encode('gpu\0'.padEnd(64, '\0')))).result;
  const map = (fd: number, att: number) => { const b = new Uint8Array(8); new DataView(b.buffer).setUint32(0, att, true); assert.ok(c.handle(req(Op.MAP, fd, b)).result > 0); };
  const da = attach(dst);
  const sa = attach(src);
  map(dst, da);
  map(src, sa);
  const copy = new Uint8Array(40);
  const v = new DataView(copy.buffer);
  v.setUint32(0, da, true);
  v.setInt32(4, src, true);
  v.setUint32(8, sa, true);
  v.setBigUint64(32, 4096n, true);
  assert.equal(c.handle(req(Op.DMA_COPY, dst, copy)).result, 4096);
  assert.ok(gen(dst) > afterWrite, 'a DMA copy bumps its destination');
  assert.equal(gen(src), 0, 'and only its destination');
  assert.equal(c.handle(req(Op.GENERATION, -1)).result, -Errno.EBADF);
});
