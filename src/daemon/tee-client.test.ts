/**
 * The TEE subsystem of smafd, client by client and without sockets: what each op checks (errno for
 * errno with the kernel's tee_core and OP-TEE driver), the SDP flow of both test TAs on a registered
 * dma-buf, memref bounds checked before any TA runs, DUMP refused for data that is not the caller's,
 * shared memory that keeps its buffer, what a disconnect releases, and what the operator sees.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { isSmafError, type ErrnoName } from '../common/errors.ts';
import { TeeLogin, TeeOrigin, TeeResult, type TeeParam, type TrustedApp } from '../platform/index.ts';
import { createSmafSystem } from '../presets/default.ts';
import {
  decodeTeeAnswer, encodeName, encodeTeeCall, encodeStruct, Op, SMAF_IOC_SET_SECURE_FLAG, TEE_MEMREF_NULL, teeParam, type TeeCallAnswer, type TeeCallParam,
} from '../uapi/index.ts';
import { uuidToBytes as toBytes } from '../platform/index.ts';
import { DaemonContext, DEFAULT_LIMITS, type LimitSettings } from './context.ts';
import type { JournalEvent } from './journal.ts';
import { processes } from './processes.ts';
import { operatorScope } from './scope.ts';
import { call, create, fdOf, req } from './session-fixtures.ts';
import { ClientSession } from './session.ts';
import { TEE_LIMITS } from './tee-client.ts';

const SDP_BASIC = '12345678-5b69-11e4-9dbb-101f74f00099';
const SMAF_TEST = '12345678-5b69-11e4-9dbb-101f74f00001';
const TAS = [{ uuid: SDP_BASIC, inject: 0, transform: 1, dump: 2 }, { uuid: SMAF_TEST, inject: 1, transform: 2, dump: 3 }] as const;

function setup(limits: Partial<LimitSettings> = {}) {
  const { smaf, platform } = createSmafSystem(undefined, { contentKey: new Uint8Array(32).fill(9) });
  const ctx = new DaemonContext(smaf, pino({ level: 'silent' }), { ...DEFAULT_LIMITS, ...limits });
  let id = 1;
  const client = (admin = false): ClientSession => {
    const s = new ClientSession(id++, ctx, { admin });
    ctx.sessions.add(s);
    return s;
  };
  return { smaf, platform, ctx, client };
}

const rejects = (fn: () => unknown, code: ErrnoName, re?: RegExp) =>
  assert.throws(fn, (e: unknown) => isSmafError(e, code) && (re === undefined || re.test((e as Error).message)), `expected ${code}${re ? ` ${re}` : ''}`);

const open = (c: ClientSession) => call(c, 'TEE_OPEN', -1, {}).result;

function openSession(c: ClientSession, ctx: number, uuid: string, login = 0, params: TeeCallParam[] = []): TeeCallAnswer {
  const r = call(c, 'TEE_OPEN_SESSION', -1, { uuid: toBytes(uuid), clnt_uuid: new Uint8Array(16), ctx, clnt_login: login, num_params: params.length, data: encodeTeeCall(params) });
  return decodeTeeAnswer(params, r.payload);
}

function invoke(c: ClientSession, ctx: number, session: number, func: number, params: TeeCallParam[]): TeeCallAnswer {
  const r = call(c, 'TEE_INVOKE', -1, { ctx, session, func, num_params: params.length, data: encodeTeeCall(params) });
  return decodeTeeAnswer(params, r.payload);
}

/** A secure buffer of `size` from `allocator`, by fd. */
function secureBuffer(c: ClientSession, size: number, allocator = 'smaf-optee'): number {
  const fd = fdOf(c.handle(req(0xc0805300, -1, (() => {
    const b = new Uint8Array(128);
    const v = new DataView(b.buffer);
    v.setBigUint64(8, BigInt(size), true);
    v.setUint32(16, 2, true);
    b.set(encodeName(allocator, 64), 32);
    return b;
  })())));
  assert.equal(c.handle(req(SMAF_IOC_SET_SECURE_FLAG.number, -1, encodeStruct(SMAF_IOC_SET_SECURE_FLAG.struct, { fd, secure: 1 }))).result, 0);
  return fd;
}

const temp = (direction: 'input' | 'output', shm: number, data: Uint8Array): TeeCallParam => ({ type: 'memref', direction, shm, size: data.length, data });
const onBuffer = (direction: 'input' | 'output' | 'inout', shm: number, offset: number, size: number): TeeCallParam => ({ type: 'memref', direction, shm, offset, size });

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + 5) & 0xff);
}

/** INJECT `data` at `offset` of the registered buffer, TRANSFORM it, DUMP it back (libteec's tmpref: registered user memory). */
function roundTrip(c: ClientSession, ctx: number, session: number, ta: (typeof TAS)[number], shm: number, offset: number, data: Uint8Array): { dumped: Uint8Array; rets: number[] } {
  const tin = call(c, 'TEE_SHM_REGISTER', -1, { ctx, addr: 0x7f00_0000n, length: BigInt(data.length) }).result;
  const a = invoke(c, ctx, session, ta.inject, [temp('input', tin, data), onBuffer('output', shm, offset, data.length)]);
  call(c, 'TEE_SHM_RELEASE', -1, { shm: tin });
  const b = invoke(c, ctx, session, ta.transform, [onBuffer('inout', shm, offset, data.length)]);
  const tout = call(c, 'TEE_SHM_REGISTER', -1, { ctx, addr: 0x7f10_0000n, length: BigInt(data.length) }).result;
  const d = invoke(c, ctx, session, ta.dump, [onBuffer('input', shm, offset, data.length), temp('output', tout, new Uint8Array(data.length))]);
  call(c, 'TEE_SHM_RELEASE', -1, { shm: tout });
  return { dumped: d.outputs[1] ?? new Uint8Array(0), rets: [a.ret, b.ret, d.ret] };
}

test('TEE_VERSION: OP-TEE, GP | REG_MEM | MEMREF_NULL; a context that is not open is EBADF', () => {
  const { client } = setup();
  const c = client();
  const ctx = open(c);
  assert.deepEqual(call(c, 'TEE_VERSION', -1, { ctx }).payload, { impl_id: 1, impl_caps: 1, gen_caps: 1 | 4 | 8 });
  rejects(() => call(c, 'TEE_VERSION', -1, { ctx: ctx + 1 }), 'EBADF', /no open TEE context/);
  call(c, 'TEE_CLOSE', -1, { ctx });
  rejects(() => call(c, 'TEE_VERSION', -1, { ctx }), 'EBADF');
  rejects(() => call(c, 'TEE_CLOSE', -1, { ctx }), 'EBADF');
  rejects(() => call(client(), 'TEE_VERSION', -1, { ctx: 1 }), 'EBADF', /no open TEE context 1 in this client/);
});

test('the SDP flow of both TAs: a secure buffer registered by fd, the fd closed, inject / transform / dump checked byte for byte', () => {
  const { client, smaf } = setup();
  const c = client();
  const ctx = open(c);
  for (const ta of TAS) {
    const fd = secureBuffer(c, 16384);
    const reg = call(c, 'TEE_SHM_REGISTER_FD', fd, { ctx });
    assert.deepEqual([reg.payload.size, reg.payload.flags], [16384n, 16]);
    const buffer = smaf.buffers.at(-1)!;
    assert.equal(buffer.backing?.allocator, 'smaf-optee', 'registering gives the buffer its memory, from smaf-optee');
    call(c, 'CLOSE', fd, {});
    assert.equal(buffer.released, false, 'the shared memory holds its own reference: the fd may be closed');
    const s = openSession(c, ctx, ta.uuid);
    assert.deepEqual([s.ret, s.origin], [TeeResult.SUCCESS, TeeOrigin.TRUSTED_APP]);
    for (const [offset, size] of [[0, 16384], [0, 1], [255, 4096], [4095, 2], [17, 300]] as const) {
      const data = pattern(size, offset + ta.inject);
      const { dumped, rets } = roundTrip(c, ctx, s.session, ta, reg.result, offset, data);
      assert.deepEqual(rets, [0, 0, 0], `${ta.uuid} at ${offset}+${size}`);
      assert.deepEqual(dumped, data.map((b) => (~b + 1) & 0xff), `${ta.uuid} at ${offset}+${size}: every byte negated`);
    }
    call(c, 'TEE_CLOSE_SESSION', -1, { ctx, session: s.session });
    call(c, 'TEE_SHM_RELEASE', -1, { shm: reg.result });
    assert.equal(buffer.released, true, 'the last reference was the shared memory\'s: released, scrubbed');
  }
});

test('memref bounds are checked before any TA runs: offset = size, size + 1, offset + size overflowing are EINVAL', () => {
  const { client, platform } = setup();
  const calls: number[] = [];
  const spy: TrustedApp = { uuid: '00000000-0000-0000-0000-00000000abcd', name: 'spy', invoke: (cmd) => (calls.push(cmd), { code: 0 }) };
  platform.tee.register(spy);
  const c = client();
  const ctx = open(c);
  const fd = secureBuffer(c, 16384);
  const shm = call(c, 'TEE_SHM_REGISTER_FD', fd, { ctx }).result;
  const user = call(c, 'TEE_SHM_ALLOC', -1, { ctx, size: 64n }).result;
  const s = openSession(c, ctx, spy.uuid).session;
  const U64 = 2n ** 64n - 1n;
  const wire = (a: bigint, b: bigint, id: number) => encodeStruct(teeParam, { attr: 7n, a, b, c: BigInt(id) });
  const raw = (p: Uint8Array, data = new Uint8Array(0)) => call(c, 'TEE_INVOKE', -1, { ctx, session: s, func: 1, num_params: 1, data: new Uint8Array([...p, ...data]) });
  for (const [a, b, what] of [[16384n, 1n, 'offset = size'], [0n, 16385n, 'size + 1'], [1n, U64, 'offset + size overflowing'], [U64, 1n, 'offset at 2^64-1'], [8192n, 8193n, 'ends one byte past']] as const) {
    rejects(() => raw(wire(a, b, shm)), 'EINVAL', /leaves shared memory/);
    rejects(() => raw(wire(a, b, user), new Uint8Array(Number(b > 64n ? 0n : b))), 'EINVAL', /leaves shared memory/);
    void what;
  }
  rejects(() => raw(wire(0n, 1n, 999)), 'EINVAL', /no shared memory 999 in TEE context/);
  rejects(() => raw(encodeStruct(teeParam, { attr: 4n })), 'EINVAL', /unknown parameter type 4/);
  rejects(() => raw(encodeStruct(teeParam, { attr: 0x201n })), 'EINVAL', /unknown attribute bits/);
  rejects(() => raw(encodeStruct(teeParam, { attr: 0x101n })), 'EINVAL', /META parameters/);
  rejects(() => raw(wire(0n, 8n, user), new Uint8Array(7)), 'EINVAL', /carries 7 bytes of its memrefs, this one needs 8/);
  rejects(() => raw(wire(0n, 8n, user), new Uint8Array(9)), 'EINVAL', /1 bytes after the memrefs' bytes/);
  rejects(() => raw(wire(0n, 8n, shm), new Uint8Array(8)), 'EINVAL', /8 bytes after/, );
  const other = open(c);
  rejects(() => invoke(c, ctx, s, 1, [onBuffer('inout', call(c, 'TEE_SHM_ALLOC', -1, { ctx: other, size: 8n }).result, 0, 1)]), 'EINVAL', /no shared memory \d+ in TEE context/);
  assert.deepEqual(calls, [], 'the TA never ran');
  assert.equal(raw(wire(16384n, 0n, shm)).result > 0, true, 'an empty memref at the very end is within bounds, as in the kernel');
  assert.equal(invoke(c, ctx, s, 2, [{ type: 'memref', direction: 'input', shm: null, size: 0 }]).ret, 0, 'a NULL memref (MEMREF_NULL)');
  assert.deepEqual(calls, [1, 2]);
  assert.equal(TEE_MEMREF_NULL, U64);
});

test('sessions: unknown UUID ITEM_NOT_FOUND (origin TEE), logins as the kernel, more than 4 parameters BAD_PARAMETERS (origin TEE), the SDP table is the kernel\'s', () => {
  const { client } = setup();
  const c = client();
  const ctx = open(c);
  const none = openSession(c, ctx, '00000000-0000-0000-0000-000000000001');
  assert.deepEqual([none.ret, none.origin, none.session], [TeeResult.ERROR_ITEM_NOT_FOUND, TeeOrigin.TEE, 0]);
  rejects(() => openSession(c, ctx, SDP_BASIC, TeeLogin.REE_KERNEL), 'EPERM', /REE kernel's/);
  rejects(() => openSession(c, ctx, SDP_BASIC, 0xbfff_ffff), 'EPERM');
  rejects(() => openSession(c, ctx, SDP_BASIC, TeeLogin.GROUP), 'EPERM', /group membership/);
  rejects(() => openSession(c, ctx, SDP_BASIC, TeeLogin.APPLICATION), 'EINVAL');
  rejects(() => openSession(c, ctx, SDP_BASIC, 3), 'EINVAL');
  assert.equal(openSession(c, ctx, SDP_BASIC, TeeLogin.USER).ret, 0);
  const sdp = openSession(c, ctx, 'b9aa5f00-d229-11e4-925c-0002a5d5c51b');
  assert.deepEqual([sdp.ret, sdp.origin], [TeeResult.ERROR_ACCESS_DENIED, TeeOrigin.TRUSTED_APP], 'the optee-sdp TA is reachable, and refuses user space');
  const s = openSession(c, ctx, SDP_BASIC).session;
  const five: TeeCallParam[] = Array.from({ length: 5 }, () => ({ type: 'none' }));
  assert.deepEqual([invoke(c, ctx, s, 0, five).ret, invoke(c, ctx, s, 0, five).origin], [TeeResult.ERROR_BAD_PARAMETERS, TeeOrigin.TEE]);
  const tooMany: TeeCallParam[] = Array.from({ length: 32 }, () => ({ type: 'none' }));
  rejects(() => invoke(c, ctx, s, 0, tooMany), 'EINVAL', /TEE_MAX_ARG_SIZE/);
  const bad = invoke(c, ctx, s, 0, [{ type: 'value', direction: 'input', a: 1 }]);
  assert.deepEqual([bad.ret, bad.origin], [TeeResult.ERROR_BAD_PARAMETERS, TeeOrigin.TRUSTED_APP], 'the TA checks its parameter types');
  rejects(() => invoke(c, ctx, s + 100, 0, []), 'EINVAL', /no session/);
  assert.equal(call(c, 'TEE_CANCEL', -1, { ctx, session: s }).result, 0);
  rejects(() => call(c, 'TEE_CANCEL', -1, { ctx, session: s + 100 }), 'EINVAL');
  call(c, 'TEE_CLOSE_SESSION', -1, { ctx, session: s });
  rejects(() => call(c, 'TEE_CLOSE_SESSION', -1, { ctx, session: s }), 'EINVAL', /no session/);
  rejects(() => invoke(client(), 1, s, 0, []), 'EBADF', /no open TEE context/);
});

test('values go in and out as GP values: 32 bits, VALUE_OUTPUT\'s input not copied in, outputs copied back', () => {
  const { client, platform } = setup();
  let seen: TeeParam[] = [];
  platform.tee.register({
    uuid: '00000000-0000-0000-0000-0000000000aa', name: 'values',
    invoke: (_cmd, params) => {
      seen = params.map((p) => ({ ...p }));
      for (const p of params) if (p.type === 'value' && p.direction !== 'input') [p.a, p.b] = [p.a + 1, 0xffff_ffff];
      for (const p of params) if (p.type === 'memref' && p.direction !== 'input') p.size = 3;
      return { code: 0 };
    },
  });
  const c = client();
  const ctx = open(c);
  const s = openSession(c, ctx, '00000000-0000-0000-0000-0000000000aa').session;
  const shm = call(c, 'TEE_SHM_ALLOC', -1, { ctx, size: 8n }).result;
  const r = invoke(c, ctx, s, 7, [
    { type: 'value', direction: 'input', a: 0x1_0000_0005n, b: 6, c: 7 },
    { type: 'value', direction: 'output', a: 8, b: 9 },
    { type: 'value', direction: 'inout', a: 10, b: 11 },
    { type: 'memref', direction: 'output', shm, size: 8, data: new Uint8Array(8).fill(1) },
  ]);
  assert.deepEqual(seen.slice(0, 3).map((p) => (p.type === 'value' ? [p.a, p.b] : null)), [[5, 6], [0, 0], [10, 11]]);
  assert.deepEqual(r.params.map((p) => [p.a, p.b, p.c]), [[0x1_0000_0005n, 6n, 7n], [1n, 0xffff_ffffn, 0n], [11n, 0xffff_ffffn, 0n], [0n, 3n, BigInt(shm)]]);
  assert.deepEqual([...r.outputs[3]!], [1, 1, 1, 1, 1, 1, 1, 1], 'the output memref\'s 8 bytes come back, its new size in b');
});

test('DUMP gives back only what the caller put there: another client\'s data and decrypted content are refused, with a denial', () => {
  const { client, platform, smaf } = setup();
  const victim = client();
  const attacker = client();
  const vctx = open(victim);
  const fd = secureBuffer(victim, 8192);
  const vshm = call(victim, 'TEE_SHM_REGISTER_FD', fd, { ctx: vctx }).result;
  const vs = openSession(victim, vctx, SMAF_TEST).session;
  const secret = pattern(100, 3);
  assert.deepEqual(roundTrip(victim, vctx, vs, TAS[1], vshm, 0, secret).rets, [0, 0, 0], 'the victim may dump its own data');
  // the victim shares the buffer; the attacker registers it and asks for a dump
  const token = call(victim, 'EXPORT', fd, {}).payload;
  const afd = call(attacker, 'IMPORT', -1, { token }).result;
  const actx = open(attacker);
  const ashm = call(attacker, 'TEE_SHM_REGISTER_FD', afd, { ctx: actx }).result;
  const as = openSession(attacker, actx, SDP_BASIC).session;
  const out = call(attacker, 'TEE_SHM_ALLOC', -1, { ctx: actx, size: 100n }).result;
  const dump = () => invoke(attacker, actx, as, 2, [onBuffer('input', ashm, 0, 100), temp('output', out, new Uint8Array(100))]);
  const refused = dump();
  assert.deepEqual([refused.ret, refused.origin], [TeeResult.ERROR_ACCESS_DENIED, TeeOrigin.TRUSTED_APP]);
  assert.deepEqual([...refused.outputs[1]!], new Array(100).fill(0), 'nothing of it reached the output');
  const denial = platform.events.list({ kinds: ['denial'] }).at(-1)!;
  assert.equal(denial.buffer, smaf.buffers.find((b) => b.secure)!.id);
  assert.match(denial.message, /DUMP refused to client 2: the secure range holds data that client 2 did not put there/);
  // TRANSFORM by the attacker: a function of the bytes, so they stay the victim's
  assert.equal(invoke(attacker, actx, as, 1, [onBuffer('inout', ashm, 0, 100)]).ret, 0);
  assert.equal(dump().ret, TeeResult.ERROR_ACCESS_DENIED, 'transformed, still the victim\'s');
  // a page the attacker overwrites whole becomes its own (nothing of the victim's is left in it)
  const page = call(attacker, 'TEE_SHM_ALLOC', -1, { ctx: actx, size: 4096n }).result;
  assert.equal(invoke(attacker, actx, as, 0, [temp('input', page, new Uint8Array(4096).fill(7)), onBuffer('output', ashm, 0, 4096)]).ret, 0);
  const mine = dump();
  assert.equal(mine.ret, 0);
  assert.deepEqual([...mine.outputs[1]!], new Array(100).fill(7));
  // the victim's own content, decrypted by the crypto engine with the secure world's key: nobody dumps it
  const clear = fdOf(victim.handle(create(4096)));
  const m = call(victim, 'MMAP', clear, { offset: 0n, length: 4096n, prot: 3 }).result;
  call(victim, 'WRITE', clear, { mapping: m, offset: 0n, data: pattern(64, 1) });
  const cin = call(victim, 'ATTACH', clear, { device: encodeName('crypto', 64) }).result;
  const cout = call(victim, 'ATTACH', fd, { device: encodeName('crypto', 64) }).result;
  call(victim, 'MAP', clear, { attachment: cin, direction: 1 });
  call(victim, 'MAP', fd, { attachment: cout, direction: 2 });
  call(victim, 'DMA_COPY', fd, { dst_attachment: cout, src_fd: clear, src_attachment: cin, transform: 1, src_offset: 0n, dst_offset: 4096n + 10n, length: 64n });
  const vout = call(victim, 'TEE_SHM_ALLOC', -1, { ctx: vctx, size: 64n }).result;
  const dec = invoke(victim, vctx, vs, 3, [onBuffer('input', vshm, 4096 + 10, 64), temp('output', vout, new Uint8Array(64))]);
  assert.deepEqual([dec.ret, dec.origin], [TeeResult.ERROR_ACCESS_DENIED, TeeOrigin.TRUSTED_APP], 'decrypted content is the secure world\'s');
  assert.deepEqual([...dec.outputs[1]!], new Array(64).fill(0));
  assert.equal(invoke(victim, vctx, vs, 2, [onBuffer('inout', vshm, 4096, 4096)]).ret, 0);
  assert.equal(invoke(victim, vctx, vs, 3, [onBuffer('input', vshm, 4096 + 10, 64), temp('output', vout, new Uint8Array(64))]).ret, TeeResult.ERROR_ACCESS_DENIED, 'transformed, still the secure world\'s');
});

test('the TAs check where memory lies: INJECT into normal memory, or DUMP from it, is ACCESS_DENIED; a short output is SHORT_BUFFER', () => {
  const { client } = setup();
  const c = client();
  const ctx = open(c);
  const normal = fdOf(c.handle(create(8192)));
  const nshm = call(c, 'TEE_SHM_REGISTER_FD', normal, { ctx }).result;
  const fd = secureBuffer(c, 8192);
  const sshm = call(c, 'TEE_SHM_REGISTER_FD', fd, { ctx }).result;
  const s = openSession(c, ctx, SDP_BASIC).session;
  const t = call(c, 'TEE_SHM_ALLOC', -1, { ctx, size: 16n }).result;
  const inj = invoke(c, ctx, s, 0, [temp('input', t, new Uint8Array(16)), onBuffer('output', nshm, 0, 16)]);
  assert.deepEqual([inj.ret, inj.origin], [TeeResult.ERROR_ACCESS_DENIED, TeeOrigin.TRUSTED_APP]);
  assert.equal(invoke(c, ctx, s, 1, [onBuffer('inout', nshm, 0, 16)]).ret, TeeResult.ERROR_ACCESS_DENIED);
  assert.equal(invoke(c, ctx, s, 0, [onBuffer('input', sshm, 0, 16), onBuffer('output', sshm, 16, 16)]).ret, TeeResult.ERROR_ACCESS_DENIED, 'INJECT reads non-secure memory only');
  assert.equal(invoke(c, ctx, s, 0, [temp('input', t, new Uint8Array(16)), onBuffer('output', sshm, 0, 8)]).ret, TeeResult.ERROR_SHORT_BUFFER);
  assert.equal(invoke(c, ctx, s, 2, [onBuffer('input', sshm, 0, 32), temp('output', t, new Uint8Array(16))]).ret, TeeResult.ERROR_SHORT_BUFFER);
  assert.equal(invoke(c, ctx, s, 2, [onBuffer('input', sshm, 0, 16), onBuffer('output', sshm, 16, 16)]).ret, TeeResult.ERROR_ACCESS_DENIED, 'DUMP writes non-secure memory only');
  const ok = invoke(c, ctx, s, 2, [onBuffer('input', sshm, 0, 16), onBuffer('output', nshm, 0, 16)]);
  assert.equal(ok.ret, 0, 'zeros are nobody\'s data: a dump of them into a normal dma-buf is allowed');
  assert.equal(invoke(c, ctx, s, 9, []).ret, TeeResult.ERROR_BAD_PARAMETERS, 'an unknown command, as the TA answers');
  rejects(() => call(c, 'TEE_SHM_REGISTER_FD', -1, { ctx }), 'EINVAL', /not a dma-buf/);
  rejects(() => call(c, 'TEE_SHM_REGISTER_FD', 99, { ctx }), 'EINVAL', /not a dma-buf/);
  rejects(() => call(c, 'TEE_SHM_REGISTER_FD', fd, { ctx, flags: 1 }), 'EINVAL', /flags must be 0/);
  const unservable = fdOf(c.handle(req(0xc0805300, -1, (() => {
    const b = new Uint8Array(128);
    new DataView(b.buffer).setBigUint64(8, 4096n, true);
    new DataView(b.buffer).setUint32(16, 2, true);
    b.set(encodeName('smaf-optee', 64), 32); // a normal buffer that asks the secure-only allocator
    return b;
  })())));
  rejects(() => call(c, 'TEE_SHM_REGISTER_FD', unservable, { ctx }), 'EINVAL', /cannot be registered: no memory for buffer \d+.*only secure buffers come from the TEE's SDP pool/);
  rejects(() => call(c, 'TEE_SHM_ALLOC', -1, { ctx, size: 0n }), 'EINVAL', /size 0/);
  rejects(() => call(c, 'TEE_SHM_ALLOC', -1, { ctx, size: 2n ** 40n }), 'ENOMEM');
  rejects(() => call(c, 'TEE_SHM_REGISTER', -1, { ctx, flags: 2, length: 8n }), 'EINVAL');
  rejects(() => call(c, 'TEE_SHM_RELEASE', -1, { shm: 999 }), 'EBADF');
});

test('shared memory holds its buffer past the fd and the context; a disconnect releases everything; the self-check and limits count it', () => {
  const { client, ctx: daemon, smaf, platform } = setup({ maxClientBytes: 64 * 1024 });
  const c = client();
  const ctx = open(c);
  const fd = secureBuffer(c, 32 * 1024);
  call(c, 'TEE_SHM_REGISTER_FD', fd, { ctx });
  openSession(c, ctx, SDP_BASIC);
  call(c, 'CLOSE', fd, {});
  assert.deepEqual(c.usage(), { fds: 0, buffers: 1, bytes: 32 * 1024 }, 'a buffer held only by the TEE counts in the client\'s usage');
  assert.equal(c.handle(create(40 * 1024)).result, -12, 'so the byte limit still holds (ENOMEM)');
  assert.ok(daemon.selfCheck().ok, daemon.selfCheck().checks.filter((x) => !x.ok).map((x) => x.detail).join('; '));
  call(c, 'TEE_CLOSE', -1, { ctx });
  assert.deepEqual(c.tee.sessions, [], 'closing the context closed its session');
  assert.equal(smaf.buffers.length, 1, 'the shared memory still holds the buffer');
  c.close();
  assert.equal(smaf.buffers.length, 0, 'the disconnect released the shared memory and the buffer');
  assert.ok(platform.regionStats().every((r) => r.inUse === 0));
  const d = client();
  const dctx = open(d);
  for (let i = 0; i < TEE_LIMITS.shm; i++) call(d, 'TEE_SHM_ALLOC', -1, { ctx: dctx, size: 8n });
  rejects(() => call(d, 'TEE_SHM_ALLOC', -1, { ctx: dctx, size: 8n }), 'ENOMEM', /limit is 256/);
  for (let i = 1; i < TEE_LIMITS.contexts; i++) open(d);
  rejects(() => open(d), 'EMFILE');
});

test('the operator sees TEE sessions, shared memory and invocations: events, X_PS and X_EXPLAIN', () => {
  const { client, ctx: daemon } = setup();
  const c = client();
  const admin = client(true);
  call(c, 'HELLO', -1, { pid: 42, comm: encodeName('tee-sdp', 64) });
  const ctx = open(c);
  const fd = secureBuffer(c, 8192);
  const shm = call(c, 'TEE_SHM_REGISTER_FD', fd, { ctx }).result;
  const s = openSession(c, ctx, SMAF_TEST).session;
  invoke(c, ctx, s, 2, [onBuffer('inout', shm, 0, 16)]);
  const events = (call(admin, 'X_EVENTS', -1, { limit: 50, kinds: 1 << 13 }).payload.events as JournalEvent[]);
  const inv = events.find((e) => e.tee?.what === 'invoke')!;
  assert.equal(inv.actor, 'smaf-sdp-test');
  assert.equal(inv.client, c.id);
  assert.equal(inv.buffer, daemon.smaf.buffers[0]!.id);
  assert.deepEqual({ ...inv.tee, durationUs: 0 }, { what: 'invoke', uuid: SMAF_TEST, ta: 'smaf-sdp-test', session: s, command: 2, result: 0, origin: TeeOrigin.TRUSTED_APP, durationUs: 0 });
  assert.match(inv.message, /client \d+: smaf-sdp-test command 2 \(session \d+\) -> TEEC_SUCCESS \(TEEC_ORIGIN_TRUSTED_APP\) in [\d.]+ µs/);
  assert.deepEqual(events.map((e) => e.tee?.what), ['shm-register', 'open-session', 'invoke']);
  assert.ok((call(c, 'X_EVENTS', -1, { limit: 50, kinds: 1 << 13 }).payload.events as JournalEvent[]).some((e) => e.tee?.what === 'invoke'), 'the client sees the events of the buffer it holds');
  const token = call(c, 'EXPORT', fd, {}).payload;
  call(c, 'CLOSE', fd, {});
  const sharer = client();
  const sfd = call(sharer, 'IMPORT', -1, { token }).result;
  assert.equal(call(sharer, 'X_EXPLAIN', sfd, { buffer: 0 }).payload.teeShm, undefined, 'a client sees its own TEE shared memory only, not another\'s');
  const ps = processes(operatorScope(daemon)).processes.find((p) => p.client === c.id)!;
  assert.deepEqual(ps.buffers.map((b) => [b.buffer, b.fds, b.teeShm]), [[daemon.smaf.buffers[0]!.id, [], [shm]]]);
  assert.deepEqual(ps.tee, { contexts: 1, sessions: [{ id: s, uuid: SMAF_TEST, ta: 'smaf-sdp-test' }], shm: [{ id: shm, kind: 'dma-buf', size: 8192, buffer: daemon.smaf.buffers[0]!.id }] });
  const id = daemon.smaf.buffers[0]!.id;
  assert.deepEqual(call(admin, 'X_EXPLAIN', -1, { buffer: id }).payload.teeShm, [{ client: c.id, label: c.label, shm }]);
  assert.deepEqual(call(c, 'X_EXPLAIN', -1, { buffer: id }).payload.teeShm, [{ client: c.id, label: c.label, shm }], 'the client may explain a buffer it holds only through the TEE');
  const other = client();
  rejects(() => call(other, 'X_EXPLAIN', -1, { buffer: id }), 'ENOENT');
  assert.equal(c.handle(req(Op.X_PS, -1)).result, -1, 'X_PS stays the operator\'s');
});
