/**
 * Every op of the table over a real socket, once, through the client's table-driven `op()`: the
 * request the client encodes from the row is accepted by the daemon, and the reply the daemon
 * encodes from the row decodes (and, for JSON, validates against the row's schema) in the client.
 * The smoke steps are a record over every op name: a new row without a step does not compile.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SmafClient } from '../src/client/client.ts';
import { isSmafError } from '../src/common/errors.ts';
import { encodeName, eventQueryStruct, OP_TABLE, type OpName } from '../src/uapi/index.ts';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
let admin: SmafClient;
let c: SmafClient;
before(async () => {
  d = await startDaemon(['--no-dashboard']);
  admin = await d.admin();
  c = await d.connect();
});
after(async () => {
  await c?.close();
  await admin?.close();
  await d?.stop();
});

/** What the steps share: a buffer with a device attached and mapped, a CPU mapping of a second one. */
interface Fixture {
  fd: number;
  att: number;
  cpuFd: number;
  mapping: number;
  token: Uint8Array;
  /** TEE context, session and shared memory ids. */
  tee: number;
  session: number;
  shm: number;
}

const STEPS: { readonly [K in OpName]: (f: Fixture) => Promise<unknown> } = {
  HELLO: async () => assert.equal((await c.op('HELLO', -1, { pid: 4242, comm: encodeName('op-table', 64) })).result, 0),
  ATTACH: async (f) => assert.ok((await c.op('ATTACH', f.fd, { device: encodeName('gpu', 64) })).result >= 0),
  MAP: async (f) => {
    const r = await c.op('MAP', f.fd, { attachment: f.att, direction: 0 });
    assert.equal(r.payload.length, r.result);
    assert.ok(r.payload.every((s) => s.length > 0n));
  },
  DMA_CRC: async (f) => assert.equal(typeof (await c.op('DMA_CRC', f.fd, { attachment: f.att, offset: 0n, length: 4096n })).payload.crc32, 'number'),
  DMA_SCANOUT: async (f) => assert.equal((await c.op('DMA_SCANOUT', f.fd, { attachment: f.att, offset: 0n, length: 8192n })).result, 8192),
  DMA_COPY: async (f) => {
    const r = await c.op('DMA_COPY', f.fd, { dst_attachment: f.att, src_fd: f.fd, src_attachment: f.att, transform: 0, src_offset: 0n, dst_offset: 4096n, length: 4096n });
    assert.equal(r.result, 4096);
  },
  UNMAP: async (f) => assert.equal((await c.op('UNMAP', f.fd, { attachment: f.att })).result, 0),
  DETACH: async (f) => assert.equal((await c.op('DETACH', f.fd, { attachment: f.att })).result, 0),
  MMAP: async (f) => assert.ok((await c.op('MMAP', f.cpuFd, { offset: 0n, length: 4096n, prot: 3 })).result >= 0),
  WRITE: async (f) => assert.equal((await c.op('WRITE', f.cpuFd, { mapping: f.mapping, offset: 8n, data: Uint8Array.of(1, 2, 3) })).result, 3),
  READ: async (f) => assert.deepEqual([...(await c.op('READ', f.cpuFd, { mapping: f.mapping, offset: 8n, length: 3 })).payload], [1, 2, 3]),
  GENERATION: async (f) => assert.ok((await c.op('GENERATION', f.cpuFd, {})).result > 0),
  MUNMAP: async (f) => assert.equal((await c.op('MUNMAP', f.cpuFd, { mapping: f.mapping })).result, 0),
  SET_NAME: async (f) => assert.equal((await c.op('SET_NAME', f.fd, { name: encodeName('frame', 32) })).result, 0),
  STAT: async (f) => {
    const s = (await c.op('STAT', f.fd, {})).payload;
    assert.equal(s.size, 2n * 4096n);
    assert.equal(s.allocated, 1);
  },
  EXPORT: async (f) => assert.equal((await c.op('EXPORT', f.fd, {})).payload.length, 16),
  IMPORT: async (f) => assert.ok((await admin.op('IMPORT', -1, { token: f.token })).result >= 3),
  DUP: async (f) => assert.ok((await c.op('DUP', f.fd, {})).result >= 3),
  X_STATE: async () => {
    const s = (await c.op('X_STATE', -1, { offset: 0, limit: 10 })).payload;
    assert.equal(s.scope, 'own');
    assert.ok(s.buffers.some((b) => b.label === 'frame'));
  },
  X_EXPLAIN: async (f) => assert.equal((await c.op('X_EXPLAIN', f.fd, { buffer: 0 })).payload.label, 'frame'),
  X_CHECK: async () => assert.equal((await admin.op('X_CHECK', -1, {})).payload.ok, true),
  X_EVENTS: async () => {
    const r = await c.op('X_EVENTS', -1, eventQueryStruct({ limit: 50 }));
    assert.equal(r.payload.events.length, r.result);
    assert.ok(r.result > 0);
  },
  X_TRACE: async () => assert.ok((await admin.op('X_TRACE', -1, { since: 0n })).payload.traceEvents.length > 0),
  X_RECORDING: async () => {
    const r = await admin.op('X_RECORDING', -1, { from: 0, limit: 1000 });
    assert.equal(r.payload.records.length, r.result);
    assert.ok(r.payload.records.some((x) => x.op === 'SET_NAME' && x.args?.name === 'frame'));
  },
  X_PS: async () => assert.ok((await admin.op('X_PS', -1, {})).payload.processes.some((p) => p.comm === 'op-table')),
  X_HEAPS: async () => assert.ok((await c.op('X_HEAPS', -1, {})).payload.some((h) => h.name === 'system')),
  X_DEVICES: async () => {
    const gpu = (await admin.op('X_DEVICES', -1, {})).payload.devices.find((d) => d.name === 'gpu')!;
    assert.ok(gpu.domain!.size > 0 && typeof gpu.domain!.largestFree === 'number');
    assert.equal((await c.op('X_DEVICES', -1, {})).payload.scope, 'own');
  },
  ALLOCATE: async () => {
    const fd = await c.create(4096);
    assert.equal((await c.op('ALLOCATE', fd, { heap: encodeName('system', 64) })).result, 0);
    assert.equal((await c.stat(fd)).allocated, true);
  },
  // files travel only on the native socket (C programs; test/native.test.ts): here each is EOPNOTSUPP
  FILE: async (f) => assert.rejects(c.op('FILE', f.fd, { access: 2 }), eopnotsupp),
  IDENTIFY: async () => assert.rejects(c.op('IDENTIFY', -1, { handle: 1 }), eopnotsupp),
  EXPORT_FENCE: async (f) => assert.rejects(c.op('EXPORT_FENCE', f.fd, { flags: 1 }), eopnotsupp),
  IMPORT_FENCE: async (f) => assert.rejects(c.op('IMPORT_FENCE', f.fd, { flags: 1 }), eopnotsupp),
  FENCE_INFO: async () => assert.rejects(c.op('FENCE_INFO', -1, {}), eopnotsupp),
  FENCE_MERGE: async () => assert.rejects(c.op('FENCE_MERGE', -1, { fence: 1, reserved: 0, name: encodeName('m', 32) }), eopnotsupp),
  X_NATIVE: async () => assert.equal(typeof (await c.op('X_NATIVE', -1, {})).payload.zeroCopy, 'boolean'),
  TEE_OPEN: async (f) => assert.ok((f.tee = (await c.op('TEE_OPEN', -1, {})).result) >= 1),
  TEE_VERSION: async (f) => assert.deepEqual((await c.op('TEE_VERSION', -1, { ctx: f.tee })).payload, { impl_id: 1, impl_caps: 1, gen_caps: 13 }),
  TEE_SHM_ALLOC: async (f) => assert.equal((await c.op('TEE_SHM_ALLOC', -1, { ctx: f.tee, size: 64n })).payload.size, 64n),
  TEE_SHM_REGISTER: async (f) => assert.equal((await c.op('TEE_SHM_REGISTER', -1, { ctx: f.tee, addr: 0x1000n, length: 32n })).payload.flags, 3),
  TEE_SHM_REGISTER_FD: async (f) => {
    const r = await c.op('TEE_SHM_REGISTER_FD', f.fd, { ctx: f.tee });
    assert.deepEqual([r.payload.size, r.payload.flags, r.payload.id], [8192n, 16, r.result]);
    f.shm = r.result;
  },
  TEE_OPEN_SESSION: async (f) => {
    const r = await c.teeOpenSession(f.tee, '12345678-5b69-11e4-9dbb-101f74f00099');
    assert.deepEqual([r.ret, r.origin], [0, 4]);
    f.session = r.session;
  },
  TEE_INVOKE: async (f) => {
    const r = await c.op('TEE_INVOKE', -1, { ctx: f.tee, session: f.session, func: 99, num_params: 0, data: new Uint8Array(0) });
    assert.equal(r.payload.length, r.result);
    assert.equal(new DataView(r.payload.buffer, r.payload.byteOffset).getUint32(0, true), 0xffff0006, 'an unknown command: TEEC_ERROR_BAD_PARAMETERS');
  },
  TEE_CANCEL: async (f) => assert.equal((await c.op('TEE_CANCEL', -1, { ctx: f.tee, session: f.session, cancel_id: 0 })).result, 0),
  TEE_CLOSE_SESSION: async (f) => assert.equal((await c.op('TEE_CLOSE_SESSION', -1, { ctx: f.tee, session: f.session })).result, 0),
  TEE_SHM_RELEASE: async (f) => assert.equal((await c.op('TEE_SHM_RELEASE', -1, { shm: f.shm })).result, 0),
  TEE_CLOSE: async (f) => assert.equal((await c.op('TEE_CLOSE', -1, { ctx: f.tee })).result, 0),
  CLOSE: async (f) => assert.equal((await c.op('CLOSE', f.cpuFd, {})).result, 0),
};

function eopnotsupp(e: unknown): boolean {
  return isSmafError(e, 'EOPNOTSUPP') && /only smafd's native socket carries files/.test((e as Error).message);
}

test('every op of the table, over the socket: the daemon accepts the request and the client decodes the reply', async () => {
  const fd = await c.create(8192);
  const cpuFd = await c.create(4096);
  const f: Fixture = { fd, att: -1, cpuFd, mapping: -1, token: new Uint8Array(0), tee: 0, session: 0, shm: 0 };
  const done: string[] = [];
  for (const name of Object.keys(STEPS) as OpName[]) {
    if (name === 'MAP') f.att = (await c.op('ATTACH', fd, { device: encodeName('gpu', 64) })).result;
    if (name === 'WRITE') f.mapping = (await c.op('MMAP', cpuFd, { offset: 0n, length: 4096n, prot: 3 })).result;
    if (name === 'IMPORT') f.token = await c.exportToken(fd);
    await STEPS[name](f);
    done.push(name);
  }
  assert.deepEqual(done.sort(), OP_TABLE.map((r) => r.name).sort(), 'every row was exercised');
});

test('a daemon whose reply does not fit the row: EPROTO naming the op, never a crash later', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-bad-replies-'));
  const path = join(dir, 'smaf.sock');
  // answers every request with a reply of the wrong shape for its op
  const replies = new Map<number, Buffer>([[0x80, Buffer.from('{"time": "soon"}')], [5, Buffer.alloc(8)], [13, Buffer.alloc(79)], [0x89, Buffer.from('not json')]]);
  const server = createServer((s) => {
    s.on('data', (b) => {
      const id = b.readUInt32LE(4);
      const op = b.readUInt32LE(8);
      const payload = replies.get(op) ?? Buffer.alloc(0);
      const head = Buffer.alloc(12);
      head.writeUInt32LE(8 + payload.length, 0);
      head.writeUInt32LE(id, 4);
      head.writeInt32LE(op === 5 ? 1 : 0, 8);
      s.write(Buffer.concat([head, payload]));
    });
  });
  await new Promise<void>((resolve) => server.listen(path, () => resolve()));
  const bad = await SmafClient.connect(path, { timeoutMs: 2000 });
  try {
    const eproto = (re: RegExp) => (e: unknown) => isSmafError(e, 'EPROTO') && re.test((e as Error).message);
    await assert.rejects(bad.state(), eproto(/malformed X_STATE reply: time: /));
    await assert.rejects(bad.map(3, 0), eproto(/malformed MAP reply: 1 entries of 16 bytes expected, got 8/));
    await assert.rejects(bad.stat(3), eproto(/malformed STAT reply/));
    await assert.rejects(bad.heaps(), eproto(/malformed X_HEAPS reply: not JSON/));
  } finally {
    bad.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
