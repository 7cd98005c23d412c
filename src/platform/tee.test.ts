/** The TEE emulator: TA registration, sessions, the origin of every code, a TA that panics. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { testPlatformSpec } from '../testing/index.ts';
import { ContentKey } from './content-key.ts';
import { Platform } from './platform.ts';
import { SDP_TA_UUID } from './sdp-ta.ts';
import { ByteMemory, bytesParam } from './tee-memory.ts';
import { KERNEL_CALLER, Tee, TEE_NUM_PARAMS, TeeLogin, TeeOrigin, TeeResult, uuidFromBytes, uuidToBytes, type TrustedApp } from './tee.ts';

const app = (over: Partial<TrustedApp> = {}): TrustedApp => ({ uuid: '11111111-2222-3333-4444-555555555555', name: 'test-ta', invoke: () => ({ code: 0 }), ...over });

test('registration is validated once: a malformed TA is EINVAL, a taken UUID EEXIST; nothing is registered by side effect', () => {
  const tee = new Tee();
  const fails = (a: unknown, code: 'EINVAL' | 'EEXIST', re: RegExp) => assert.throws(() => tee.register(a as TrustedApp), (e) => isSmafError(e, code) && re.test((e as Error).message));
  fails(null, 'EINVAL', /not an object/);
  fails(app({ name: '' }), 'EINVAL', /name must be 1-63 printable/);
  fails(app({ name: 'two words' }), 'EINVAL', /name must be/);
  fails(app({ uuid: '11111111-2222-3333-4444-55555555555' }), 'EINVAL', /not in canonical lowercase form/);
  fails(app({ uuid: '11111111-2222-3333-4444-55555555555A' }), 'EINVAL', /canonical lowercase/);
  fails({ ...app(), invoke: 3 }, 'EINVAL', /missing invoke\(\)/);
  fails({ ...app(), openSession: 'yes' }, 'EINVAL', /openSession is not a function/);
  tee.register(app());
  fails(app({ name: 'other' }), 'EEXIST', /already taken by "test-ta"/);
  assert.deepEqual(tee.trustedApps.map((a) => a.name), ['test-ta']);
  const platform = new Platform(testPlatformSpec());
  assert.deepEqual(platform.tee.trustedApps.map((a) => a.uuid), [SDP_TA_UUID], 'a bare platform has its own SDP TA only: the test TAs come from a preset');
});

test('sessions: unknown UUID ITEM_NOT_FOUND from the TEE; a refusal and a code from the TA; a panic is TARGET_DEAD from the TEE', () => {
  const tee = new Tee();
  tee.register(app({ openSession: (_p, caller) => (caller.login === TeeLogin.PUBLIC ? { code: 0 } : { code: TeeResult.ERROR_ACCESS_DENIED, reason: 'public only' }) }));
  assert.deepEqual(tee.openSession('00000000-0000-0000-0000-000000000000'), { code: TeeResult.ERROR_ITEM_NOT_FOUND, origin: TeeOrigin.TEE, reason: 'no trusted application 00000000-0000-0000-0000-000000000000', session: 0 });
  assert.deepEqual(tee.openSession(app().uuid, KERNEL_CALLER), { code: TeeResult.ERROR_ACCESS_DENIED, origin: TeeOrigin.TRUSTED_APP, reason: 'public only', session: 0 });
  const s = tee.openSession(app().uuid.toUpperCase(), { principal: 'client 1', login: TeeLogin.PUBLIC });
  assert.deepEqual([s.code, s.origin], [0, TeeOrigin.TRUSTED_APP]);
  assert.deepEqual(tee.invoke(s.session, 1, Array.from({ length: TEE_NUM_PARAMS + 1 }, () => ({ type: 'none' as const }))), { code: TeeResult.ERROR_BAD_PARAMETERS, origin: TeeOrigin.TEE, reason: 'at most 4 parameters' });
  let calls = 0;
  tee.register(app({ uuid: '11111111-2222-3333-4444-000000000000', name: 'crashy', invoke: (cmd) => {
    calls++;
    if (cmd === 0) throw new RangeError('read at 9+1 leaves the 8-byte memory reference');
    return { code: 0 };
  } }));
  const crash = tee.openSession('11111111-2222-3333-4444-000000000000');
  const other = tee.openSession('11111111-2222-3333-4444-000000000000');
  assert.deepEqual(tee.invoke(crash.session, 0), { code: TeeResult.ERROR_TARGET_DEAD, origin: TeeOrigin.TEE, reason: 'crashy panicked: read at 9+1 leaves the 8-byte memory reference' });
  assert.deepEqual(tee.invoke(crash.session, 1), { code: TeeResult.ERROR_TARGET_DEAD, origin: TeeOrigin.TEE, reason: `crashy panicked earlier in session ${crash.session}: close it` }, 'the session is dead: the TA is not entered again');
  assert.equal(calls, 1);
  assert.deepEqual(tee.invoke(other.session, 1).code, 0, "another session's instance lives on");
  assert.equal(tee.closeSession(crash.session), true);
  assert.equal(tee.closeSession(s.session), true);
  assert.equal(tee.closeSession(s.session), false);
  assert.deepEqual(tee.invoke(s.session, 0), { code: TeeResult.ERROR_BAD_STATE, origin: TeeOrigin.TEE, reason: `no open session ${s.session}` });
});

test('UUIDs as libteec sends them: 16 bytes, big-endian fields', () => {
  const bytes = Uint8Array.of(0x12, 0x34, 0x56, 0x78, 0x5b, 0x69, 0x11, 0xe4, 0x9d, 0xbb, 0x10, 0x1f, 0x74, 0xf0, 0x00, 0x99);
  assert.equal(uuidFromBytes(bytes), '12345678-5b69-11e4-9dbb-101f74f00099');
  assert.deepEqual(uuidToBytes('12345678-5b69-11e4-9dbb-101f74f00099'), bytes);
  assert.throws(() => uuidToBytes('nope'), RangeError);
});

test('a memory reference is bounded: reaching past it faults', () => {
  const m = new ByteMemory(new Uint8Array(8));
  assert.throws(() => m.read(4, 5), /read at 4\+5 leaves the 8-byte memory reference/);
  assert.throws(() => m.write(8, Uint8Array.of(1)), RangeError);
  assert.throws(() => m.update(-1, 1, () => undefined), RangeError);
  const p = bytesParam(Uint8Array.of(1, 2, 3), 'input');
  assert.deepEqual(p, { type: 'memref', direction: 'input', memory: new ByteMemory(Uint8Array.of(1, 2, 3)), size: 3 });
});

test('the content key: a keystream that depends on the key and the position; never readable back', () => {
  const k1 = new ContentKey(new Uint8Array(32).fill(1));
  const k2 = new ContentKey(new Uint8Array(32).fill(2));
  const a = new Uint8Array(200);
  const b = new Uint8Array(200);
  k1.apply(a, 0);
  k2.apply(b, 0);
  assert.notDeepEqual(a, b, 'another key, another keystream');
  const part = new Uint8Array(100);
  k1.apply(part, 70);
  assert.deepEqual(part, a.subarray(70, 170), 'position 70 of the stream, whatever the slice it comes in');
  const back = a.slice();
  k1.apply(back, 0);
  assert.deepEqual(back, new Uint8Array(200), 'applying it twice gives the bytes back');
  assert.equal(new Set(a).size > 100, true, 'not a short repeating pattern');
  assert.deepEqual(Object.keys(k1), [], 'no enumerable field holds the key');
  assert.equal(JSON.stringify(k1), '{}');
  assert.throws(() => new ContentKey(new Uint8Array(16)), /a content key is 32 bytes/);
  const random = [new ContentKey(), new ContentKey()].map((k) => {
    const x = new Uint8Array(32);
    k.apply(x, 0);
    return Buffer.from(x).toString('hex');
  });
  assert.notEqual(random[0], random[1], 'a random key unless one is provisioned');
});
