/** The SDP TA command by command: parameters, the class policy, grant counting, what it reports. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLog } from './events.ts';
import { parsePlatform } from './loader.ts';
import { SDP_POLICY, SDP_READ, SDP_REMOVE, SDP_TA_UUID, SDP_WRITE, SdpCommand, SdpTrustedApp } from './sdp-ta.ts';
import { TeeResult, type TeeParam } from './tee.ts';
import { bytesParam } from './tee-memory.ts';

const SPEC = parsePlatform(`
name: classes
memory:
  - { name: dram, base: 0x40000000, size: 16MiB, kind: system }
  - { name: sdp, base: 0x50000000, size: 1MiB, kind: secure-carveout }
  - { name: sdp2, base: 0x60000000, size: 1MiB, kind: secure-carveout }
devices:
  - { name: crypto, class: decrypter, dma_mask: 32, secure: true }
  - { name: demux, class: parser, dma_mask: 32, secure: true }
  - { name: dec, class: decoder, dma_mask: 32, secure: true }
  - { name: scaler, class: transformer, dma_mask: 32, secure: true }
  - { name: disp, class: sink, dma_mask: 32, secure: true }
  - { name: npu, class: accelerator, dma_mask: 32, secure: true }
  - { name: gpu, class: gpu, dma_mask: 32 }
tee:
  sdp_max_regions: 3
`, 'test');

const BASE = 0x50000000;

function setup() {
  const events = new EventLog(100);
  const ta = new SdpTrustedApp(SPEC.memory.filter((m) => m.kind === 'secure-carveout'), new Map(SPEC.devices.map((d) => [d.name, d])), 3, events);
  const create = (addr: number, size: number) => {
    const out: TeeParam = { type: 'value', a: 0, b: 0 };
    const r = ta.invoke(SdpCommand.CREATE_REGION, [{ type: 'value', a: addr, b: size }, out]);
    return { ...r, id: (out as { a: number }).a };
  };
  const update = (id: number, device: string, access: number) =>
    ta.invoke(SdpCommand.UPDATE_REGION, [{ type: 'value', a: id, b: 0 }, bytesParam(new TextEncoder().encode(device)), { type: 'value', a: access, b: 0 }]);
  const destroy = (id: number) => ta.invoke(SdpCommand.DESTROY_REGION, [{ type: 'value', a: id, b: 0 }]);
  const devices = (id: number) => ta.status().regions.find((r) => r.id === id)?.devices;
  return { ta, events, create, update, destroy, devices };
}

test('the TA names itself and carries the class policy of the SDP design', () => {
  const { ta } = setup();
  assert.equal(ta.uuid, SDP_TA_UUID);
  assert.equal(SDP_TA_UUID, 'b9aa5f00-d229-11e4-925c-0002a5d5c51b');
  assert.equal(ta.name, 'optee-sdp');
  assert.equal(ta.maxRegions, 3);
  assert.deepEqual(SDP_POLICY, {
    decrypter: { read: false, write: true },
    parser: { read: true, write: true },
    decoder: { read: true, write: true },
    transformer: { read: true, write: true },
    sink: { read: true, write: false },
  });
});

test('UPDATE_REGION grants each class exactly what the policy says, with the reason when it refuses', () => {
  const { create, update } = setup();
  const { id } = create(BASE, 4096);
  const answer = (dev: string, access: number) => {
    const r = update(id, dev, access);
    return r.code === TeeResult.SUCCESS ? 'ok' : `${r.code === TeeResult.ERROR_ACCESS_DENIED ? 'denied' : r.code}: ${r.reason}`;
  };
  assert.deepEqual(
    ['crypto', 'demux', 'dec', 'scaler', 'disp', 'npu', 'gpu'].map((d) => [d, answer(d, SDP_READ), answer(d, SDP_WRITE)]),
    [
      ['crypto', 'denied: a decrypter (crypto) may not read secure memory', 'ok'],
      ['demux', 'ok', 'ok'],
      ['dec', 'ok', 'ok'],
      ['scaler', 'ok', 'ok'],
      ['disp', 'ok', 'denied: a sink (disp) may not write secure memory'],
      ['npu', 'denied: device class "accelerator" of npu has no rights on secure memory', 'denied: device class "accelerator" of npu has no rights on secure memory'],
      ['gpu', 'denied: gpu is not secure-capable', 'denied: gpu is not secure-capable'],
    ],
  );
});

test('UPDATE_REGION counts grants per access and forgets a device when it holds none', () => {
  const { create, update, devices } = setup();
  const { id } = create(BASE, 4096);
  const ok = (dev: string, access: number) => assert.equal(update(id, dev, access).code, TeeResult.SUCCESS, `${dev} ${access}`);
  ok('dec', SDP_READ);
  ok('dec', SDP_READ);
  ok('dec', SDP_WRITE);
  assert.deepEqual(devices(id), { dec: { reads: 2, writes: 1 } });
  ok('dec', SDP_READ | SDP_REMOVE);
  assert.deepEqual(devices(id), { dec: { reads: 1, writes: 1 } });
  ok('dec', SDP_WRITE | SDP_REMOVE);
  assert.deepEqual(devices(id), { dec: { reads: 1, writes: 0 } });
  const noWrite = update(id, 'dec', SDP_WRITE | SDP_REMOVE);
  assert.deepEqual([noWrite.code, noWrite.reason], [TeeResult.ERROR_ITEM_NOT_FOUND, `dec holds no such access to region ${id}`]);
  ok('dec', SDP_READ | SDP_REMOVE);
  assert.deepEqual(devices(id), {}, 'no access left: the device is gone from the region');
  ok('dec', SDP_READ | SDP_WRITE);
  assert.deepEqual(devices(id), { dec: { reads: 1, writes: 1 } });
  ok('dec', SDP_READ | SDP_REMOVE);
  assert.deepEqual(devices(id), { dec: { reads: 0, writes: 1 } }, 'a write grant alone keeps the device in the region');
  const readGone = update(id, 'dec', SDP_READ | SDP_REMOVE);
  assert.deepEqual([readGone.code, readGone.reason], [TeeResult.ERROR_ITEM_NOT_FOUND, `dec holds no such access to region ${id}`]);
  ok('dec', SDP_READ);
  const noRead = update(id, 'disp', SDP_READ | SDP_REMOVE);
  assert.deepEqual([noRead.code, noRead.reason], [TeeResult.ERROR_ITEM_NOT_FOUND, `disp holds no such access to region ${id}`]);
  ok('dec', SDP_READ | SDP_WRITE | SDP_REMOVE);
  assert.deepEqual(devices(id), {});
});

test('UPDATE_REGION checks its parameters, the region and the device', () => {
  const { ta, create, update } = setup();
  const { id } = create(BASE, 4096);
  const bad = (params: TeeParam[]) => ta.invoke(SdpCommand.UPDATE_REGION, params);
  const name = bytesParam(new TextEncoder().encode('dec'));
  const why = 'UPDATE_REGION takes value(id), memref(device), value(access)';
  for (const params of [[], [{ type: 'value', a: id, b: 0 }, name], [{ type: 'value', a: id, b: 0 }, { type: 'value', a: 0, b: 0 }, { type: 'value', a: 1, b: 0 }], [name, name, { type: 'value', a: 1, b: 0 }]] as TeeParam[][]) {
    assert.deepEqual(bad(params), { code: TeeResult.ERROR_BAD_PARAMETERS, reason: why });
  }
  assert.deepEqual(update(id, 'dec', 0), { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'no access bits' });
  assert.deepEqual(update(id, 'dec', SDP_REMOVE), { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'no access bits' });
  assert.deepEqual(update(id + 7, 'dec', SDP_READ), { code: TeeResult.ERROR_ITEM_NOT_FOUND, reason: `no region ${id + 7}` });
  assert.deepEqual(update(id, 'ghost', SDP_READ), { code: TeeResult.ERROR_ITEM_NOT_FOUND, reason: 'unknown device "ghost"' });
});

test('CREATE_REGION: inside one secure carveout, touching neighbours allowed, ids counted up, logged', () => {
  const { ta, events, create } = setup();
  const why = 'CREATE_REGION takes value(addr, size) and an out value';
  assert.deepEqual(ta.invoke(SdpCommand.CREATE_REGION, [{ type: 'value', a: BASE, b: 4096 }]), { code: TeeResult.ERROR_BAD_PARAMETERS, reason: why });
  assert.deepEqual(ta.invoke(SdpCommand.CREATE_REGION, [bytesParam(new Uint8Array(0)), { type: 'value', a: 0, b: 0 }]), { code: TeeResult.ERROR_BAD_PARAMETERS, reason: why });
  const outside = (addr: number, size: number) => ({ code: TeeResult.ERROR_BAD_PARAMETERS, reason: `0x${addr.toString(16)}+${size} is not inside a secure carveout` });
  assert.deepEqual(create(BASE, 0), { ...outside(BASE, 0), id: 0 });
  assert.deepEqual(create(BASE - 4096, 8192), { ...outside(BASE - 4096, 8192), id: 0 });
  assert.deepEqual(create(BASE + 0xff000, 0x2000), { ...outside(BASE + 0xff000, 0x2000), id: 0 }, 'past the end');
  const a = create(BASE + 4096, 4096);
  const b = create(BASE, 4096);
  const c = create(0x60000000 + 0xff000, 0x1000);
  assert.deepEqual([a.code, b.code, c.code, a.id, b.id, c.id], [0, 0, 0, 1, 2, 3], 'adjacent regions do not overlap; a region may end where the carveout ends');
  assert.deepEqual(ta.invoke(SdpCommand.CREATE_REGION, [{ type: 'value', a: BASE + 4095, b: 1 }, { type: 'value', a: 0, b: 0 }]), { code: TeeResult.ERROR_BAD_STATE, reason: 'overlaps region 2' });
  assert.deepEqual(ta.invoke(SdpCommand.CREATE_REGION, [{ type: 'value', a: BASE + 0x8000, b: 4096 }, { type: 'value', a: 0, b: 0 }]), { code: TeeResult.ERROR_OUT_OF_MEMORY, reason: 'the SDP region table is full (3 regions)' });
  assert.deepEqual(events.list({ kinds: ['tee'] }).map((e) => [e.actor, e.addr, e.length, e.message]), [
    ['optee-sdp', BASE + 4096, 4096, 'SDP region 1 created at 0x50001000+4096'],
    ['optee-sdp', BASE, 4096, 'SDP region 2 created at 0x50000000+4096'],
    ['optee-sdp', 0x600ff000, 4096, 'SDP region 3 created at 0x600ff000+4096'],
  ]);
});

test('DESTROY_REGION, DUMP_STATUS and unknown commands', () => {
  const { ta, events, create, update, destroy } = setup();
  const { id } = create(BASE, 8192);
  update(id, 'disp', SDP_READ);
  assert.deepEqual(ta.invoke(SdpCommand.DESTROY_REGION, []), { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'DESTROY_REGION takes value(region id)' });
  assert.deepEqual(ta.invoke(SdpCommand.DUMP_STATUS, []), { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'DUMP_STATUS takes an out memref' });
  assert.deepEqual(ta.invoke(SdpCommand.DUMP_STATUS, [{ type: 'value', a: 0, b: 0 }]), { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'DUMP_STATUS takes an out memref' });
  const want = { maxRegions: 3, regions: [{ id, addr: BASE, size: 8192, devices: { disp: { reads: 1, writes: 0 } } }] };
  const needed = JSON.stringify(want).length;
  const short = bytesParam(new Uint8Array(10), 'output');
  assert.deepEqual(ta.invoke(SdpCommand.DUMP_STATUS, [short]), { code: TeeResult.ERROR_SHORT_BUFFER, reason: `the status takes ${needed} bytes` });
  assert.equal((short as { size: number }).size, needed, 'SHORT_BUFFER says how many bytes it needs');
  const bytes = new Uint8Array(1000);
  const out = bytesParam(bytes, 'output');
  assert.deepEqual(ta.invoke(SdpCommand.DUMP_STATUS, [out]), { code: TeeResult.SUCCESS });
  assert.equal((out as { size: number }).size, needed);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(bytes.subarray(0, needed))), want);
  assert.deepEqual(destroy(id), { code: TeeResult.SUCCESS });
  assert.deepEqual(destroy(id), { code: TeeResult.ERROR_ITEM_NOT_FOUND, reason: `no region ${id}` });
  assert.equal(events.list({ kinds: ['tee'] }).at(-1)!.message, `SDP region ${id} destroyed`);
  assert.equal(events.list({ kinds: ['tee'] }).at(-1)!.actor, 'optee-sdp');
  assert.deepEqual(ta.invoke(42, []), { code: TeeResult.ERROR_NOT_SUPPORTED, reason: 'unknown command 42' });
  assert.deepEqual(ta.status(), { maxRegions: 3, regions: [] });
});

test('status() is a copy: changing it changes nothing in the TA', () => {
  const { ta, create, update, devices } = setup();
  const { id } = create(BASE, 4096);
  update(id, 'dec', SDP_READ);
  const s = ta.status();
  s.regions[0]!.devices.dec!.reads = 99;
  assert.deepEqual(devices(id), { dec: { reads: 1, writes: 0 } });
});

test('a TA without an event log works the same', () => {
  const ta = new SdpTrustedApp(SPEC.memory.filter((m) => m.kind === 'secure-carveout'), new Map(), 1);
  const out: TeeParam = { type: 'value', a: 0, b: 0 };
  assert.equal(ta.invoke(SdpCommand.CREATE_REGION, [{ type: 'value', a: BASE, b: 4096 }, out]).code, TeeResult.SUCCESS);
  assert.equal(ta.invoke(SdpCommand.DESTROY_REGION, [{ type: 'value', a: (out as { a: number }).a, b: 0 }]).code, TeeResult.SUCCESS);
});
