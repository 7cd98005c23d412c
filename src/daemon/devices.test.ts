/**
 * X_DEVICES without sockets: each device and what it maps now (direction, addresses, grants, its
 * IOMMU domain's use); a client sees only the buffers it holds and nothing of the others' work.
 * And X_EXPLAIN of a released buffer, from the journal, for the operator only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { Errno } from '../common/errors.ts';
import { createSmafSystem } from '../presets/default.ts';
import { Op, type DevicesReport } from '../uapi/index.ts';
import type { Explanation } from '../core/index.ts';
import { DaemonContext } from './context.ts';
import { create, fdOf, req, u32 } from './session-fixtures.ts';
import { ClientSession } from './session.ts';

function setup() {
  const { smaf } = createSmafSystem();
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }));
  let id = 1;
  const client = (admin = false) => {
    const s = new ClientSession(id++, ctx, { admin });
    ctx.sessions.add(s);
    return s;
  };
  return { ctx, client };
}

const name64 = (s: string) => {
  const b = new Uint8Array(64);
  b.set(new TextEncoder().encode(s));
  return b;
};
const json = <T>(r: { result: number; payload: Uint8Array }): T => {
  assert.ok(r.result >= 0, new TextDecoder().decode(r.payload));
  return JSON.parse(new TextDecoder().decode(r.payload)) as T;
};

test('X_DEVICES: every device with its mappings, directions, DMA ranges, grants and IOMMU domain use', () => {
  const { client } = setup();
  const a = client();
  const admin = client(true);
  // a frame the ISP writes and the GPU reads (both behind IOMMUs: scattered pages, IOVAs)
  const frame = fdOf(a.handle(create(3 << 20)));
  const isp = a.handle(req(Op.ATTACH, frame, name64('isp'))).result;
  const gpu = a.handle(req(Op.ATTACH, frame, name64('gpu'))).result;
  assert.ok(a.handle(req(Op.MAP, frame, u32(isp, 2))).result >= 1);
  assert.ok(a.handle(req(Op.MAP, frame, u32(gpu, 1))).result >= 1);
  // a secure buffer the decoder writes: physical addresses and the secure module's grant
  const secure = fdOf(a.handle(create(64 << 10)));
  const flag = new Uint8Array(64);
  new DataView(flag.buffer).setInt32(8, secure, true);
  new DataView(flag.buffer).setUint32(16, 1, true);
  assert.equal(a.handle(req(0xc0405302, -1, flag)).result, 0);
  const vdec = a.handle(req(Op.ATTACH, secure, name64('vdec'))).result;
  assert.equal(a.handle(req(Op.MAP, secure, u32(vdec, 2))).result, 1);

  const r = json<DevicesReport>(admin.handle(req(Op.X_DEVICES, -1)));
  assert.equal(r.scope, 'all');
  assert.deepEqual(r.devices.map((d) => d.name), ['vdec', 'venc', 'display', 'gpu', 'isp', 'crypto']);
  const by = (n: string) => r.devices.find((d) => d.name === n)!;
  const i = by('isp');
  assert.equal(i.mappingsTotal, 1);
  assert.deepEqual({ ...i.mappings[0]!, ranges: [], holders: [] }, { buffer: 1, label: null, attachment: isp, direction: 'from-device', length: 3 << 20, secure: false, ranges: [], rangesTotal: 1, grants: [], grantsTotal: 0, holders: [] });
  assert.deepEqual(i.mappings[0]!.ranges, [{ start: 0x100000, length: 3 << 20 }], 'one IOVA range in the ISP\'s domain');
  assert.deepEqual(i.domain, { size: 2 ** 32 - 0x100000, mappedBytes: 3 << 20, mappings: 1, largestFree: 2 ** 32 - 0x100000 - (3 << 20) - 4096 });
  assert.equal(by('gpu').mappings[0]!.direction, 'to-device');
  assert.equal(by('gpu').mappings[0]!.rangesTotal, 48, 'the GPU takes 64 KiB segments: 48 of them');
  assert.equal(by('gpu').mappings[0]!.ranges.length, 8, 'the first few');
  const v = by('vdec');
  assert.equal(v.domain, null, 'no IOMMU');
  assert.equal(v.mappings[0]!.secure, true);
  assert.equal(v.mappings[0]!.ranges[0]!.start, 0x7c000000, 'physical: the secure carveout');
  assert.deepEqual(v.mappings[0]!.grants, [{ addr: 0x7c000000, size: 64 << 10 }]);
  assert.match(v.mappings[0]!.holders.join(), /client 1/);
  assert.deepEqual(by('display').mappings, []);
  assert.ok(by('isp').bus !== null);
});

test('X_DEVICES on the client socket: only the buffers it holds, no domain use, bus counters or holders', () => {
  const { client } = setup();
  const a = client();
  const b = client();
  const fa = fdOf(a.handle(create(8192)));
  assert.ok(a.handle(req(Op.MAP, fa, u32(a.handle(req(Op.ATTACH, fa, name64('gpu'))).result, 0))).result >= 1);
  const fb = fdOf(b.handle(create(4096)));
  assert.ok(b.handle(req(Op.MAP, fb, u32(b.handle(req(Op.ATTACH, fb, name64('gpu'))).result, 0))).result >= 1);
  const mine = json<DevicesReport>(b.handle(req(Op.X_DEVICES, -1)));
  assert.equal(mine.scope, 'own');
  const gpu = mine.devices.find((d) => d.name === 'gpu')!;
  assert.deepEqual(gpu.mappings.map((m) => m.buffer), [2], 'its own buffer, not client a\'s');
  assert.equal(gpu.mappingsTotal, 1);
  assert.deepEqual(gpu.domain, { size: 2 ** 40 - 0x100000, mappedBytes: null, mappings: null, largestFree: null }, 'how much of the domain others use is not its to see');
  assert.ok(mine.devices.every((d) => d.bus === null && d.mappings.every((m) => m.holders.length === 0)));
  assert.equal(b.handle(req(Op.X_DEVICES, 3)).result, -Errno.EINVAL, 'X_DEVICES goes to the device');
});

test('X_EXPLAIN of a released buffer: the operator gets its story from the journal; a client gets ENOENT', () => {
  const { client } = setup();
  const a = client();
  const admin = client(true);
  const fd = fdOf(a.handle(create(4096)));
  const att = a.handle(req(Op.ATTACH, fd, name64('display'))).result;
  assert.equal(a.handle(req(Op.MAP, fd, u32(att, 1))).result, 1);
  assert.equal(a.handle(req(Op.CLOSE, fd)).result, 0);
  const e = json<Explanation>(admin.handle(req(Op.X_EXPLAIN, -1, u32(1))));
  assert.ok(e.released && e.released.time > 0);
  assert.equal(e.allocator, 'smaf-cma');
  assert.equal(e.region, 'cma');
  assert.deepEqual(e.attachments.map((x) => x.device), ['display']);
  assert.equal(e.decisions.length, 1, 'the allocation decision, kept by the journal');
  assert.deepEqual(e.history!.map((h) => h.kind), ['create', 'attach', 'allocate', 'map', 'unmap', 'detach', 'release']);
  assert.equal(a.handle(req(Op.X_EXPLAIN, -1, u32(1))).result, -Errno.ENOENT, 'a client sees no buffer it does not hold');
  assert.equal(admin.handle(req(Op.X_EXPLAIN, -1, u32(99))).result, -Errno.EBADF, 'never existed');
});
