/**
 * End-to-end: the TEE subsystem over a real smafd (issue 25). The SDP flow of both test TAs on a
 * registered dma-buf whose fd is closed; memrefs off the end of their shared memory refused before
 * any TA runs; a client never gets back, by DUMP or by CRC, what it did not put in secure memory
 * itself (another client's data, or what the crypto engine decrypted with the secure world's key);
 * and what the operator sees: events, `smaf ps`, `smaf explain`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SmafClient, TeeCallParam } from '../src/client/client.ts';
import { isSmafError } from '../src/common/errors.ts';
import { runBin } from './helpers/cli.ts';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';

const SDP_BASIC = { uuid: '12345678-5b69-11e4-9dbb-101f74f00099', inject: 0, transform: 1, dump: 2 };
const SMAF_TEST = { uuid: '12345678-5b69-11e4-9dbb-101f74f00001', inject: 1, transform: 2, dump: 3 };
const ACCESS_DENIED = 0xffff0001;

let d: RunningDaemon;
before(async () => {
  d = await startDaemon(['--no-dashboard']);
});
after(async () => {
  assert.equal(await d.stop(), 0);
});

async function secureBuffer(c: SmafClient, size: number, allocator: string): Promise<number> {
  const fd = await c.create(size, { name: allocator });
  await c.setSecure(fd, true);
  return fd;
}

/** libteec's temporary memref: user memory registered for the call, released after it. */
async function withTemp<T>(c: SmafClient, ctx: number, size: number, use: (shm: number) => Promise<T>): Promise<T> {
  const t = await c.teeShmRegister(ctx, size, 0x7f00_0000n);
  try {
    return await use(t.id);
  } finally {
    await c.teeShmRelease(t.id);
  }
}

const onShm = (direction: 'input' | 'output' | 'inout', shm: number, offset: number, size: number): TeeCallParam => ({ type: 'memref', direction, shm, offset, size });
const bytesIn = (direction: 'input' | 'output', shm: number, data: Uint8Array): TeeCallParam => ({ type: 'memref', direction, shm, size: data.length, data });

async function inject(c: SmafClient, ctx: number, session: number, ta: typeof SDP_BASIC, shm: number, offset: number, data: Uint8Array): Promise<number> {
  return withTemp(c, ctx, data.length, async (t) => (await c.teeInvoke(ctx, session, ta.inject, [bytesIn('input', t, data), onShm('output', shm, offset, data.length)])).ret);
}

async function dump(c: SmafClient, ctx: number, session: number, ta: typeof SDP_BASIC, shm: number, offset: number, size: number): Promise<{ ret: number; bytes: Uint8Array }> {
  return withTemp(c, ctx, size, async (t) => {
    const r = await c.teeInvoke(ctx, session, ta.dump, [onShm('input', shm, offset, size), bytesIn('output', t, new Uint8Array(size))]);
    return { ret: r.ret, bytes: r.outputs[1]! };
  });
}

test('the SDP flow of both TAs over the socket: smaf-optee and secure-carveout buffers, registered by fd, fd closed, checked byte for byte', async () => {
  const c = await d.connect();
  const admin = await d.admin();
  const ctx = await c.teeOpen();
  assert.deepEqual(await c.teeVersion(ctx), { implId: 1, implCaps: 1, genCaps: 13 });
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (const allocator of ['smaf-optee', 'secure-carveout']) {
    const fd = await secureBuffer(c, 16384, allocator);
    await assert.rejects(c.mmap(fd, 0, 4096, 1), (e) => isSmafError(e, 'EPERM'), 'the normal world never maps it');
    const shm = await c.teeShmRegisterFd(ctx, fd);
    assert.deepEqual([shm.size, shm.flags], [16384n, 16]);
    await c.closeFd(fd);
    assert.equal((await admin.state()).buffers.find((b) => b.allocator === allocator)?.refs, 1, 'the shared memory holds the buffer alone');
    for (const ta of [SDP_BASIC, SMAF_TEST]) {
      const s = await c.teeOpenSession(ctx, ta.uuid);
      assert.deepEqual([s.ret, s.origin], [0, 4]);
      for (let round = 0; round < 100; round++) {
        const offset = round % 256;
        const data = Uint8Array.from({ length: 1 + ((round * 97) % 2048) }, next);
        assert.equal(await inject(c, ctx, s.session, ta, shm.id, offset, data), 0);
        assert.equal((await c.teeInvoke(ctx, s.session, ta.transform, [onShm('inout', shm.id, offset, data.length)])).ret, 0);
        const out = await dump(c, ctx, s.session, ta, shm.id, offset, data.length);
        assert.equal(out.ret, 0);
        assert.deepEqual(out.bytes, data.map((b) => (~b + 1) & 0xff), `${allocator}, ${ta.uuid}, round ${round}`);
      }
      await c.teeCloseSession(ctx, s.session);
    }
    await c.teeShmRelease(shm.id);
  }
  await c.teeClose(ctx);
  assert.deepEqual((await admin.state()).buffers, [], 'released with the shared memory');
  await admin.close();
  await c.close();
});

test('memrefs off the end of their shared memory: EINVAL before any TA runs (offset = size, size + 1, offset + size overflowing)', async () => {
  const c = await d.connect();
  const admin = await d.admin();
  const ctx = await c.teeOpen();
  const fd = await secureBuffer(c, 8192, 'smaf-optee');
  const shm = (await c.teeShmRegisterFd(ctx, fd)).id;
  const s = (await c.teeOpenSession(ctx, SDP_BASIC.uuid)).session;
  const data = Uint8Array.from({ length: 8192 }, (_, i) => i & 0xff);
  assert.equal(await inject(c, ctx, s, SDP_BASIC, shm, 0, data), 0);
  const before = (await admin.events({ kinds: ['tee'], newest: true, limit: 1 })).next;
  for (const [offset, size] of [[8192n, 1n], [0n, 8193n], [1n, 2n ** 64n - 1n], [2n ** 64n - 1n, 2n]] as const) {
    await assert.rejects(c.teeInvoke(ctx, s, SDP_BASIC.transform, [{ type: 'memref', direction: 'inout', shm, offset, size }]), (e) => isSmafError(e, 'EINVAL') && /leaves shared memory/.test(e.message));
  }
  const shmAlloc = await c.teeShmAlloc(ctx, 16);
  await assert.rejects(c.teeInvoke(ctx, s, SDP_BASIC.inject, [{ type: 'memref', direction: 'input', shm: shmAlloc.id, offset: 16, size: 1, data: new Uint8Array(1) }, onShm('output', shm, 0, 1)]), (e) => isSmafError(e, 'EINVAL'));
  assert.deepEqual((await admin.events({ kinds: ['tee'], after: before })).events.filter((e) => e.tee?.what === 'invoke'), [], 'no TA ran: no invocation was logged');
  const out = await dump(c, ctx, s, SDP_BASIC, shm, 0, 8192);
  assert.deepEqual(out.bytes, data, 'the bytes are as injected: nothing transformed them');
  await admin.close();
  await c.close();
});

test('DUMP gives a client back only its own data: another client\'s is refused with a denial', async () => {
  const victim = await d.connect();
  const attacker = await d.connect();
  const admin = await d.admin();
  const vctx = await victim.teeOpen();
  const fd = await secureBuffer(victim, 8192, 'smaf-optee');
  const vshm = (await victim.teeShmRegisterFd(vctx, fd)).id;
  const vs = (await victim.teeOpenSession(vctx, SMAF_TEST.uuid)).session;
  const secret = new TextEncoder().encode('the victim\'s frame, in secure memory');
  assert.equal(await inject(victim, vctx, vs, SMAF_TEST, vshm, 0, secret), 0);
  const token = await victim.exportToken(fd);
  const afd = await attacker.importToken(token);
  const actx = await attacker.teeOpen();
  const ashm = (await attacker.teeShmRegisterFd(actx, afd)).id;
  const as = (await attacker.teeOpenSession(actx, SDP_BASIC.uuid)).session;
  for (const [offset, size] of [[0, secret.length], [0, 1], [5, 1], [4096, 4096]] as const) {
    const r = await dump(attacker, actx, as, SDP_BASIC, ashm, offset, size);
    if (offset === 4096) assert.equal(r.ret, 0, 'the second page holds zeros: nobody\'s data');
    else assert.deepEqual([r.ret, [...r.bytes].every((b) => b === 0)], [ACCESS_DENIED, true], `DUMP ${offset}+${size} refused, nothing returned`);
  }
  const denial = (await admin.events({ kinds: ['denial'], newest: true, limit: 1 })).events[0]!;
  assert.equal(denial.actor, 'tee:sdp-basic');
  assert.equal(denial.client, (await attacker.state()).clients[0]!.id);
  assert.doesNotMatch(denial.message, /client 1\b|victim/, 'the refusal does not say whose data it is');
  await admin.close();
  await attacker.close();
  await victim.close();
});

test('the decrypt-then-CRC attack: the attacker decrypts the victim\'s 17-byte stream into its own secure page; no CRC and no DUMP of it is answered', async () => {
  const victim = await d.connect();
  const attacker = await d.connect();
  // the encrypted stream is no secret: the victim shares it
  const cipher = Uint8Array.from({ length: 17 }, (_, i) => (i * 29 + 3) & 0xff);
  const stream = await victim.create(4096);
  const m = await victim.mmap(stream, 0, 4096, 3);
  await victim.write(stream, m, 0, cipher);
  const s = await attacker.importToken(await victim.exportToken(stream));
  const t = await attacker.create(4096);
  await attacker.setSecure(t, true);
  const cin = await attacker.attach(s, 'crypto');
  const cout = await attacker.attach(t, 'crypto');
  await attacker.map(s, cin, 1);
  await attacker.map(t, cout, 2);
  assert.equal(await attacker.dmaCopy(t, cout, s, cin, 17, { transform: 1 }), 17, 'the crypto engine decrypts for anyone');
  const zeros = await attacker.create(4096);
  const zin = await attacker.attach(zeros, 'crypto');
  await attacker.map(zeros, zin, 1);
  const disp = await attacker.attach(t, 'display');
  await attacker.map(t, disp, 1);
  for (let i = 0; i < 17; i++) {
    // zero every byte after byte i (the classic oracle step), then ask for the CRC of the page
    await attacker.dmaCopy(t, cout, zeros, zin, 4096 - i - 1, { dstOffset: i + 1 });
    await assert.rejects(attacker.dmaCrc(t, disp, 0, 4096), (e) => isSmafError(e, 'EACCES'), `byte ${i}: the CRC is refused`);
  }
  const ctx = await attacker.teeOpen();
  const shm = (await attacker.teeShmRegisterFd(ctx, t)).id;
  const session = (await attacker.teeOpenSession(ctx, SDP_BASIC.uuid)).session;
  const r = await dump(attacker, ctx, session, SDP_BASIC, shm, 0, 17);
  assert.deepEqual([r.ret, [...r.bytes].every((b) => b === 0)], [ACCESS_DENIED, true], 'nor does the TA dump it');
  const plain = await attacker.create(4096);
  const pout = await attacker.attach(plain, 'crypto');
  await attacker.map(plain, pout, 2);
  await assert.rejects(attacker.dmaCopy(plain, pout, s, cin, 17, { transform: 1 }), (e) => isSmafError(e, 'EACCES') && /secure memory only/.test(e.message), 'nor may it decrypt into normal memory');
  await attacker.close();
  await victim.close();
});

test('the operator sees it: TEE events with UUID, command, result, origin and duration; smaf ps and smaf explain name the shm ids', async () => {
  const c = await d.connect();
  await c.hello(process.pid, 'tee-client');
  const ctx = await c.teeOpen();
  const fd = await secureBuffer(c, 8192, 'smaf-optee');
  const shm = (await c.teeShmRegisterFd(ctx, fd)).id;
  const s = (await c.teeOpenSession(ctx, SMAF_TEST.uuid)).session;
  assert.equal((await c.teeInvoke(ctx, s, SMAF_TEST.transform, [onShm('inout', shm, 0, 4096)])).ret, 0);
  await c.closeFd(fd);
  const ev = (await c.events({ kinds: ['tee'] })).events.filter((e) => e.tee?.what === 'invoke').at(-1)!;
  assert.deepEqual({ ...ev.tee, durationUs: 0 }, { what: 'invoke', uuid: SMAF_TEST.uuid, ta: 'smaf-sdp-test', session: s, command: 2, result: 0, origin: 4, durationUs: 0 });
  const ps = await runBin('smaf', ['--socket', d.socket, 'ps']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /tee-client[\s\S]*buffer \d+ .*smaf-optee, secure; TEE shm \d+/);
  assert.match(ps.stdout, /TEE: 1 context open; session \d+ to smaf-sdp-test; shm \d+ \(dma-buf of buffer \d+, 8 KiB\)/);
  const id = (await c.state()).buffers[0]!.buffer;
  const explain = await runBin('smaf', ['--socket', d.socket, 'explain', String(id)]);
  assert.match(explain.stdout, new RegExp(`TEE shared memory: shm ${shm} of client \\d+ \\(tee-client, pid ${process.pid}\\)`));
  await c.close();
});
