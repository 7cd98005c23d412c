/** End-to-end: the smaf CLI against a real smafd, read as a user would. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Errno } from '../src/common/errors.ts';
import { ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
before(async () => {
  d = await startDaemon();
});
after(async () => {
  await d.stop();
});

function smaf(args: string[], socket = d.socket): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (x) => (stdout += x));
    p.stderr.on('data', (x) => (stderr += x));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('info --abi lists the ioctls without a daemon', async () => {
  const r = await smaf(['info', '--abi'], '/nonexistent.sock');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /SMAF_IOC_CREATE\s+0xC0805300/);
  assert.match(r.stdout, /@96\s+u8\[32\]\s+reserved2/);
  const j = await smaf(['--json', 'info', '--abi'], '/nonexistent.sock');
  assert.equal(JSON.parse(j.stdout).ioctls.length, 5);
});

test('info shows allocators, regions, devices and limits', async () => {
  const r = await smaf(['info']);
  assert.equal(r.code, 0, r.stderr);
  for (const s of ['smaf-cma', 'dram', 'sdp', 'vdec', 'crypto', '--max-client-bytes']) assert.ok(r.stdout.includes(s), s);
  const j = JSON.parse((await smaf(['--json', 'info'])).stdout);
  assert.equal(j.platform.name, 'media-soc');
});

test('run: the built-in camera and share scenarios pass', async () => {
  for (const name of ['camera', 'share']) {
    const r = await smaf(['run', name]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /scenario passed/);
  }
  const j = JSON.parse((await smaf(['--json', 'run', 'camera'])).stdout);
  assert.equal(j.ok, true);
  assert.ok(j.steps.some((s: { detail: string }) => /allocated smaf-cma/.test(s.detail)));
});

test('create --attach --map explains the choice, made once every device is attached', async () => {
  const r = await smaf(['create', '1MiB', '--attach', 'gpu,isp', '--map']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /allocated\s+system \(ranking 10\): every attached device has an IOMMU/);
  const mixed = await smaf(['create', '8MiB', '--attach', 'isp,display', '--map']);
  assert.equal(mixed.code, 0, mixed.stderr);
  assert.match(mixed.stdout, /decision at map by isp for \[isp, display\]: allocated by smaf-cma/);
});

test('a held buffer can be inspected and changed from another process by its token', async () => {
  const { spawn } = await import('node:child_process');
  const holder = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', d.socket, 'create', '64KiB', '--hold'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  holder.stdout.on('data', (x) => (out += x));
  const end = Date.now() + 20_000;
  while (!/token [0-9a-f]{32}/.test(out) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  const token = /token ([0-9a-f]{32})/.exec(out)![1]!;
  assert.match((await smaf(['stat', token])).stdout, /64 KiB, not allocated yet/);
  assert.match((await smaf(['secure', 'get', token])).stdout, /not secure/);
  assert.equal((await smaf(['secure', 'set', token, 'on'])).code, 0);
  assert.match((await smaf(['secure', 'get', token])).stdout, /^secure/);
  assert.equal((await smaf(['secure', 'set', token, 'maybe'])).code, Errno.EINVAL);
  assert.equal((await smaf(['stat', 'nothex'])).code, Errno.EINVAL);
  holder.kill('SIGINT');
  await new Promise((r) => holder.once('exit', r));
  assert.equal((await smaf(['stat', token])).code, Errno.ENOENT, 'the token died with the holder');
  const doctor = await smaf(['doctor']);
  assert.equal(doctor.code, 0);
  assert.match(doctor.stdout, /all invariants hold/);
});

test('exit codes follow errno', async () => {
  assert.equal((await smaf(['explain', '99999'])).code, Errno.EBADF);
  assert.equal((await smaf(['create', '0'])).code, Errno.EINVAL);
  assert.equal((await smaf(['create', '4096', '--name', 'ion'])).code, Errno.EINVAL);
  const missing = await smaf(['info'], '/nonexistent.sock');
  assert.equal(missing.code, Errno.ENOENT);
  assert.match(missing.stderr, /is smafd running/);
  assert.equal((await smaf(['bogus-command'])).code, Errno.EINVAL);
  assert.equal((await smaf(['--help'])).code, 0);
});
