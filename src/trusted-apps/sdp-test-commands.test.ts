/** The SDP test TAs in-process: their commands, parameter checks, the bus and the provenance labels. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BusMemory, bytesParam, SECURE_WORLD, TeeLogin, TeeOrigin, TeeResult, type TeeParam } from '../platform/index.ts';
import { createSmafSystem, testPlatformSpec } from '../testing/index.ts';
import { OPTEE_SDP_BASIC_UUID, OpteeSdpBasicCommand as B } from './optee-sdp-basic.ts';
import { SMAF_SDP_TEST_UUID, SmafSdpTestCommand as S } from './smaf-sdp-test.ts';

function setup() {
  const { smaf, platform } = createSmafSystem(testPlatformSpec());
  const buf = smaf.create(3 * 4096, { name: 'smaf-optee' });
  buf.setSecure(true);
  const segments = buf.allocate('a test').segments;
  const mem = (offset: number, size: number, ta = 'sdp-basic') => new BusMemory(platform, segments, offset, size, ta, buf.id);
  const caller = (n: number) => ({ principal: `client ${n}`, login: TeeLogin.PUBLIC });
  const session = (uuid: string, n = 1) => platform.tee.openSession(uuid, caller(n)).session;
  const sec = (offset: number, size: number, direction: 'input' | 'output' | 'inout'): TeeParam => ({ type: 'memref', direction, memory: mem(offset, size), size });
  const phys = segments[0]!.phys;
  return { platform, buf, session, sec, phys };
}

test('both TAs are registered by the preset under their UUIDs, with their own command numbers', () => {
  const { platform, session, sec } = setup();
  assert.equal(platform.tee.app(OPTEE_SDP_BASIC_UUID)?.name, 'sdp-basic');
  assert.equal(platform.tee.app(SMAF_SDP_TEST_UUID)?.name, 'smaf-sdp-test');
  const data = Uint8Array.of(0, 1, 2, 0x80, 0xff);
  for (const [uuid, c] of [[OPTEE_SDP_BASIC_UUID, B], [SMAF_SDP_TEST_UUID, S]] as const) {
    const s = session(uuid);
    assert.equal(platform.tee.invoke(s, c.INJECT, [bytesParam(data, 'input'), sec(100, 5, 'output')]).code, 0);
    assert.equal(platform.tee.invoke(s, c.TRANSFORM, [sec(100, 5, 'inout')]).code, 0);
    const out = new Uint8Array(5);
    assert.equal(platform.tee.invoke(s, c.DUMP, [sec(100, 5, 'input'), bytesParam(out, 'output')]).code, 0);
    assert.deepEqual([...out], [0, 0xff, 0xfe, 0x80, 0x01], '(~b + 1) & 0xff');
  }
  const bad = platform.tee.invoke(session(SMAF_SDP_TEST_UUID), 0, []);
  assert.deepEqual(bad, { code: TeeResult.ERROR_BAD_PARAMETERS, origin: TeeOrigin.TRUSTED_APP, reason: 'unknown command 0 (INJECT 1, TRANSFORM 2, DUMP 3)' });
});

test('parameter types are checked exactly; a NULL memref of some bytes is no memory to touch', () => {
  const { platform, session, sec } = setup();
  const s = session(OPTEE_SDP_BASIC_UUID);
  const data = bytesParam(new Uint8Array(4), 'input');
  const codes = (params: TeeParam[], cmd: number = B.INJECT) => platform.tee.invoke(s, cmd, params).code;
  assert.equal(codes([data]), TeeResult.ERROR_BAD_PARAMETERS, 'missing output');
  assert.equal(codes([bytesParam(new Uint8Array(4), 'inout'), sec(0, 4, 'output')]), TeeResult.ERROR_BAD_PARAMETERS, 'inout where input is required');
  assert.equal(codes([data, sec(0, 4, 'output'), { type: 'value', direction: 'input', a: 0, b: 0 }]), TeeResult.ERROR_BAD_PARAMETERS, 'a third parameter');
  assert.equal(codes([sec(0, 4, 'input')], B.TRANSFORM), TeeResult.ERROR_BAD_PARAMETERS);
  assert.equal(codes([data, { type: 'memref', direction: 'output', memory: null, size: 4 }]), TeeResult.ERROR_ACCESS_DENIED);
  assert.equal(codes([{ type: 'memref', direction: 'input', memory: null, size: 0 }, sec(0, 4, 'output')]), TeeResult.ERROR_ACCESS_DENIED, 'a NULL input memref is no non-secure memory either');
});

test('the TAs reach memory through the bus as the secure world; what they write is labelled', () => {
  const { platform, session, sec, phys } = setup();
  const s = session(OPTEE_SDP_BASIC_UUID, 7);
  platform.tee.invoke(s, B.INJECT, [bytesParam(new Uint8Array(4096).fill(3), 'input'), sec(4096, 4096, 'output')]);
  platform.tee.invoke(s, B.INJECT, [bytesParam(new Uint8Array(10).fill(3), 'input'), sec(8000, 10, 'output')]);
  assert.deepEqual([...platform.provenance.labelOf(phys + 4096, 4096)], ['client 7'], 'a whole page of the caller\'s data');
  const counters = platform.bus.stats()['tee:sdp-basic']!;
  assert.equal(counters.bytesWritten, 4106);
  assert.equal(counters.denials, 0);
  // TRANSFORM over three pages of different owners leaves each page its own label
  platform.secureWorldWrite(phys + 100, Uint8Array.of(1));
  platform.tee.invoke(s, B.TRANSFORM, [sec(50, 8192, 'inout')]);
  assert.deepEqual([...platform.provenance.labelOf(phys, 4096)], [SECURE_WORLD]);
  assert.deepEqual([...platform.provenance.labelOf(phys + 4096, 4096)], ['client 7']);
  const dumpOf = (offset: number, size: number, who = 7) => platform.tee.invoke(session(OPTEE_SDP_BASIC_UUID, who), B.DUMP, [sec(offset, size, 'input'), bytesParam(new Uint8Array(size), 'output')]).code;
  assert.equal(dumpOf(4096, 4096), 0, 'its own page');
  assert.equal(dumpOf(4096, 4096, 8), TeeResult.ERROR_ACCESS_DENIED, 'not another client\'s');
  assert.equal(dumpOf(4000, 200), TeeResult.ERROR_ACCESS_DENIED, 'not a range that touches the secure world\'s page');
  assert.equal(dumpOf(3 * 4096 - 1, 1, 8), 0, 'zeros are nobody\'s data: anyone may dump them');
});

test('a TA asks the firewall like any initiator: a refused access faults it (TARGET_DEAD, origin TEE) and is logged', () => {
  const { platform, session, sec } = setup();
  const sdp = platform.bus.firewall;
  platform.bus.setFirewall({ name: 'strict', check: (who, addr, length, access) => (who.kind === 'secure-world' && access === 'write' ? 'no TA writes today' : sdp.check(who, addr, length, access)) });
  const r = platform.tee.invoke(session(OPTEE_SDP_BASIC_UUID), B.INJECT, [bytesParam(new Uint8Array(8), 'input'), sec(0, 8, 'output')]);
  assert.deepEqual([r.code, r.origin], [TeeResult.ERROR_TARGET_DEAD, TeeOrigin.TEE]);
  assert.match(r.reason, /sdp-basic panicked: firewall refused tee:sdp-basic write at 0x[0-9a-f]+: no TA writes today/);
  assert.equal(platform.events.list({ kinds: ['denial'] }).at(-1)!.actor, 'tee:sdp-basic');
  assert.equal(platform.bus.stats()['tee:sdp-basic']!.denials, 1);
});
