/**
 * Session rules from the security rounds (issues 11 and 17), driven without sockets: CPU access
 * tracked per dma-buf, the secure flag of an exported buffer, bugs answered EIO and counted, bounded
 * decision logs and introspection replies.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { Errno } from '../common/errors.ts';
import { MAX_DECISIONS } from '../core/index.ts';
import { createSmafSystem } from '../presets/default.ts';
import { DMA_BUF_IOCTL_SYNC, encodeName, encodeStruct, MAX_FRAME, Op, SMAF_IOC_SET_SECURE_FLAG } from '../uapi/index.ts';
import { DaemonContext, DEFAULT_LIMITS, type LimitSettings } from './context.ts';
import { ClientSession } from './session.ts';
import { create, fdOf, req, u32 } from './session-fixtures.ts';
import { failingAt } from '../testing/index.ts';

function setup(limits: Partial<LimitSettings> = {}) {
  const { smaf, platform } = createSmafSystem();
  const lines: string[] = [];
  const log = pino({ level: 'error' }, { write: (s: string) => void lines.push(s) });
  const ctx = new DaemonContext(smaf, log, { ...DEFAULT_LIMITS, ...limits });
  let id = 1;
  const client = (admin = false) => {
    const s = new ClientSession(id++, ctx, { admin });
    ctx.sessions.add(s);
    return s;
  };
  return { smaf, platform, ctx, client, lines };
}

const sync = (fd: number, flags: bigint) => req(DMA_BUF_IOCTL_SYNC.number, fd, encodeStruct(DMA_BUF_IOCTL_SYNC.struct, { flags }));
const secure = (fd: number, on: boolean) => req(SMAF_IOC_SET_SECURE_FLAG.number, -1, encodeStruct(SMAF_IOC_SET_SECURE_FLAG.struct, { fd, secure: on ? 1 : 0 }));
const json = (r: { payload: Uint8Array }) => JSON.parse(new TextDecoder().decode(r.payload)) as Record<string, unknown>;

test('DMA_BUF_IOCTL_SYNC is tracked per dma-buf, as in the kernel: END on a dup of the fd that did START; an END without START is 0', () => {
  const { client, smaf } = setup();
  const c = client();
  const fd = fdOf(c.handle(create(4096)));
  const dup = c.handle(req(Op.DUP, fd)).result;
  const buf = smaf.buffers[0]!;
  const open = (): number => c.cpuAccess.get(buf) ?? 0;
  assert.equal(c.handle(sync(fd, 3n)).result, 0); // START read|write
  assert.equal(open(), 1);
  assert.equal(c.handle(sync(dup, 3n | 4n)).result, 0, 'END through the dup');
  assert.equal(open(), 0);
  assert.equal(c.handle(sync(dup, 3n | 4n)).result, 0, 'an END with no START left: 0, as the kernel (it does not pair them)');
  assert.equal(open(), 0, 'and the count of open STARTs does not go below 0');
  // an access left open ends with the client's last fd of the buffer, not with the first close
  assert.equal(c.handle(sync(fd, 1n)).result, 0);
  assert.equal(c.handle(req(Op.CLOSE, fd)).result, 0);
  assert.equal(open(), 1, 'the START made through the closed fd is still there');
  assert.equal(c.handle(sync(dup, 1n | 4n)).result, 0);
  assert.equal(open(), 0);
  assert.equal(c.handle(sync(dup, 1n)).result, 0);
  c.close();
  assert.equal(smaf.bufferCount, 0, 'closing the client ended it and released the buffer');
});

test('an importer cannot clear the secure flag of a buffer it was handed: EPERM once exported', () => {
  const { client } = setup();
  const owner = client();
  const importer = client();
  const fd = fdOf(owner.handle(create(4096)));
  assert.equal(owner.handle(secure(fd, true)).result, 0);
  assert.equal(owner.handle(secure(fd, false)).result, 0, 'the only holder may still change its mind');
  assert.equal(owner.handle(secure(fd, true)).result, 0);
  const token = owner.handle(req(Op.EXPORT, fd)).payload;
  const theirs = importer.handle(req(Op.IMPORT, -1, token)).result;
  const r = importer.handle(secure(theirs, false));
  assert.equal(r.result, -Errno.EPERM, new TextDecoder().decode(r.payload));
  assert.equal(owner.handle(secure(fd, false)).result, -Errno.EPERM, 'nor the exporter: someone else holds it');
  const mmap = new Uint8Array(20);
  new DataView(mmap.buffer).setBigUint64(8, 4096n, true);
  new DataView(mmap.buffer).setUint32(16, 1, true);
  assert.equal(importer.handle(req(Op.MMAP, theirs, mmap)).result, -Errno.EPERM, 'still never CPU-visible');
});

test('a bug while handling a request is EIO for that request only, counted, and its stack logged once', () => {
  const { client, ctx, smaf, lines } = setup();
  const c = client();
  const original = smaf.create.bind(smaf);
  smaf.create = () => {
    throw new TypeError('x is not a function');
  };
  for (let i = 0; i < 5; i++) {
    const r = c.handle(create(4096));
    assert.equal(r.result, -Errno.EIO);
    assert.match(new TextDecoder().decode(r.payload), /internal error: x is not a function/);
  }
  assert.equal(ctx.internalErrors, 5);
  assert.equal(lines.filter((l) => l.includes('x is not a function')).length, 1, 'logged once');
  assert.match(lines[0]!, /TypeError: x is not a function\\n\s+at /, 'with its stack');
  smaf.create = original;
  assert.ok(fdOf(c.handle(create(4096))) >= 3, 'the session goes on');
  const admin = client(true);
  const report = json(admin.handle(req(Op.X_CHECK, -1)));
  const check = (report.checks as { name: string; ok: boolean; detail: string }[]).find((x) => x.name === 'no internal errors')!;
  assert.equal(check.ok, false);
  assert.match(check.detail, /5 request/);
  assert.equal(json(admin.handle(req(Op.X_STATE, -1))).internalErrors, 5);
});

test('bad input is EINVAL, never mistaken for a bug: a bad device name, a bad size', () => {
  const { client, ctx } = setup();
  const c = client();
  const fd = fdOf(c.handle(create(4096)));
  const name = new Uint8Array(64).fill(0x41); // no NUL
  assert.equal(c.handle(req(Op.ATTACH, fd, name)).result, -Errno.EINVAL);
  assert.equal(c.handle(req(Op.ATTACH, fd, encodeName('nosuch', 64))).result, -Errno.ENODEV);
  assert.equal(ctx.internalErrors, 0);
});

test('a million refused maps cannot grow a buffer without bound: decisions keep the first and the latest, explain stays small', () => {
  const { client } = setup();
  const c = client();
  // display has no IOMMU and needs one contiguous range: 256 MiB fits in no region, so every map asks
  // the allocators again, is refused, and records a decision
  const fd = fdOf(c.handle(create(256 * 1024 * 1024)));
  const rogue = c.handle(req(Op.ATTACH, fd, encodeName('display', 64))).result;
  assert.ok(rogue >= 0);
  for (let i = 0; i < 20_000; i++) assert.equal(c.handle(req(Op.MAP, fd, u32(rogue, 0))).result, -Errno.ENODEV);
  const e = json(c.handle(req(Op.X_EXPLAIN, fd, u32(0))));
  assert.equal((e.decisions as unknown[]).length, MAX_DECISIONS);
  assert.equal(e.decisionsTotal, 20_000);
  assert.ok(JSON.stringify(e).length < 64 * 1024);
});

test('X_STATE pages buffers: no reply passes the frame limit, whatever the number of buffers', () => {
  const { client } = setup({ maxClientBuffers: 5000, maxFds: 5000 });
  const c = client(true);
  for (let i = 0; i < 3000; i++) assert.ok(fdOf(c.handle(create(4096))) >= 3);
  const first = c.handle(req(Op.X_STATE, -1));
  const st = json(first);
  assert.equal(st.buffersTotal, 3000);
  assert.equal((st.buffers as unknown[]).length, 200);
  const page = json(c.handle(req(Op.X_STATE, -1, u32(2900, 100_000))));
  assert.equal((page.buffers as unknown[]).length, 100, 'the last page');
  assert.equal(page.offset, 2900);
  const big = c.handle(req(Op.X_STATE, -1, u32(0, 100_000)));
  assert.equal((json(big).buffers as unknown[]).length, 500, 'at most 500 per page');
  assert.ok(big.payload.length < MAX_FRAME / 8);
  assert.equal(c.handle(req(Op.X_STATE, -1, u32(1))).result, -Errno.EINVAL, '0 or 8 payload bytes');
});

test('global limits: buffers and fds of the whole daemon, with the option to raise them in the message', () => {
  const { client } = setup({ maxBuffers: 3, maxTotalFds: 4 });
  const a = client();
  const b = client();
  assert.ok(fdOf(a.handle(create(4096))) >= 3);
  assert.ok(fdOf(b.handle(create(4096))) >= 3);
  const fd = fdOf(b.handle(create(4096)));
  const r = a.handle(create(4096));
  assert.equal(r.result, -Errno.ENOMEM);
  assert.match(new TextDecoder().decode(r.payload), /max_buffers/);
  assert.ok(b.handle(req(Op.DUP, fd)).result >= 3, 'a fourth fd');
  const dup = b.handle(req(Op.DUP, fd));
  assert.equal(dup.result, -Errno.ENFILE);
  assert.match(new TextDecoder().decode(dup.payload), /max_total_fds/);
});

test('one client cannot take the whole SDP region table: secure buffers mapped per client are limited (ENOSPC)', () => {
  const { client } = setup({ maxClientSecureMaps: 2 });
  const hog = client();
  const other = client();
  const secureMapped = (c: ClientSession, device = 'vdec') => {
    const fd = fdOf(c.handle(create(4096)));
    assert.equal(c.handle(secure(fd, true)).result, 0);
    const att = c.handle(req(Op.ATTACH, fd, encodeName(device, 64))).result;
    return { fd, r: c.handle(req(Op.MAP, fd, u32(att, 2))) };
  };
  const first = secureMapped(hog);
  assert.ok(first.r.result > 0);
  assert.ok(secureMapped(hog).r.result > 0);
  const third = secureMapped(hog);
  assert.equal(third.r.result, -Errno.ENOSPC);
  assert.match(new TextDecoder().decode(third.r.payload), /max_client_secure_maps/);
  // another device on a buffer already mapped takes no new region: allowed
  const disp = hog.handle(req(Op.ATTACH, first.fd, encodeName('display', 64))).result;
  assert.ok(hog.handle(req(Op.MAP, first.fd, u32(disp, 1))).result > 0);
  assert.ok(secureMapped(other).r.result > 0, 'the other client still gets its share');
});

const mmapReq = (fd: number, offset: bigint, length: bigint, prot = 3) => {
  const p = new Uint8Array(20);
  const v = new DataView(p.buffer);
  v.setBigUint64(0, offset, true);
  v.setBigUint64(8, length, true);
  v.setUint32(16, prot, true);
  return req(Op.MMAP, fd, p);
};

const readReq = (fd: number, mapping: number, offset: bigint, length: number) => {
  const p = new Uint8Array(16);
  const v = new DataView(p.buffer);
  v.setUint32(0, mapping, true);
  v.setBigUint64(4, offset, true);
  v.setUint32(12, length, true);
  return req(Op.READ, fd, p);
};

test('attachments per fd are limited (max_attachments_per_fd): ENOMEM past it, and a detach makes room', () => {
  const { client } = setup({ maxAttachmentsPerFd: 3 });
  const c = client();
  const fd = fdOf(c.handle(create(4096)));
  const atts = [0, 1, 2].map(() => c.handle(req(Op.ATTACH, fd, encodeName('gpu', 64))).result);
  assert.ok(atts.every((a) => a >= 0));
  const over = c.handle(req(Op.ATTACH, fd, encodeName('gpu', 64)));
  assert.equal(over.result, -Errno.ENOMEM);
  assert.match(new TextDecoder().decode(over.payload), /3 attachments on one fd, the limit \(max_attachments_per_fd\) is 3/);
  const dup = c.handle(req(Op.DUP, fd)).result;
  assert.ok(c.handle(req(Op.ATTACH, dup, encodeName('gpu', 64))).result >= 0, 'the limit is per fd');
  assert.equal(c.handle(req(Op.DETACH, fd, u32(atts[0]!))).result, 0);
  assert.ok(c.handle(req(Op.ATTACH, fd, encodeName('gpu', 64))).result >= 0, 'room again after a detach');
});

test('CPU mappings per fd are limited (max_mappings_per_fd): ENOMEM past it, and a munmap makes room', () => {
  const { client } = setup({ maxMappingsPerFd: 2 });
  const c = client();
  const fd = fdOf(c.handle(create(8192)));
  const maps = [0, 1].map(() => c.handle(mmapReq(fd, 0n, 4096n)).result);
  assert.ok(maps.every((m) => m >= 0));
  const over = c.handle(mmapReq(fd, 0n, 4096n));
  assert.equal(over.result, -Errno.ENOMEM);
  assert.match(new TextDecoder().decode(over.payload), /2 mappings on one fd, the limit \(max_mappings_per_fd\) is 2/);
  assert.equal(c.handle(req(Op.MUNMAP, fd, u32(maps[0]!))).result, 0);
  assert.ok(c.handle(mmapReq(fd, 0n, 4096n)).result >= 0, 'room again after a munmap');
});

test('one READ returns at most max_io bytes (the frame limit): EINVAL past it, before any work', () => {
  const { client } = setup({ maxIo: 8192 });
  const c = client();
  const fd = fdOf(c.handle(create(16384)));
  const m = c.handle(mmapReq(fd, 0n, 16384n, 1)).result;
  const ok = c.handle(readReq(fd, m, 0n, 8192));
  assert.deepEqual([ok.result, ok.payload.length], [8192, 8192]);
  const over = c.handle(readReq(fd, m, 0n, 8193));
  assert.equal(over.result, -Errno.EINVAL);
  assert.match(new TextDecoder().decode(over.payload), /READ of 8193 bytes is over the 8192-byte limit of one request/);
});

test('the daemon only decodes: a u64 past 2^53 is EINVAL where it is decoded; the range, prot and direction rules are the core\'s', () => {
  const { client } = setup();
  const c = client();
  const fd = fdOf(c.handle(create(8192)));
  for (const [offset, length, re] of [[2n ** 53n, 4096n, /MMAP: offset \d+ is out of range/], [0n, 2n ** 64n - 1n, /MMAP: length \d+ is out of range/], [4096n, 8192n, /range inside the buffer/], [1n, 4096n, /page-aligned/]] as const) {
    const r = c.handle(mmapReq(fd, offset, length));
    assert.equal(r.result, -Errno.EINVAL, `${offset}+${length}`);
    assert.match(new TextDecoder().decode(r.payload), re);
  }
  assert.equal(c.handle(mmapReq(fd, 0n, 4096n, 4)).result, -Errno.EINVAL, 'prot 4');
  const att = c.handle(req(Op.ATTACH, fd, encodeName('gpu', 64))).result;
  const bad = c.handle(req(Op.MAP, fd, u32(att, 3)));
  assert.equal(bad.result, -Errno.EINVAL);
  assert.match(new TextDecoder().decode(bad.payload), /invalid DMA direction 3/);
});

test('a secure module failing while a client closes its fds: every fd still closes, the buffers are released, the failure is counted as an internal error', () => {
  const { client, ctx, smaf } = setup();
  const module = smaf.secureModule!;
  smaf.unregisterSecureModule(module.name);
  smaf.registerSecureModule(failingAt(module, 'revokeAccess'));
  const c = client();
  const fds = [0, 1].map(() => {
    const fd = fdOf(c.handle(create(4096)));
    assert.equal(c.handle(secure(fd, true)).result, 0);
    const att = c.handle(req(Op.ATTACH, fd, encodeName('vdec', 64))).result;
    assert.ok(c.handle(req(Op.MAP, fd, u32(att, 2))).result > 0);
    return fd;
  });
  assert.equal(c.handle(req(Op.CLOSE, fds[0]!)).result, 0, 'a close completes whatever the module does');
  c.close();
  assert.equal(smaf.bufferCount, 0, 'both released');
  assert.deepEqual(c.openFds, []);
  assert.ok(ctx.internalErrors >= 2, `each failed revoke is counted (${ctx.internalErrors})`);
  assert.equal(ctx.limits.totalFds, 0);
});

/** Map one more secure buffer for `c`: the MAP's result (segments, or -errno) and its message. */
function mapSecure(c: ClientSession): { result: number; message: string } {
  const fd = fdOf(c.handle(create(4096)));
  assert.equal(c.handle(secure(fd, true)).result, 0);
  const att = c.handle(req(Op.ATTACH, fd, encodeName('vdec', 64))).result;
  const r = c.handle(req(Op.MAP, fd, u32(att, 2)));
  return { result: r.result, message: new TextDecoder().decode(r.payload) };
}

test('two connections cannot take the whole SDP table: the last regions stay for clients that have none mapped (sdp_reserve)', () => {
  const { client, platform } = setup(); // 16 SDP regions, 8 per client, a reserve of 4
  assert.equal(platform.sdp!.maxRegions, 16);
  const [a, b] = [client(), client()];
  for (let i = 0; i < 8; i++) assert.ok(mapSecure(a).result > 0, `a's map ${i}`);
  assert.match(mapSecure(a).message, /max_client_secure_maps/);
  let got = 0;
  for (let r = mapSecure(b); r.result > 0; r = mapSecure(b)) got++;
  assert.equal(got, 4, 'the second connection stops 4 regions short of the end');
  assert.match(mapSecure(b).message, /SDP region table has 4 of 16 regions free: the last 4 are kept for clients that have none mapped \(sdp_reserve\)/);
  for (let i = 0; i < 4; i++) {
    const newcomer = client();
    assert.ok(mapSecure(newcomer).result > 0, `client ${i} with none mapped gets a region`);
    assert.equal(mapSecure(newcomer).result, -Errno.ENOSPC, 'but not a second one from the reserve');
  }
  assert.equal(platform.sdp!.table.size, 16);
  a.close();
  assert.ok(mapSecure(client()).result > 0, 'regions come back when a client goes');
});

test('an account shared by several sessions (a proven peer) counts once: its connections share one cap', () => {
  const { ctx, smaf } = setup({ maxClientSecureMaps: 3 });
  const s1 = new ClientSession(1, ctx, { accountKey: 'pid:4242' });
  const s2 = new ClientSession(2, ctx, { accountKey: 'pid:4242' });
  const other = new ClientSession(3, ctx);
  assert.equal(s1.account, s2.account);
  assert.notEqual(other.account, s1.account, 'a connection without proof is its own account');
  assert.ok(mapSecure(s1).result > 0);
  assert.ok(mapSecure(s2).result > 0);
  assert.ok(mapSecure(s1).result > 0);
  assert.match(mapSecure(s2).message, /max_client_secure_maps/, 'the second connection of the same process gets no fresh share');
  assert.ok(mapSecure(other).result > 0);
  s1.close();
  assert.equal(s2.account.secureMapped, 1, 's2 keeps its own');
  s2.close();
  other.close();
  assert.equal(ctx.accounts.size, 0, 'accounts go with their last session');
  assert.equal(smaf.bufferCount, 0);
});

test('every per-client limit counts per account: fds, buffers and bytes of all its sessions together', () => {
  const { ctx } = setup({ maxFds: 3, maxClientBytes: 16384 });
  const s1 = new ClientSession(1, ctx, { accountKey: 'pid:7' });
  const s2 = new ClientSession(2, ctx, { accountKey: 'pid:7' });
  assert.ok(fdOf(s1.handle(create(8192))) >= 3);
  assert.ok(fdOf(s2.handle(create(4096))) >= 3);
  const r = s2.handle(create(8192));
  assert.equal(r.result, -Errno.ENOMEM, 'bytes: 12 KiB held by the process, 8 KiB more pass 16 KiB');
  assert.ok(fdOf(s2.handle(create(4096))) >= 3, 'exactly 16 KiB');
  assert.equal(s1.handle(req(Op.DUP, 3)).result, -Errno.EMFILE, 'fds: 3 open across both connections');
  s1.close();
  s2.close();
});
