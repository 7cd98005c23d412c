/** The SDP firewall's decisions at the edges of secure memory and of regions, for each initiator. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testPlatformSpec } from '../testing/index.ts';
import { CPU, type Initiator } from './bus.ts';
import { SdpFirewall } from './firewall.ts';
import { Platform } from './platform.ts';
import { SDP_READ, SdpCommand } from './sdp-ta.ts';
import type { TeeParam } from './tee.ts';
import { bytesParam } from './tee-memory.ts';

function setup() {
  const platform = new Platform(testPlatformSpec());
  const sdp = platform.region('sdp');
  const ta = platform.sdp!;
  const fw = platform.bus.firewall;
  const region = (addr: number, size: number, device?: string, access = SDP_READ) => {
    const out: TeeParam = { type: 'value', a: 0, b: 0 };
    assert.equal(ta.invoke(SdpCommand.CREATE_REGION, [{ type: 'value', a: addr, b: size }, out]).code, 0);
    const id = (out as { a: number }).a;
    if (device) assert.equal(ta.invoke(SdpCommand.UPDATE_REGION, [{ type: 'value', a: id, b: 0 }, bytesParam(new TextEncoder().encode(device)), { type: 'value', a: access, b: 0 }]).code, 0);
    return id;
  };
  const device = (name: string): Initiator => ({ kind: 'device', device: platform.device(name) });
  return { platform, sdp, fw, region, device };
}

test('it is the optee-sdp firewall, installed on a platform with a secure carveout', () => {
  const { fw } = setup();
  assert.ok(fw instanceof SdpFirewall);
  assert.equal(fw.name, 'optee-sdp');
});

test('the CPU is refused any byte of secure memory, and nothing else', () => {
  const { fw, sdp } = setup();
  const cpu = (addr: number, length: number) => fw.check(CPU, addr, length, 'read');
  const no = 'secure memory is never accessible to the normal world CPU';
  assert.equal(cpu(sdp.base - 1, 1), null, 'the byte before');
  assert.equal(cpu(sdp.base - 1, 2), no, 'a range that reaches the first byte');
  assert.equal(cpu(sdp.base + sdp.size - 1, 1), no, 'the last byte');
  assert.equal(cpu(sdp.base + sdp.size, 1), null, 'the byte after');
  assert.equal(cpu(sdp.base - 4096, sdp.size + 8192), no, 'a range over all of it');
  assert.equal(fw.check(CPU, sdp.base, 1, 'write'), no);
});

test('the secure world passes everywhere', () => {
  const { fw, sdp } = setup();
  assert.equal(fw.check({ kind: 'secure-world', who: 'ta' }, sdp.base, 4096, 'write'), null);
  assert.equal(fw.check({ kind: 'secure-world', who: 'ta' }, sdp.base, 4096, 'read'), null);
});

test('a device touches secure memory only inside a region it holds, whole', () => {
  const { fw, sdp, region, device } = setup();
  const id = region(sdp.base + 4096, 4096, 'disp');
  const disp = device('disp');
  assert.equal(fw.check(disp, sdp.base + 4096, 4096, 'read'), null);
  assert.equal(fw.check(disp, sdp.base + 8191, 1, 'read'), null);
  assert.equal(fw.check(disp, sdp.base, 1, 'read'), `no SDP region covers 0x${sdp.base.toString(16).padStart(8, '0')}+1 of the secure carveout`, 'before the region');
  assert.equal(fw.check(disp, sdp.base + 4095, 2, 'read'), `no SDP region covers 0x${(sdp.base + 4095).toString(16).padStart(8, '0')}+2 of the secure carveout`, 'straddling its start');
  assert.equal(fw.check(disp, sdp.base + 8191, 2, 'read'), `no SDP region covers 0x${(sdp.base + 8191).toString(16).padStart(8, '0')}+2 of the secure carveout`, 'straddling its end');
  assert.equal(fw.check(disp, sdp.base + 4096, 1, 'write'), `disp may not write region ${id} (granted read only)`);
  assert.match(fw.check(device('dec'), sdp.base + 4096, 1, 'read')!, new RegExp(`^dec is not granted region ${id} \\(0x[0-9a-f]{8}\\+4096\\)$`));
});

test('the flow rule: a device holding read access may read normal memory but not write it', () => {
  const { fw, sdp, region, device } = setup();
  const id = region(sdp.base, 4096, 'disp');
  assert.equal(fw.check(device('disp'), 0x40000000, 16, 'read'), null);
  assert.equal(fw.check(device('disp'), 0x40000000, 16, 'write'), `disp holds read access to secure region ${id}: protected content may only flow secure -> secure`);
  assert.equal(fw.check(device('dec'), 0x40000000, 16, 'write'), null, 'another device is not bound by it');
});

test('with two secure carveouts, the CPU is shut out of both', () => {
  const spec = testPlatformSpec();
  const platform = new Platform({ ...spec, memory: [...spec.memory, { name: 'sdp2', base: 0x50000000, size: 0x100000, kind: 'secure-carveout' }] });
  const fw = platform.bus.firewall;
  for (const name of ['sdp', 'sdp2']) {
    const r = platform.region(name);
    assert.equal(fw.check(CPU, r.base, 1, 'read'), 'secure memory is never accessible to the normal world CPU', name);
  }
  assert.equal(fw.check(CPU, 0x40000000, 1, 'read'), null);
});
