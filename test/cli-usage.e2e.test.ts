/** The CLI's usage contract: exit codes, JSON errors, --version, create's options, smafd's start-up errors. */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Errno } from '../src/common/errors.ts';
import { packageVersion } from '../src/uapi/version.ts';
import { runBin } from './helpers/cli.ts';
import { ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
before(async () => {
  d = await startDaemon(['--no-dashboard']);
});
after(async () => {
  await d.stop();
});
const smaf = (...args: string[]) => runBin('smaf', ['--socket', d.socket, ...args]);

test('--version on both tools; usage errors exit 22 on both', async () => {
  for (const bin of ['smaf', 'smafd'] as const) {
    const v = await runBin(bin, ['--version']);
    assert.equal(v.code, 0);
    assert.equal(v.stdout.trim(), packageVersion());
    const bogus = await runBin(bin, ['--bogus']);
    assert.equal(bogus.code, Errno.EINVAL, `${bin} --bogus: ${bogus.stderr}`);
    assert.match(bogus.stderr, /unknown option '--bogus'/);
  }
});

test('--json errors are JSON on stdout with the same exit code', async () => {
  const r = await smaf('--json', 'explain', '99999');
  assert.equal(r.code, Errno.EBADF);
  assert.deepEqual(JSON.parse(r.stdout), { error: { code: 'EBADF', errno: Errno.EBADF, message: 'no live buffer 99999, nor a released one in the journal (its last 10000 events)' } });
  const usage = await smaf('--json', 'events', '-l', '0');
  assert.equal(usage.code, Errno.EINVAL);
  assert.equal(JSON.parse(usage.stdout).error.code, 'EINVAL');
  const missing = await runBin('smaf', ['--socket', '/nonexistent.sock', '--json', 'info']);
  assert.equal(missing.code, Errno.ENOENT);
  assert.equal(JSON.parse(missing.stdout).error.errno, Errno.ENOENT);
});

test('run: a missing scenario is ENOENT naming the built-in ones', async () => {
  const r = await smaf('run', 'nosuch');
  assert.equal(r.code, Errno.ENOENT);
  assert.match(r.stderr, /no scenario file "nosuch", and it is not a built-in scenario \(built-in: camera, share, sdp\)/);
});

test('create: --map needs --attach; --direction per device; without --hold it says the buffer goes', async () => {
  const noAttach = await smaf('create', '4096', '--map');
  assert.equal(noAttach.code, Errno.EINVAL);
  assert.match(noAttach.stderr, /--map maps the buffer for its attached devices: give them with --attach/);
  const bad = await smaf('create', '4096', '--attach', 'isp', '--map', '--direction', 'sideways');
  assert.equal(bad.code, Errno.EINVAL);
  assert.match(bad.stderr, /unknown direction "sideways" \(valid: bidirectional, to-device, from-device\)/);
  assert.equal((await smaf('create', '4096', '--attach', 'isp', '--map', '--direction', 'gpu=to-device')).code, Errno.EINVAL);
  // the README's secure example: a decoder writes, the display reads
  const secure = await smaf('create', '1MiB', '--secure', '--attach', 'vdec,display', '--map', '--direction', 'vdec=from-device,display=to-device');
  assert.equal(secure.code, 0, secure.stderr);
  assert.match(secure.stdout, /allocated by secure-carveout/);
  assert.match(secure.stdout, /is released when this command exits, as a process's fds close; --hold keeps it/);
  const all = await smaf('create', '1MiB', '--secure', '--attach', 'display', '--map', '--direction', 'bidirectional');
  assert.equal(all.code, Errno.EPERM, 'a sink may not write secure memory: bidirectional is refused');
  assert.match(all.stderr, /display/);
});

test('smafd: a missing platform file is ENOENT; an explicit dashboard port that is taken is an error; a network host warns', async () => {
  const missing = await runBin('smafd', ['--socket', `${d.socket}.2`, '--platform', 'missing.yaml']);
  assert.equal(missing.code, Errno.ENOENT);
  assert.match(missing.stderr, /cannot read the platform file "missing.yaml": no such file/);
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  const taken = await runBin('smafd', ['--socket', `${d.socket}.3`, '--dashboard-port', String(port)]);
  blocker.close();
  assert.equal(taken.code, Errno.EBUSY, taken.stdout + taken.stderr);
  assert.match(taken.stderr, new RegExp(`dashboard port ${port} on 127.0.0.1 is taken \\(--dashboard-port 0 picks a free one\\)`));
  const open = await startDaemon(['--dashboard-host', '0.0.0.0', '--dashboard-port', '0']);
  const output = open.output();
  await open.stop();
  assert.match(output, /WARNING: the dashboard listens on 0\.0\.0\.0: anyone on that network who learns its token sees every client.s buffers, over plain HTTP/);
});

test('create 1920x1080:NV12 --align 64 prints the planes and creates one buffer holding them; scenarios take frames too', async () => {
  const r = await smaf('create', '1366x768:NV12', '--align', '64');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /frame 1366x768 NV12 \(Y\/UV 4:2:0, 8-bit, Y plane \+ interleaved UV plane\), modifier LINEAR; strides aligned to 64: 1622016 bytes \(1584 KiB\) in one buffer/);
  assert.match(r.stdout, /plane 0 Y\s+offset\s+0\s+stride\s+1408\s+rows\s+768\s+size\s+1081344/);
  assert.match(r.stdout, /plane 1 UV\s+offset\s+1081344\s+stride\s+1408\s+rows\s+384\s+size\s+540672/);
  assert.match(r.stdout, /buffer \d+ "1366x768:NV12,s64": 1584 KiB/, 'named after its layout');
  const bad = await smaf('create', '1920x1080:NV24');
  assert.equal(bad.code, Errno.EINVAL);
  assert.match(bad.stderr, /unknown pixel format "NV24" \(known: NV12, NV21, NV16, NV61, I420, YV12, P010, P016, YUYV, RGBA8888\)/);
  assert.equal((await smaf('create', '1920x1080:NV12', '--align', '48')).code, Errno.EINVAL);
  const cam = await smaf('run', 'camera');
  assert.equal(cam.code, 0, cam.stderr);
  assert.match(cam.stdout, /fd \d+: a 1920x1080:NV12 frame, 3110400 bytes \(3040 KiB in pages\), no memory yet/);
  const typo = await smaf('run', join(ROOT, 'test/fixtures/bad-scenario.yaml'));
  assert.equal(typo.code, Errno.EINVAL);
  assert.match(typo.stderr, /steps\[0\]: unknown action "craete" \(did you mean create\?\)/);
  assert.match(typo.stderr, /steps\[1\]\.create\.size: unknown size suffix "XB"/);
});

test('info: one aligned line per client, with its command name and pid', async () => {
  const { SmafClient } = await import('../src/client/client.ts');
  const held = await SmafClient.connect(d.socket);
  await held.hello(31337, 'gst-launch-1.0');
  await held.create(1 << 20);
  const r = await smaf('info');
  await held.close();
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.slice(r.stdout.indexOf('\nclients:')).split('\n').filter((l) => /^ {2}client \d+/.test(l));
  assert.ok(lines.length >= 2, r.stdout);
  assert.ok(lines.some((l) => /client \d+ \(gst-launch-1\.0, pid 31337\)\s+1 fds\s+1 buffers\s+1 MiB$/.test(l)), lines.join('\n'));
  assert.equal(new Set(lines.map((l) => l.indexOf(' fds'))).size, 1, 'columns aligned');
});
