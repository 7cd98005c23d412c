import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testPlatformSpec } from '../testing/index.ts';
import { CPU } from './bus.ts';
import { Platform } from './platform.ts';
import { SDP_READ, SDP_REMOVE, SDP_TA_UUID, SDP_WRITE, SdpCommand } from './sdp-ta.ts';
import { TeeResult, type TeeParam } from './tee.ts';
import { bytesParam } from './tee-memory.ts';

function setup() {
  const platform = new Platform(testPlatformSpec());
  const { code, session } = platform.tee.openSession(SDP_TA_UUID);
  assert.equal(code, TeeResult.SUCCESS);
  const sdp = platform.region('sdp');
  const create = (addr: number, size: number) => {
    const out: TeeParam = { type: 'value', a: 0, b: 0 };
    const r = platform.tee.invoke(session, SdpCommand.CREATE_REGION, [{ type: 'value', a: addr, b: size }, out]);
    return { ...r, id: (out as { a: number }).a };
  };
  const update = (id: number, device: string, access: number) =>
    platform.tee.invoke(session, SdpCommand.UPDATE_REGION, [{ type: 'value', a: id, b: 0 }, bytesParam(new TextEncoder().encode(device)), { type: 'value', a: access, b: 0 }]);
  return { platform, session, sdp, create, update };
}

test('the TEE finds the SDP TA by UUID and rejects unknown ones and closed sessions', () => {
  const { platform, session } = setup();
  assert.equal(platform.tee.openSession('00000000-0000-0000-0000-000000000000').code, TeeResult.ERROR_ITEM_NOT_FOUND);
  assert.equal(platform.tee.invoke(session, 99).code, TeeResult.ERROR_NOT_SUPPORTED);
  platform.tee.closeSession(session);
  assert.equal(platform.tee.invoke(session, SdpCommand.DUMP_STATUS).code, TeeResult.ERROR_BAD_STATE);
});

test('CREATE_REGION: inside a secure carveout, no overlap, bounded table', () => {
  const { create, sdp } = setup();
  assert.equal(create(0x40000000, 4096).code, TeeResult.ERROR_BAD_PARAMETERS, 'normal memory cannot become a region');
  assert.equal(create(sdp.base + sdp.size - 4096, 8192).code, TeeResult.ERROR_BAD_PARAMETERS, 'must lie inside');
  const ids = [];
  for (let i = 0; i < 4; i++) {
    const r = create(sdp.base + i * 8192, 4096);
    assert.equal(r.code, TeeResult.SUCCESS);
    ids.push(r.id);
  }
  assert.equal(create(sdp.base, 4096).code, TeeResult.ERROR_BAD_STATE, 'overlap');
  const full = create(sdp.base + 0x100000, 4096);
  assert.equal(full.code, TeeResult.ERROR_OUT_OF_MEMORY, 'the table holds 4 regions on the test platform');
  assert.match(full.reason, /table is full \(4 regions\)/);
  assert.equal(new Set(ids).size, 4);
});

test('UPDATE_REGION applies the class policy', () => {
  const { create, update, sdp } = setup();
  const { id } = create(sdp.base, 4096);
  assert.equal(update(id, 'crypto', SDP_WRITE).code, TeeResult.SUCCESS, 'a decrypter writes');
  assert.equal(update(id, 'crypto', SDP_READ).code, TeeResult.ERROR_ACCESS_DENIED, 'a decrypter never reads');
  assert.equal(update(id, 'dec', SDP_READ | SDP_WRITE).code, TeeResult.SUCCESS, 'a decoder reads and writes');
  assert.equal(update(id, 'disp', SDP_READ).code, TeeResult.SUCCESS, 'a sink reads');
  assert.equal(update(id, 'disp', SDP_WRITE).code, TeeResult.ERROR_ACCESS_DENIED, 'a sink writes nothing back');
  assert.equal(update(id, 'gpu', SDP_READ).code, TeeResult.ERROR_ACCESS_DENIED, 'not secure-capable');
  assert.equal(update(id, 'nobody', SDP_READ).code, TeeResult.ERROR_ITEM_NOT_FOUND);
  assert.equal(update(99, 'dec', SDP_READ).code, TeeResult.ERROR_ITEM_NOT_FOUND);
  assert.equal(update(id, 'disp', SDP_READ | SDP_REMOVE).code, TeeResult.SUCCESS);
  assert.equal(update(id, 'disp', SDP_READ | SDP_REMOVE).code, TeeResult.ERROR_ITEM_NOT_FOUND, 'nothing left to remove');
});

test('DUMP_STATUS and DESTROY_REGION', () => {
  const { platform, session, create, update, sdp } = setup();
  const { id } = create(sdp.base, 4096);
  update(id, 'dec', SDP_READ);
  const bytes = new Uint8Array(4096);
  const out: TeeParam = bytesParam(bytes, 'output');
  assert.equal(platform.tee.invoke(session, SdpCommand.DUMP_STATUS, [out]).code, TeeResult.SUCCESS);
  const status = JSON.parse(new TextDecoder().decode(bytes.subarray(0, (out as { size: number }).size)));
  assert.deepEqual(status.regions[0].devices, { dec: { reads: 1, writes: 0 } });
  assert.equal(platform.tee.invoke(session, SdpCommand.DESTROY_REGION, [{ type: 'value', a: id, b: 0 }]).code, TeeResult.SUCCESS);
  assert.equal(platform.tee.invoke(session, SdpCommand.DESTROY_REGION, [{ type: 'value', a: id, b: 0 }]).code, TeeResult.ERROR_ITEM_NOT_FOUND);
  assert.equal(platform.tee.invoke(session, SdpCommand.CREATE_REGION, []).code, TeeResult.ERROR_BAD_PARAMETERS);
});

test('the firewall enforces the regions on every bus access and logs who, where and why', () => {
  const { platform, create, update, sdp } = setup();
  const dev = (n: string) => ({ kind: 'device', device: platform.device(n) }) as const;
  const addr = sdp.base;
  const denied = (fn: () => void, re: RegExp) => assert.throws(fn, (e: Error & { code?: string }) => e.code === 'EACCES' && re.test(e.message));
  denied(() => platform.bus.read(CPU, addr, new Uint8Array(4)), /never accessible to the normal world CPU/);
  denied(() => platform.bus.write(dev('dec'), addr, new Uint8Array(4)), /no SDP region covers/);
  const { id } = create(addr, 8192);
  denied(() => platform.bus.read(dev('dec'), addr, new Uint8Array(4)), /dec is not granted region/);
  update(id, 'crypto', SDP_WRITE);
  platform.bus.write(dev('crypto'), addr, new Uint8Array([1, 2, 3]));
  denied(() => platform.bus.read(dev('crypto'), addr, new Uint8Array(3)), /may not read region/);
  update(id, 'disp', SDP_READ);
  const seen = new Uint8Array(3);
  platform.bus.read(dev('disp'), addr, seen);
  assert.deepEqual([...seen], [1, 2, 3]);
  denied(() => platform.bus.write(dev('disp'), addr, seen), /may not write region/);
  denied(() => platform.bus.read(dev('disp'), addr + 8000, new Uint8Array(400)), /no SDP region covers/);
  denied(() => platform.bus.write(dev('disp'), 0x40000000, seen), /holds read access to secure region \d+: protected content may only flow secure -> secure/);
  platform.bus.write(dev('crypto'), 0x40000000, seen); // a decrypter with write access only may write normal memory
  denied(() => platform.bus.read(dev('gpu'), addr, new Uint8Array(1)), /gpu is not granted/);
  update(id, 'disp', SDP_READ | SDP_REMOVE);
  platform.bus.write(dev('disp'), 0x40000000, seen); // after revoke, the flow rule lets go
  const denials = platform.events.list({ kinds: ['denial'] });
  assert.equal(denials.length, 8);
  assert.equal(denials[0]!.actor, 'cpu');
  assert.equal(denials.at(-1)!.actor, 'gpu');
  assert.equal(platform.bus.stats().gpu!.denials, 1);
});
