/**
 * Unmodified C programs under `smaf exec` (issue 16): the C tests of native/tests, built with the
 * system's gcc, run against a real smafd; the Node side checks what only a second party can see
 * (a device's view of the C program's bytes, `smaf ps`, regions after a SIGKILL).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import CRC32 from 'crc-32';
import { C_FLAGS, NATIVE_DIR, runCompiler } from '../src/native/build.ts';
import type { SmafClient } from '../src/client/client.ts';
import type { ProcessReport } from '../src/daemon/processes.ts';
import {
  COMM_LEN, DEVICE_FD, DMA_BUF_IOCTL_SYNC, DMA_BUF_NAME_LEN, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE, HELLO_SIZE, IOCTLS,
  MAX_FRAME, Op, opDef, opRowNamed, REQUEST_HEADER, RESPONSE_HEADER, SMAF_NAME_LEN, smafCreateData, smafInfo, smafSecureFlag, TEE_IOCTLS, teeCallOut,
  teeParam, type StructDef,
} from '../src/uapi/index.ts';
import { SMAF_CLOEXEC, SMAF_RDWR } from '../src/core/smaf.ts';
import { eventually, ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.ts';

const BIN = mkdtempSync(join(tmpdir(), 'smaf-native-test-'));
const PROGRAMS = ['smaf-uapi', 'dma-heap', 'share', 'device', 'threads', 'wire-dump', 'lifetime', 'coherence', 'fdview', 'robust', 'isolation', 'tee-sdp', 'fences'];
const exe = (name: string): string => join(BIN, name);

let d: RunningDaemon;
/** The operator's client (admin socket): it sees the C programs' buffers as well as its own. */
let c: SmafClient;
/** A second daemon without its addon: C programs take the copying path. */
let copy: RunningDaemon;
before(async () => {
  for (const p of PROGRAMS) runCompiler([...C_FLAGS, '-pthread', '-o', exe(p), join(NATIVE_DIR, 'tests', `${p}.c`)]);
  d = await startDaemon(['--no-dashboard']);
  c = await d.admin();
  copy = await startDaemon(['--no-dashboard', '--no-zero-copy']);
});
after(async () => {
  await c?.close();
  await d?.stop();
  await copy?.stop();
  rmSync(BIN, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function smafExec(args: readonly string[], env: NodeJS.ProcessEnv = {}, daemon: RunningDaemon = d): ChildProcess {
  // a hung program fails its test instead of hanging the suite (smaf exec forwards the SIGTERM)
  return spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', daemon.socket, 'exec', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env }, timeout: 120_000 });
}

function finished(p: ChildProcess): Promise<Run> {
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (b) => (stdout += b));
  p.stderr!.on('data', (b) => (stderr += b));
  return new Promise((resolve) => p.once('close', (code) => resolve({ code, stdout, stderr })));
}

function line(p: ChildProcess, re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${re}; got:\n${buf}`)), timeoutMs);
    const on = (b: Buffer): void => {
      buf += b;
      const m = buf.match(re);
      if (m) {
        clearTimeout(timer);
        p.stdout!.off('data', on);
        resolve(m);
      }
    };
    p.stdout!.on('data', on);
  });
}

/** Run a C test program under smaf exec: it must exit 0 with at least `min` checks and none failed. */
async function cTest(args: readonly string[], min: number, daemon: RunningDaemon = d): Promise<Run> {
  const r = await finished(smafExec(args, {}, daemon));
  const failed = r.stdout.split('\n').filter((l) => l.startsWith('not ok'));
  assert.deepEqual(failed, [], `failed checks:\n${failed.join('\n')}\nstderr:\n${r.stderr}`);
  // the last summary is the program's own (processes it exec'd print theirs before it)
  const m = [...r.stdout.matchAll(/^(\d+) checks, 0 failed$/gm)].at(-1);
  assert.ok(m, `no summary line; exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.ok(Number(m[1]) >= min, `only ${m[1]} checks ran (expected at least ${min})`);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

/** The process exited: every buffer it held is gone from smafd. */
async function noBuffersLeft(): Promise<void> {
  const s = await eventually(() => c.state(), (st) => st.buffers.length === 0);
  assert.deepEqual(s.buffers.map((b) => b.buffer), [], 'every buffer is released when the program is gone');
}

describe('smaf-wire.h agrees with src/uapi', () => {
  test('every op number, frame size, ioctl number, struct size and offset', () => {
    const r = spawnSync(exe('wire-dump'), { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const c2 = new Map(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));
    const expect = (name: string, value: number): void => assert.equal(c2.get(name), value, `${name} in smaf-wire.h`);
    expect('SMAF_WIRE_MAX_FRAME', MAX_FRAME);
    expect('SMAF_WIRE_REQUEST_HEADER', REQUEST_HEADER);
    expect('SMAF_WIRE_RESPONSE_HEADER', RESPONSE_HEADER);
    expect('SMAF_WIRE_DEVICE_FD', DEVICE_FD);
    for (const [name, op] of Object.entries(Op)) expect(`SMAF_OP_${name}`, op);
    const size = (op: number): number => opDef(op)!.payloadSize!;
    expect('SMAF_HELLO_SIZE', HELLO_SIZE);
    expect('SMAF_HELLO_SIZE', size(Op.HELLO));
    expect('SMAF_COMM_LEN', COMM_LEN);
    expect('SMAF_MMAP_SIZE', size(Op.MMAP));
    expect('SMAF_MUNMAP_SIZE', size(Op.MUNMAP));
    expect('SMAF_READ_SIZE', size(Op.READ));
    expect('SMAF_TOKEN_LEN', size(Op.IMPORT));
    expect('SMAF_SET_NAME_SIZE', size(Op.SET_NAME));
    expect('SMAF_WRITE_HEADER', opRowNamed('WRITE').request.struct.size);
    expect('SMAF_STAT_REPLY_SIZE', opRowNamed('STAT').reply.struct.size);
    expect('SMAF_DMA_BUF_NAME_LEN', DMA_BUF_NAME_LEN);
    expect('SMAF_NAME_LEN', SMAF_NAME_LEN);
    expect('SMAF_RDWR', SMAF_RDWR);
    expect('SMAF_CLOEXEC', SMAF_CLOEXEC);
    for (const io of IOCTLS) expect(io.name === 'DMA_BUF_IOCTL_SYNC' ? 'SMAF_DMA_BUF_IOCTL_SYNC' : io.name, io.number);
    expect('SMAF_DMA_BUF_IOCTL_SYNC', DMA_BUF_IOCTL_SYNC.number);
    // include/uapi/linux/sync_file.h, as the kernel numbers them
    expect('SMAF_SYNC_IOC_MERGE', 0xc0303e03);
    expect('SMAF_SYNC_IOC_FILE_INFO', 0xc0383e04);
    expect('SMAF_SYNC_IOC_SET_DEADLINE', 0x40103e05);
    expect('sizeof(struct smaf_sync_merge_data)', 48);
    expect('sizeof(struct smaf_sync_file_info)', 56);
    expect('sizeof(struct smaf_sync_fence_info)', 80);
    expect('SMAF_DMA_BUF_SYNC_READ', Number(DMA_BUF_SYNC_READ));
    expect('SMAF_DMA_BUF_SYNC_WRITE', Number(DMA_BUF_SYNC_WRITE));
    expect('SMAF_DMA_BUF_SYNC_END', Number(DMA_BUF_SYNC_END));
    const structs: [string, StructDef][] = [['smaf_create_data', smafCreateData], ['smaf_secure_flag', smafSecureFlag], ['smaf_info', smafInfo]];
    for (const [cName, def] of structs) {
      expect(`sizeof(struct ${cName})`, def.size);
      for (const f of def.fields) expect(`${cName}.${f.name}`, f.offset);
    }
    const field = (def: StructDef, name: string): number => def.fields.find((f) => f.name === name)!.offset;
    expect('SMAF_CREATE_DATA_FD_OFFSET', field(smafCreateData, 'fd'));
    expect('SMAF_CREATE_DATA_FLAGS_OFFSET', field(smafCreateData, 'flags'));
    expect('SMAF_SECURE_FLAG_FD_OFFSET', field(smafSecureFlag, 'fd'));
    for (const [name, number] of Object.entries(TEE_IOCTLS)) expect(`SMAF_${name}`, number);
    expect('SMAF_TEE_OPEN_SESSION_HEADER', opRowNamed('TEE_OPEN_SESSION').request.struct.size);
    expect('SMAF_TEE_INVOKE_HEADER', opRowNamed('TEE_INVOKE').request.struct.size);
    expect('sizeof(struct smaf_tee_param)', teeParam.size);
    expect('sizeof(struct smaf_tee_call_out)', teeCallOut.size);
  });
});

describe('smaf exec', () => {
  test('/dev/smaf: the v8 ioctls byte for byte, real dma-buf fds, mmap, secure, SET_NAME', async () => {
    await cTest([exe('smaf-uapi')], 50);
    await noBuffersLeft();
  });

  test('/dev/dma_heap: every heap, protected ones included with --heaps all; a heap allocates at ALLOC (ENOMEM there)', async () => {
    await cTest(['--heaps', 'all', '--', exe('dma-heap'), 'system', 'linux,cma', 'protected,secure-carveout'], 60);
    await noBuffersLeft();
  });


  test('/dev/tee0 as libteec drives it: the SDP flow of both TAs on smaf-optee and on the protected heap, 1000 rounds; out-of-bounds memrefs refused', async () => {
    await cTest(['--heaps', 'all', '--', exe('tee-sdp')], 60);
    await cTest(['--heaps', 'all', '--', exe('tee-sdp'), '50'], 60, copy);
    await noBuffersLeft();
  });

  test('by default /dev/dma_heap lists the non-secure heaps only; an unmodified ls and ls -l see them, with no error', async () => {
    const r = await finished(smafExec(['--', 'ls', '/dev/dma_heap']));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['linux,cma', 'system']);
    const long = await finished(smafExec(['--', 'ls', '-l', '/dev/dma_heap', '/dev/smaf']));
    assert.equal(long.code, 0, long.stderr);
    assert.equal(long.stderr, '', 'ls -l prints no error');
    assert.match(long.stdout, /^crw-rw-rw- .* linux,cma$/m);
    assert.match(long.stdout, /^crw-rw-rw- .* \/dev\/smaf$/m);
    const all = await finished(smafExec(['--heaps', 'linux,cma,protected', '--', 'ls', '/dev/dma_heap']));
    assert.deepEqual(all.stdout.trim().split('\n').sort(), ['linux,cma', 'protected,secure-carveout', 'protected,smaf-optee']);
    const bad = await finished(smafExec(['--heaps', 'ion', '--', 'ls']));
    assert.equal(bad.code, 22);
    assert.match(bad.stderr, /no heap named "ion"/);
  });

  test('fork, exec and SCM_RIGHTS: every process that holds the fd reaches the buffer', async () => {
    await cTest([exe('share'), 'linux,cma'], 12);
    await cTest([exe('share'), 'system'], 12);
    await noBuffersLeft();
  });

  test('threads: six threads allocating, mapping and syncing at once each get their own bytes back', async () => {
    await cTest([exe('threads'), 'system'], 1);
    await noBuffersLeft();
  });

  test('a device sees what the C program wrote, the C program sees what a device wrote; smaf ps shows it', async () => {
    const p = smafExec([exe('device')]);
    const done = finished(p);
    const token = Uint8Array.from(Buffer.from((await line(p, /^token ([0-9a-f]{32})$/m))[1]!, 'hex'));

    // smaf ps: the C process, announced by the library, holding its named, mapped buffer
    const ps = JSON.parse(spawnSync(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', d.socket, '--json', 'ps'], { encoding: 'utf8' }).stdout) as ProcessReport;
    const proc = ps.processes.find((x) => x.comm === 'device');
    assert.ok(proc, `the C process is listed: ${JSON.stringify(ps.processes.map((x) => x.comm))}`);
    assert.ok(proc.pid !== null && proc.pid > 0);
    assert.deepEqual(proc.buffers.map((b) => ({ size: b.size, name: b.name, allocator: b.allocator, cpuMapped: b.cpuMapped })), [{ size: 65536, name: 'c-frame', allocator: 'smaf-cma', cpuMapped: true }]);
    assert.deepEqual(proc.totals, { buffers: 1, bytes: 65536, cpuMappedBytes: 65536 });
    assert.ok(ps.allocators.some((a) => a.allocator === 'smaf-cma' && a.bytes >= 65536));

    // a device attached through the daemon reads the C program's bytes (DMA through the bus)
    const fd = await c.importToken(token);
    const gpu = await c.attach(fd, 'gpu');
    await c.map(fd, gpu, 0);
    const expected = new Uint8Array(65536).map((_, i) => (i * 3) & 0xff);
    expected.set(new TextEncoder().encode('hello from C'));
    assert.equal(await c.dmaCrc(fd, gpu, 0, 65536), CRC32.buf(expected) >>> 0, 'the device reads exactly what the C program wrote');
    assert.equal((await c.explainFd(fd)).label, 'c-frame', 'the name shows in explain');

    // and writes bytes the C program then reads after SYNC START
    const src = await c.create(4096);
    const srcGpu = await c.attach(src, 'gpu');
    await c.map(src, srcGpu, 0);
    const m = await c.mmap(src, 0, 4096, 3);
    await c.write(src, m, 0, new TextEncoder().encode('hello from the GPU'));
    assert.equal(await c.dmaCopy(fd, gpu, src, srcGpu, 18, { dstOffset: 4096 }), 18);
    p.stdin!.write('check\n');
    const r = await done;
    assert.doesNotMatch(r.stdout, /^not ok/m, r.stdout);
    assert.match(r.stdout, /the CPU sees what the device wrote at 4096/);
    assert.equal(r.code, 0, r.stderr);
    await c.closeFd(src);
    await c.closeFd(fd);
    await noBuffersLeft();
  });

  test('a C program killed with SIGKILL leaves every region as free as before', async () => {
    const before = (await c.state()).regions.map((r) => ({ name: r.name, inUse: r.inUse }));
    const p = smafExec(['--', exe('device'), '--hold', 'system', 'linux,cma']);
    const done = finished(p);
    const pid = Number((await line(p, /^ready (\d+)$/m))[1]);
    const held = await c.state();
    assert.ok(held.buffers.length >= 7, `the program holds its buffers (${held.buffers.length})`);
    assert.ok(held.regions.some((r, i) => r.inUse > before[i]!.inUse), 'and their memory');
    process.kill(pid, 'SIGKILL');
    const r = await done;
    assert.equal(r.code, 137, 'smaf exec exits as the program did (128 + SIGKILL)');
    const after = await eventually(() => c.state(), (s) => s.buffers.length === 0);
    assert.deepEqual(after.regions.map((x) => ({ name: x.name, inUse: x.inUse })), before);
    const check = await c.check();
    assert.equal(check.ok, true, `the daemon self-check holds: ${JSON.stringify(check.checks.filter((x) => !x.ok))}`);
  });

  test('the README example: a frame from linux,cma, named, seen by smafd while the program holds it', async () => {
    const src = join(ROOT, 'examples/camera-frame.c');
    assert.ok(readFileSync(join(ROOT, 'README.md'), 'utf8').includes(readFileSync(src, 'utf8')), 'the README quotes examples/camera-frame.c as it is');
    runCompiler(['-Wall', '-Wextra', '-Werror', '-o', exe('camera-frame'), src]);
    const p = smafExec(['--', exe('camera-frame'), '2']);
    const done = finished(p);
    await line(p, /^dma-buf fd \d+: 3110400 bytes from linux,cma/m);
    const b = (await c.state()).buffers.find((x) => x.label === 'camera-frame');
    assert.ok(b, 'the dashboard state lists the named frame');
    assert.equal(b.allocator, 'smaf-cma');
    assert.equal(b.length, 3112960);
    assert.equal(b.cpuMappings, 1);
    assert.equal((await done).code, 0);
    await noBuffersLeft();
  });

  test('a static binary: smaf exec warns that it cannot reach it, and runs it', async () => {
    runCompiler(['-static', '-o', exe('static-hello'), join(NATIVE_DIR, 'tests', 'hello.c')]);
    const r = await finished(smafExec(['--', exe('static-hello')]));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /static-hello is statically linked: the preload library cannot reach it/);
    const dyn = await finished(smafExec(['--', 'true']));
    assert.doesNotMatch(dyn.stderr, /statically linked/);
  });

  test('no daemon: smaf exec says so and exits ENOENT, without running the program', async () => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', join(BIN, 'nobody.sock'), 'exec', '--', 'touch', join(BIN, 'ran')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = await finished(p);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot reach smafd at .*nobody\.sock.*npx smafd/);
    assert.equal(r.stderr.match(/npx smafd/g)?.length, 1, 'the hint once');
    assert.equal(spawnSync('test', ['-e', join(BIN, 'ran')]).status, 1, 'the program did not run');
  });

  test('lifetime: a dma-buf lives while any process holds an fd, a mapping or an in-flight fd of it; then it is freed and scrubbed', async () => {
    const before = (await c.state()).regions.map((r) => ({ name: r.name, inUse: r.inUse }));
    const p = smafExec(['--', exe('lifetime'), 'system']);
    const done = finished(p);
    const live: Record<string, number> = { sent: 1, received: 0, forked: 1, child: 0, unread: 0, killed: 0 };
    for (const [step, n] of Object.entries(live)) {
      await line(p, new RegExp(`^wait ${step}$`, 'm'));
      const s = await eventually(() => c.state(), (st) => st.buffers.length === n, 10_000, `${n} buffer(s) at "${step}"`);
      assert.equal(s.buffers.length, n, step);
      if (n === 0) assert.deepEqual(s.regions.map((r) => ({ name: r.name, inUse: r.inUse })), before, `counted free in smaf info at "${step}"`);
      p.stdin!.write('\n');
    }
    const r = await done;
    assert.doesNotMatch(r.stdout, /^not ok/m, r.stdout);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await c.check()).ok, true, 'the self-check holds: free memory is scrubbed');
  });

  test('implicit fences: SYNC START waits for the device work in its way, sync files wait as the kernel\'s, an imported write fence holds readers back', async () => {
    await cTest([exe('fences'), 'system'], 68);
    await noBuffersLeft();
  });

  test('coherence: a write through a mapping is what devices and every other mapping see, with or without SYNC', async () => {
    await cTest([exe('coherence'), 'system'], 14);
    await cTest([exe('coherence'), 'linux,cma'], 14);
    await noBuffersLeft();
  });

  test('the fd looks like a dma-buf: /proc views, stat family, read/write, poll and epoll, sync files, access modes, EFAULT, errnos', async () => {
    await cTest(['--heaps', 'all', '--', exe('fdview')], 55);
    await noBuffersLeft();
  });

  test('smaf ps and another process reading /proc/PID/fdinfo of a C program agree', async () => {
    const p = smafExec([exe('device')]);
    const done = finished(p);
    await line(p, /^token [0-9a-f]{32}$/m);
    const ps = JSON.parse(spawnSync(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', d.socket, '--json', 'ps'], { encoding: 'utf8' }).stdout) as ProcessReport;
    const proc = ps.processes.find((x) => x.comm === 'device')!;
    const pid = proc.pid!;
    const all = await finished(smafExec(['--', 'sh', '-c', `for f in /proc/${pid}/fdinfo/*; do cat "$f"; echo ---; done`]));
    const dmabufs = all.stdout.split('---\n').filter((t) => /^exp_name:/m.test(t));
    assert.equal(dmabufs.length, 1, 'one fd of the program is a dma-buf');
    const info = dmabufs[0]!;
    const b = proc.buffers[0]!;
    assert.match(info, new RegExp(`^size:\\t${b.size}$`, 'm'));
    assert.match(info, new RegExp(`^name:\\t${b.name}$`, 'm'));
    assert.match(info, /^exp_name:\tlinux,cma$/m);
    assert.equal(b.allocator, 'smaf-cma');
    p.stdin!.write('stop\n');
    await done;
    await noBuffersLeft();
  });

  test('the library cannot hang or crash its host: signal handlers, forged memfds', async () => {
    await cTest([exe('robust')], 7);
    await cTest([exe('robust')], 7, copy);
  });

  test('a daemon that stops answering: the call fails with EIO within the timeout, the program goes on', async () => {
    const hung = await startDaemon(['--no-dashboard']);
    try {
      const p = smafExec(['--', exe('robust'), '--hung'], { SMAF_TIMEOUT_MS: '1500' }, hung);
      const done = finished(p);
      await line(p, /^ready$/m);
      hung.proc.kill('SIGSTOP');
      p.stdin!.write('go\n');
      const r = await done;
      hung.proc.kill('SIGCONT');
      assert.doesNotMatch(r.stdout, /^not ok/m, r.stdout);
      assert.match(r.stdout, /2 checks, 0 failed/);
    } finally {
      hung.proc.kill('SIGCONT');
      await hung.stop();
    }
  });

  test('zero-copy isolation, tried from C by an unprivileged attacker: only the pages of buffers it holds', async () => {
    // an attacker is not root (root reads any process's memory): as root, smafd and the attacker run as nobody
    const dir = mkdtempSync(join(tmpdir(), 'smaf-attacker-'));
    chmodSync(dir, 0o777);
    const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups'] : [];
    const env = { ...process.env, HOME: dir, XDG_CACHE_HOME: join(dir, 'cache'), XDG_RUNTIME_DIR: '', SMAF_CACHE_DIR: join(dir, 'cache') };
    const run = (args: string[]): ChildProcess => spawn(asUser[0] ?? args[0]!, [...asUser.slice(1), ...(asUser.length ? args : args.slice(1))], { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 120_000 });
    const socket = join(dir, 'smaf.sock');
    const daemon = run([process.execPath, join(ROOT, 'bin/smafd.js'), '--socket', socket, '--no-dashboard']);
    try {
      const ready = await line(daemon, /C programs \(smaf exec\): \S+, zero-copy/m, 60_000);
      assert.ok(ready);
      copyFileSync(exe('isolation'), join(dir, 'isolation'));
      const r = await finished(run([process.execPath, join(ROOT, 'bin/smaf.js'), '--socket', socket, 'exec', '--heaps', 'all', '--', join(dir, 'isolation'), String(daemon.pid)]));
      const failed = r.stdout.split('\n').filter((l) => l.startsWith('not ok'));
      assert.deepEqual(failed, [], `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /29 checks, 0 failed/);
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((resolve) => daemon.once('close', resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('copy mode (smafd without its addon): the same uapi, heaps, sharing and threads, bytes copied at SYNC', async () => {
    await cTest([exe('smaf-uapi')], 50, copy);
    await cTest(['--heaps', 'all', '--', exe('dma-heap'), 'system', 'linux,cma', 'protected,secure-carveout'], 60, copy);
    await cTest([exe('share'), 'system'], 12, copy);
    await cTest([exe('threads'), 'system'], 1, copy);
  });

  test('no C compiler: a message naming the package to install', async () => {
    const r = await finished(smafExec(['--', 'true'], { CC: join(BIN, 'no-such-cc'), SMAF_CACHE_DIR: join(BIN, 'cache') }));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no C compiler .*apt-get install build-essential/);
  });
});
