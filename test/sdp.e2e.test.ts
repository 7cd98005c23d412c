/** End-to-end: the secure video path over a real smafd. No op ever gives the normal world secure bytes. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { after, before, test } from 'node:test';
import type { SmafClient } from '../src/client/client.ts';
import { isSmafError, type ErrnoName } from '../src/common/errors.ts';
import { ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
let c: SmafClient;
before(async () => {
  d = await startDaemon();
  c = await d.connect();
});
after(async () => {
  await c.close();
  await d.stop();
});

const rejects = (p: Promise<unknown>, code: ErrnoName) => assert.rejects(p, (e) => isSmafError(e, code), `expected ${code}`);

test('smaf demo sdp runs the whole secure video path and shows the refusals', async () => {
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', d.socket, 'demo', 'sdp'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (x) => (out += x));
    p.stderr.on('data', (x) => (out += x));
    p.on('exit', (code) => resolve({ code, out }));
  });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /scenario passed/);
    assert.match(r.out, /stream +bitstream, frames \[main\] ok: 24 frames through bitstream \(3 buffers\), frames \(3 buffers\): crypto decrypts cipher, writes bitstream -> vdec reads bitstream, writes frames -> display reads frames \(scan-out\)/);
  assert.match(r.out, /latency per frame: avg [\d.]+ ms, p50 [\d.]+, p95 [\d.]+, max [\d.]+; throughput [\d.]+ frames\/s/);
  assert.match(r.out, /dma_crc .*refused as expected \(EACCES\): CRC of buffer \d+ refused: the range holds data that client \d+ did not supply/);
  assert.match(r.out, /CRC of 64 KiB: 0x[0-9a-f]{8} \(as expected\)/);
  assert.match(r.out, /dma_crc .*refused as expected \(EINVAL\): on secure buffer \d+, a CRC covers whole pages/);
  assert.match(r.out, /denial\s+gpu\s+Cannot attach device "gpu"/);
  assert.match(r.out, /firewall refused display write/);
  const st = await c.state();
  assert.equal(st.buffers.length, 0);
  assert.ok(st.regions.every((reg) => reg.inUse === 0), 'everything returned');
});

async function secureFrame(text: string): Promise<{ fd: number; crypto: number; src: number }> {
  const src = await c.create(4096);
  const cin = await c.attach(src, 'crypto');
  const m = await c.mmap(src, 0, 4096, 3);
  await c.write(src, m, 0, new TextEncoder().encode(text)); // the ciphertext: the clear frame depends on the secure world's key
  await c.map(src, cin, 1);
  const fd = await c.create(4096);
  await c.setSecure(fd, true);
  const cout = await c.attach(fd, 'crypto');
  await c.map(fd, cout, 2);
  await c.dmaCopy(fd, cout, src, cin, text.length, { transform: 1 });
  return { fd, crypto: cout, src };
}

test('no op gives the normal world secure bytes: READ, WRITE, mmap, sync, import, dup', async () => {
  const { fd, src } = await secureFrame('top secret pixels');
  // a secure buffer never has a CPU mapping (mmap is EPERM), so there is none to READ or WRITE through
  await rejects(c.read(fd, 0, 0, 16), 'EINVAL');
  await rejects(c.write(fd, 0, 0, new Uint8Array(1)), 'EINVAL');
  await rejects(c.mmap(fd, 0, 4096, 1), 'EPERM');
  await rejects(c.sync(fd, 1), 'EPERM');
  await rejects(c.setSecure(fd, false), 'EBUSY');
  const other = await d.connect();
  const imported = await other.importToken(await c.exportToken(fd));
  await rejects(other.mmap(imported, 0, 4096, 1), 'EPERM');
  await rejects(other.read(imported, 0, 0, 1), 'EINVAL');
  const dup = await other.dup(imported);
  await rejects(other.mmap(dup, 0, 4096, 1), 'EPERM');
  await rejects(other.attach(dup, 'gpu'), 'EPERM');
  await rejects(other.attach(dup, 'isp'), 'EPERM');
  const token = await c.exportToken(fd);
  await other.close();
  await c.closeFd(fd);
  await rejects(c.importToken(token), 'ENOENT');
  await c.closeFd(src);
});

test('freed secure memory comes back scrubbed: a display CRC of the reused range is the CRC of zeros', async () => {
  const first = await secureFrame('frame that must not survive');
  const stateBefore = await c.state();
  const addr = stateBefore.buffers.find((b) => b.secure)!.segments[0]!.phys;
  await c.closeFd(first.fd);
  await c.closeFd(first.src);
  const again = await c.create(4096);
  await c.setSecure(again, true);
  const disp = await c.attach(again, 'display');
  await c.map(again, disp, 1);
  const st = await c.state();
  assert.equal(st.buffers.find((b) => b.secure)!.segments[0]!.phys, addr, 'the same secure page is reused');
  assert.equal(await c.dmaCrc(again, disp, 0, 4096), crc32(Buffer.alloc(4096)));
  for (const [off, len] of [[0, 27], [1, 4096], [4096, 0]] as const) await rejects(c.dmaCrc(again, disp, off, len), 'EINVAL');
  const normal = await c.create(4096);
  await c.mmap(normal, 0, 4096, 1);
  const st2 = await c.state();
  const nb = st2.buffers.find((b) => !b.secure && b.allocated)!;
  assert.notEqual(nb.region, 'sdp', 'a normal buffer never gets secure memory');
  await c.closeFd(again);
  await c.closeFd(normal);
});

test('DMA_COPY must use one device for both ends and mapped attachments', async () => {
  const a = await c.create(4096);
  const b = await c.create(4096);
  const da = await c.attach(a, 'gpu');
  const db = await c.attach(b, 'isp');
  await c.map(a, da, 0);
  await rejects(c.dmaCopy(a, da, b, db, 16), 'EINVAL');
  const dg = await c.attach(b, 'gpu');
  await rejects(c.dmaCopy(a, da, b, dg, 16), 'EINVAL');
  await c.map(b, dg, 0);
  assert.equal(await c.dmaCopy(a, da, b, dg, 16), 16);
  await rejects(c.dmaCopy(a, da, b, dg, 16, { transform: 7 }), 'EINVAL');
  await rejects(c.dmaCopy(a, da, b, dg, 8192), 'EINVAL');
  await c.closeFd(a);
  await c.closeFd(b);
});
