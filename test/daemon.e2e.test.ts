/** End-to-end: a real smafd process, clients in this and other processes, raw bytes on the wire. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SmafClient } from '../src/client/client.ts';
import { Errno, isSmafError, type ErrnoName } from '../src/common/errors.ts';
import { encodeName, encodeRequest, ioc, SMAF_IOC_CREATE, SMAF_IOC_GET_INFO, SMAF_IOC_GET_SECURE_FLAG } from '../src/uapi/index.ts';
import { eventually, ROOT, spawnTs, startDaemon, waitForLine, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
let c: SmafClient;
/** The operator's view, to see other clients' buffers come and go. */
let op: SmafClient;
before(async () => {
  d = await startDaemon();
  c = await d.connect();
  op = await d.admin();
});
after(async () => {
  await c?.close();
  await op?.close();
  assert.equal(await d.stop(), 0, 'smafd exits cleanly on SIGTERM');
});

const create = (fill: (v: DataView, b: Uint8Array) => void, size = 128): Uint8Array => {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  fill(v, b);
  return b;
};

async function raw(op: number, fd: number, payload: Uint8Array): Promise<{ result: number; payload: Uint8Array; message: string }> {
  const r = await c.request(op, fd, payload);
  return { ...r, message: new TextDecoder().decode(r.payload) };
}

async function expectErrno(p: Promise<{ result: number; message: string }>, code: ErrnoName, re?: RegExp): Promise<void> {
  const r = await p;
  assert.equal(r.result, -Errno[code], `expected -${code}, got ${r.result}: ${r.message}`);
  if (re) assert.match(r.message, re);
}

const CREATE = SMAF_IOC_CREATE.number;

describe('SMAF_IOC_CREATE with raw bytes', () => {
  test('a valid struct creates a buffer and returns its fd in the struct', async () => {
    const r = await raw(CREATE, -1, create((v) => v.setBigUint64(8, 5000n, true)));
    assert.equal(r.result, 0);
    const fd = new DataView(r.payload.buffer).getInt32(24, true);
    assert.equal(fd >= 3, true);
    assert.equal(r.payload.length, 128);
    assert.equal((await c.stat(fd)).size, 8192n);
    await c.closeFd(fd);
  });

  test('wrong payload size for the ioctl number: EINVAL', () => expectErrno(raw(CREATE, -1, new Uint8Array(100)), 'EINVAL', /_IOC_SIZE/));
  test('unknown ioctl: ENOTTY', () => expectErrno(raw(ioc(3, 0x53, 0x42, 128), -1, new Uint8Array(128)), 'ENOTTY'));
  test('unknown op: ENOTTY', () => expectErrno(raw(0x77, -1, new Uint8Array(0)), 'ENOTTY'));
  test('length 0: EINVAL', () => expectErrno(raw(CREATE, -1, create(() => {})), 'EINVAL', /length 0/));
  test('length 2^64-1: ENOMEM, no overflow', () => expectErrno(raw(CREATE, -1, create((v) => v.setBigUint64(8, 2n ** 64n - 1n, true))), 'ENOMEM'));
  test('length 2^64-4096 rounds without wrapping: ENOMEM', () => expectErrno(raw(CREATE, -1, create((v) => v.setBigUint64(8, 2n ** 64n - 4096n, true))), 'ENOMEM'));
  test('unknown version: EINVAL', () => expectErrno(raw(CREATE, -1, create((v) => { v.setBigUint64(0, 1n, true); v.setBigUint64(8, 4096n, true); })), 'EINVAL', /version/));
  test('flags other than RDWR|CLOEXEC: EINVAL', () => expectErrno(raw(CREATE, -1, create((v) => { v.setBigUint64(8, 4096n, true); v.setUint32(16, 0x1, true); })), 'EINVAL', /flags/));
  test('fd non-zero on input: EINVAL', () => expectErrno(raw(CREATE, -1, create((v) => { v.setBigUint64(8, 4096n, true); v.setInt32(24, 5, true); })), 'EINVAL', /fd must be 0/));
  for (const [off, field] of [[20, 'reserved0'], [28, 'reserved1'], [96, 'reserved2'], [127, 'reserved2']] as const) {
    test(`non-zero ${field} (byte ${off}): EINVAL`, () => expectErrno(raw(CREATE, -1, create((v, b) => { v.setBigUint64(8, 4096n, true); b[off] = 1; })), 'EINVAL', new RegExp(field)));
  }
  test('unknown allocator name: EINVAL; unterminated name: EINVAL', async () => {
    await expectErrno(raw(CREATE, -1, create((v, b) => { v.setBigUint64(8, 4096n, true); b.set(encodeName('ion-heap', 64), 32); })), 'EINVAL', /unknown allocator "ion-heap"/);
    await expectErrno(raw(CREATE, -1, create((v, b) => { v.setBigUint64(8, 4096n, true); b.fill(0x41, 32, 96); })), 'EINVAL', /NUL/);
  });
  test('a smaller struct (older caller) is zero-filled', async () => {
    const small = create((v) => v.setBigUint64(8, 4096n, true), 32);
    const r = await raw(ioc(3, 0x53, 0, 32), -1, small);
    assert.equal(r.result, 0, r.message);
    assert.equal(r.payload.length, 32, 'copied out to the caller size');
    const fd = new DataView(r.payload.buffer).getInt32(24, true);
    assert.ok(fd >= 3, 'the fd (offset 24) fits in 32 bytes');
    assert.equal((await c.stat(fd)).size, 4096n);
    await c.closeFd(fd);
  });
  test('a larger struct (newer caller) is accepted, extra bytes ignored and returned untouched', async () => {
    const big = create((v, b) => { v.setBigUint64(8, 4096n, true); b.fill(0xcc, 128); }, 160);
    const r = await raw(ioc(3, 0x53, 0, 160), -1, big);
    assert.equal(r.result, 0, r.message);
    assert.equal(r.payload.length, 160);
    const fd = new DataView(r.payload.buffer).getInt32(24, true);
    assert.ok(fd >= 3);
    assert.ok(r.payload.subarray(128).every((x) => x === 0xcc));
    await c.closeFd(fd);
  });
  test('a device ioctl on a buffer fd: ENOTTY; on a bad fd: EBADF', async () => {
    const fd = await c.create(4096);
    await expectErrno(raw(CREATE, fd, create((v) => v.setBigUint64(8, 4096n, true))), 'ENOTTY');
    await expectErrno(raw(CREATE, 999, create((v) => v.setBigUint64(8, 4096n, true))), 'EBADF');
    await c.closeFd(fd);
  });
});

describe('other ioctls and ops with raw bytes', () => {
  test('GET_INFO: count and names; index out of range EINVAL', async () => {
    assert.deepEqual(await c.allocators(), ['secure-carveout', 'smaf-optee', 'system', 'smaf-cma']);
    await expectErrno(raw(SMAF_IOC_GET_INFO.number, -1, create((v) => v.setUint32(8, 4, true))), 'EINVAL', /index 4 out of range/);
    await expectErrno(raw(SMAF_IOC_GET_INFO.number, -1, create((v) => v.setUint32(8, 0xffffffff, true))), 'EINVAL');
  });
  test('GET_SECURE_FLAG on a bad or closed fd: EBADF', async () => {
    await expectErrno(raw(SMAF_IOC_GET_SECURE_FLAG.number, -1, create((v) => v.setInt32(8, 77, true), 64)), 'EBADF');
    const fd = await c.create(4096);
    await c.closeFd(fd);
    await expectErrno(raw(SMAF_IOC_GET_SECURE_FLAG.number, -1, create((v) => v.setInt32(8, fd, true), 64)), 'EBADF');
    await expectErrno(raw(1, fd, new Uint8Array(0)), 'EBADF');
  });
  test('SET_SECURE_FLAG sets the flag before memory exists, EBUSY after, EINVAL for a value other than 0/1', async () => {
    const fd = await c.create(4096);
    assert.equal(await c.getSecure(fd), false);
    await expectErrno(raw(0xc0405302, -1, create((v) => { v.setInt32(8, fd, true); v.setUint32(16, 2, true); }, 64)), 'EINVAL', /0 or 1/);
    await c.setSecure(fd, true);
    assert.equal(await c.getSecure(fd), true);
    await c.setSecure(fd, false);
    await c.mmap(fd, 0, 4096, 1);
    await assert.rejects(c.setSecure(fd, true), (e) => isSmafError(e, 'EBUSY'));
    await c.closeFd(fd);
  });

  test('ops with a wrong payload size: EINVAL; ops on fd -1: EBADF', async () => {
    const fd = await c.create(4096);
    await expectErrno(raw(5, fd, new Uint8Array(7)), 'EINVAL', /MAP takes 8/);
    await expectErrno(raw(3, -1, encodeName('gpu', 64)), 'EBADF');
    await expectErrno(raw(3, fd, encodeName('nonesuch', 64)), 'ENODEV', /no device "nonesuch"/);
    await expectErrno(raw(12, -1, new Uint8Array(16)), 'ENOENT', /unknown token/);
    await c.closeFd(fd);
  });
  test('create, attach, map, mmap, write, read, sync, close', async () => {
    const fd = await c.create(64 * 1024);
    const att = await c.attach(fd, 'display');
    assert.equal((await c.stat(fd)).allocated, false);
    const segs = await c.map(fd, att, 1);
    assert.equal(segs.length, 1);
    assert.equal((await c.stat(fd)).allocator, 'smaf-cma');
    const m = await c.mmap(fd, 0, 64 * 1024, 3);
    await c.sync(fd, 2);
    assert.equal(await c.write(fd, m, 1000, new TextEncoder().encode('bytes through the bus')), 21);
    await c.sync(fd, 2 | 4);
    assert.equal(new TextDecoder().decode(await c.read(fd, m, 1000, 21)), 'bytes through the bus');
    await expectErrno(raw(9, fd, create((v) => { v.setUint32(0, m, true); v.setBigUint64(4, 65530n, true); v.setUint32(12, 10, true); }, 16)), 'EINVAL', /leaves mapping/);
    await expectErrno(raw(0x40086200, fd, create((v) => v.setBigUint64(0, 8n, true), 8)), 'EINVAL', /invalid flags/);
    assert.equal((await raw(0x40086200, fd, create((v) => v.setBigUint64(0, 1n | 4n, true), 8))).result, 0, 'an END without START is 0, as the kernel (it does not pair them)');
    const ro = await c.mmap(fd, 0, 4096, 1);
    await assert.rejects(c.write(fd, ro, 0, new Uint8Array(1)), (e) => isSmafError(e, 'EACCES'));
    const crc = await c.dmaCrc(fd, att, 1000, 21);
    const { crc32 } = await import('node:zlib');
    assert.equal(crc, crc32('bytes through the bus'));
    const dupFd = await c.dup(fd);
    await c.closeFd(fd);
    assert.equal((await c.stat(dupFd)).allocated, true, 'the dup keeps the buffer alive');
    await c.closeFd(dupFd);
  });
  test('pipelined requests are answered, each with its id', async () => {
    const fds = await Promise.all(Array.from({ length: 20 }, () => c.create(4096)));
    assert.equal(new Set(fds).size, 20);
    await Promise.all(fds.map((fd) => c.closeFd(fd)));
  });
});

describe('connections and processes', () => {
  test('a malformed frame closes only that connection', async () => {
    for (const len of [0, 11, 16 * 1024 * 1024 + 1, 0xffffffff]) {
      const closed = await new Promise<boolean>((resolve) => {
        const s = createConnection(d.socket, () => {
          const b = Buffer.alloc(16);
          b.writeUInt32LE(len, 0);
          s.write(b);
        });
        s.on('close', () => resolve(true));
        s.on('error', () => {});
        setTimeout(() => resolve(false), 3000);
      });
      assert.ok(closed, `length ${len} closes the connection`);
    }
    assert.equal((await c.allocators()).length, 4, 'other clients are untouched');
  });

  test('a frame split across writes and several frames in one write both work', async () => {
    const s = createConnection(d.socket);
    await new Promise((r) => s.once('connect', r));
    const one = encodeRequest({ id: 7, op: SMAF_IOC_GET_INFO.number, fd: -1, payload: new Uint8Array(128) });
    const two = encodeRequest({ id: 8, op: 0x99, fd: -1, payload: new Uint8Array(0) });
    const got: Buffer[] = [];
    s.on('data', (b) => got.push(b));
    s.write(one.subarray(0, 5));
    await new Promise((r) => setTimeout(r, 30));
    s.write(Buffer.concat([one.subarray(5), two]));
    await eventually(async () => Buffer.concat(got).length, (n) => n >= 4 + 8 + 128 + 4 + 8, 3000, 'both answers (bytes received)');
    const all = Buffer.concat(got);
    assert.equal(all.readUInt32LE(4), 7);
    assert.equal(all.readInt32LE(8), 0);
    const second = 4 + all.readUInt32LE(0);
    assert.equal(all.readUInt32LE(second + 4), 8);
    assert.equal(all.readInt32LE(second + 8), -Errno.ENOTTY);
    s.destroy();
  });

  test('a client dying in the middle of a frame loses its buffers and nothing else', async () => {
    const before = (await op.state()).regions.map((r) => [r.name, r.inUse]);
    const s = createConnection(d.socket);
    await new Promise((r) => s.once('connect', r));
    const got: Buffer[] = [];
    s.on('data', (b) => got.push(b));
    const createFrame = encodeRequest({ id: 1, op: CREATE, fd: -1, payload: create((v) => v.setBigUint64(8, 1048576n, true)) });
    s.write(createFrame);
    await eventually(async () => Buffer.concat(got).length, (n) => n >= 140, 3000, 'the CREATE answer (bytes received)');
    const fd = Buffer.concat(got).readInt32LE(12 + 24);
    const mmap = new Uint8Array(20);
    new DataView(mmap.buffer).setBigUint64(8, 4096n, true);
    new DataView(mmap.buffer).setUint32(16, 3, true);
    s.write(encodeRequest({ id: 2, op: 7, fd, payload: mmap }));
    const write = encodeRequest({ id: 3, op: 10, fd, payload: new Uint8Array(12 + 4096) });
    s.write(write.subarray(0, 1000)); // half a WRITE, then the process "dies"
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await op.state()).buffers.length, 1);
    s.destroy();
    const after = await eventually(() => op.state(), (st) => st.buffers.length === 0, 10_000, 'the dead client\'s buffers to be released');
    assert.deepEqual(after.regions.map((r) => [r.name, r.inUse]), before);
  });

  test('export in one process, import in another', async () => {
    const fd = await c.create(4096);
    const m = await c.mmap(fd, 0, 4096, 3);
    await c.write(fd, m, 0, new TextEncoder().encode('cross-process'));
    const token = Buffer.from(await c.exportToken(fd)).toString('hex');
    const child = spawnTs('test/helpers/holder.ts', [d.socket, 'import', token, '13']);
    const line = await waitForLine(child, /^read /);
    assert.equal(Buffer.from(line.slice(5), 'hex').toString(), 'cross-process');
    // the child prints before it disconnects: until it has gone, its imported fd keeps the buffer
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    await eventually(() => c.state(), (s) => s.clients.length === 1, 10_000, 'the importing child to disconnect');
    await c.closeFd(fd);
    const r = await raw(12, -1, Uint8Array.from(Buffer.from(token, 'hex')));
    assert.equal(r.result, -Errno.ENOENT, 'the token dies with the buffer');
  });

  test('a child killed while holding buffers leaves every region as free as before', async () => {
    const before = (await op.state()).regions.map((r) => [r.name, r.inUse]);
    const child = spawnTs('test/helpers/holder.ts', [d.socket, 'create', '6', String(256 * 1024)]);
    await waitForLine(child, /^ready /);
    const during = await op.state();
    assert.ok(during.regions.some((r) => r.inUse > 0), 'the child holds memory');
    child.kill('SIGKILL');
    const after = await eventually(() => op.state(), (s) => s.buffers.length === 0, 10_000, 'the killed child\'s buffers to be released');
    assert.deepEqual(after.regions.map((r) => [r.name, r.inUse]), before);
    assert.equal(after.tokens, 0);
  });

  test('refuses to start over a live socket', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['bin/smafd.js', '--socket', d.socket], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, Errno.EBUSY);
    assert.match(r.stderr, /already serving/);
  });
});

describe('startup', () => {
  test('no C compiler where smafd starts: it serves Node clients all the same, without zero-copy, and says why', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'smaf-empty-cache-'));
    const bare = await startDaemon(['--no-dashboard'], { CC: join(cache, 'no-such-cc'), SMAF_CACHE_DIR: cache });
    try {
      assert.match(bare.output(), /smafd: C programs \(smaf exec\) copy their dma-bufs' bytes over the socket: cannot build smafd's addon: no C compiler \("[^"]*no-such-cc" was not found\)\. Install one: "apt-get install build-essential"/);
      const c = await bare.connect();
      const fd = await c.create(4096);
      assert.equal((await c.stat(fd)).size, 4096n, 'a Node client is served');
      const native = await c.native();
      assert.deepEqual([native.socket, native.zeroCopy], [null, false]);
      assert.match(native.reason ?? '', /no C compiler/);
      await c.close();
      const doctor = spawnSync(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', bare.socket, 'doctor'], { encoding: 'utf8' });
      assert.equal(doctor.status, 0, doctor.stdout + doctor.stderr);
      assert.match(doctor.stdout, /zero-copy for C programs.*off: cannot build smafd's addon: no C compiler/);
    } finally {
      await bare.stop();
      rmSync(cache, { recursive: true, force: true });
    }
  });

  test('--platform loads another platform; a bad platform file fails with EINVAL naming the field', async () => {
    const other = await startDaemon(['--platform', 'platforms/camera-soc.yaml', '--no-dashboard']);
    const oc = await other.connect();
    assert.deepEqual(await oc.allocators(), ['carveout-isp-pool', 'system', 'smaf-cma']);
    const fd = await oc.create(1 << 20);
    await oc.map(fd, await oc.attach(fd, 'isp'), 2);
    assert.equal((await oc.stat(fd)).allocator, 'carveout-isp-pool');
    const fd2 = await oc.create(4096);
    await assert.rejects(oc.map(fd2, await oc.attach(fd2, 'old-dma'), 0), (e) => isSmafError(e, 'ENODEV'), 'no region lies under a 31-bit mask');
    const fd3 = await oc.create(4096);
    await assert.rejects(oc.setSecure(fd3, true), (e) => isSmafError(e, 'EINVAL') && /no secure module/.test(e.message), 'no secure carveout, so no secure module');
    await oc.close();
    await other.stop();
    const { spawnSync } = await import('node:child_process');
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const bad = join(mkdtempSync(join(tmpdir(), 'smaf-bad-')), 'bad.yaml');
    writeFileSync(bad, 'memory:\n  - { name: ram, base: 0x1001, size: 1MiB, kind: system }\n');
    const r = spawnSync(process.execPath, ['bin/smafd.js', '--platform', bad, '--socket', join(tmpdir(), `x-${process.pid}.sock`)], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, Errno.EINVAL);
    assert.match(r.stderr, /memory\[0\]\.base: 0x00001001 is not aligned to the page size/);
  });

  test('a stale socket (its daemon died) is removed and replaced', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const path = join(mkdtempSync(join(tmpdir(), 'smaf-stale-')), 'smaf.sock');
    const dead = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => dead.stdout!.once('data', r));
    dead.kill('SIGKILL');
    await new Promise((r) => dead.once('exit', r));
    assert.ok(existsSync(path), 'the killed server left its socket behind');
    const { spawnSync } = await import('node:child_process');
    const p = spawn(process.execPath, ['bin/smafd.js', '--socket', path, '--no-dashboard'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (x) => (out += x));
    await eventually(async () => out, (o) => o.includes('listening on'), 20_000, 'smafd to listen over the stale socket');
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
    assert.equal(existsSync(path), false, 'a clean shutdown removes the socket');
    void spawnSync;
  });
});
