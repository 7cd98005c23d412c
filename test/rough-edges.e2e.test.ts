/**
 * The rough edges an operator met (issue 24), each as it was reproduced: held clients that did not
 * notice smafd going away, two JSON documents from one failed run, clients with no name, scenarios
 * that failed half-way for a name they never defined, step output that did not name its buffer,
 * explain of a released buffer, errors without their likely fix, JSON that said numbers or
 * "mapped" where it meant something else, a trace size in characters, a limits line mixing units,
 * and a usage error that printed the whole help.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Errno } from '../src/common/errors.ts';
import { runBin } from './helpers/cli.ts';
import { eventually, ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
before(async () => {
  d = await startDaemon(['--no-dashboard']);
});
after(async () => {
  await d.stop();
});

const smaf = (...args: string[]) => runBin('smaf', ['--socket', d.socket, ...args]);
const dir = mkdtempSync(join(tmpdir(), 'smaf-rough-'));

/** `smaf ARGS` left running (a --hold), with what it printed so far. */
function background(socket: string, args: readonly string[]): { p: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const p = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  p.stdout!.on('data', (x) => (text += x));
  p.stderr!.on('data', (x) => (text += x));
  return { p, out: () => text, exit: new Promise((r) => p.once('exit', r)) };
}

test('held clients notice smafd going away: create --hold and run --hold exit with ECONNRESET and say why', async () => {
  const own = await startDaemon(['--no-dashboard']);
  const create = background(own.socket, ['create', '4096', '--hold']);
  const run = background(own.socket, ['run', 'share', '--hold']);
  await eventually(async () => create.out() + run.out(), (t) => /holding buffer \d+ until Ctrl-C/.test(t) && /holding \d+ clients? and their buffers until Ctrl-C/.test(t), 20_000, 'both holding');
  await own.stop();
  // they exit at once, not "holding" on
  const within = (exit: Promise<number | null>, p: ChildProcess) => Promise.race([exit, new Promise<string>((r) => setTimeout(() => {
    p.kill('SIGKILL');
    r('still holding 5 s after smafd stopped');
  }, 5000))]);
  const codes = await Promise.all([within(create.exit, create.p), within(run.exit, run.p)]);
  assert.deepEqual(codes, [Errno.ECONNRESET, Errno.ECONNRESET]);
  assert.match(create.out(), /smaf: ECONNRESET: smafd went away while this command held buffer \d+ \(connection to smafd closed\); buffer \d+ went with it/);
  assert.match(run.out(), /smaf: ECONNRESET: smafd went away while this command held the scenario's buffers/);
});

test('smaf run X --json that fails writes one JSON document: the steps run, and the error', async () => {
  const file = join(dir, 'fails.yaml');
  writeFileSync(file, 'name: fails\nsteps:\n  - create: { buffer: a, size: 4096 }\n  - mmap: { buffer: a, as: m }\n  - read: { mapping: m, length: 4, expect_text: "nope" }\n');
  const r = await smaf('--json', 'run', file);
  assert.equal(r.code, Errno.EIO);
  const doc = JSON.parse(r.stdout) as { ok: boolean; steps: { action: string; ok: boolean }[]; error: { code: string; message: string } };
  assert.equal(doc.ok, false);
  assert.deepEqual(doc.steps.map((s) => [s.action, s.ok]), [['create', true], ['mmap', true], ['read', false]]);
  assert.equal(doc.error.code, 'EIO');
  assert.match(doc.error.message, /^step 3 \(read a, line 5\) failed: read .*, expected "nope"$/);
  // and the denials of `demo sdp --json` are in its one document
  const demo = await smaf('--json', 'demo', 'sdp');
  assert.equal(demo.code, 0, demo.stderr);
  const sdp = JSON.parse(demo.stdout) as { ok: boolean; denials: { kind: string; actor: string }[] };
  assert.equal(sdp.ok, true);
  assert.ok(sdp.denials.length >= 5 && sdp.denials.every((e) => e.kind === 'denial'), JSON.stringify(sdp.denials));
  assert.ok(sdp.denials.some((e) => e.actor === 'gpu'));
});

test('clients go by their names: create --hold says HELLO, a scenario\'s clients are named as the scenario names them', async () => {
  const create = background(d.socket, ['create', '4096', '--hold']);
  const sdp = background(d.socket, ['run', 'sdp', '--hold']);
  try {
    await eventually(async () => create.out() + sdp.out(), (t) => /holding buffer/.test(t) && /holding 2 clients/.test(t), 30_000, 'both holding');
    const ps = JSON.parse((await runBin('smaf', ['--socket', d.socket, '--json', 'ps'])).stdout) as { processes: { comm: string | null; buffers: unknown[] }[] };
    const comms = ps.processes.filter((p) => p.buffers.length > 0).map((p) => p.comm).sort();
    assert.deepEqual(comms, ['main', 'smaf create', 'thief']);
    assert.doesNotMatch((await runBin('smaf', ['--socket', d.socket, 'ps'])).stdout, /no hello/);
  } finally {
    create.p.kill('SIGINT');
    sdp.p.kill('SIGINT');
    assert.deepEqual(await Promise.all([create.exit, sdp.exit]), [0, 0]);
  }
});

test('a scenario naming what it never defined, an unknown device or a name twice is refused before anything runs, with the lines', async () => {
  const file = join(dir, 'undefined.yaml');
  writeFileSync(file, [
    'name: half-way', 'steps:',
    '  - create: { buffer: a, size: 4096 }', // line 3
    '  - attach: { buffer: a, device: gpuu, as: g }', // line 4
    '  - map: { attachment: gg }', // line 5
    '  - create: { buffer: a, size: 8192 }', // line 6
    '  - write: { mapping: m, text: "x" }', // line 7
    '  - close: { buffer: a }',
    '  - create: { buffer: a, size: 4096 }', // reusing a closed name is fine
    '',
  ].join('\n'));
  const before = (await (await d.admin()).events({ kinds: ['create'], newest: true, limit: 1 })).events[0]?.seq ?? 0;
  const r = await smaf('run', file);
  assert.equal(r.code, Errno.EINVAL);
  assert.match(r.stderr, /would fail part-way: nothing was run/);
  assert.match(r.stderr, /line 4, steps\[1\]\.attach\.device: no device "gpuu" on this platform \(devices: vdec, venc, display, gpu, isp, crypto\)/);
  assert.match(r.stderr, /line 5, steps\[2\]\.map\.attachment: no attachment named "gg" is defined before this step \(attachments: g\)/);
  assert.match(r.stderr, /line 6, steps\[3\]\.create\.buffer: "a" is already a buffer \(defined at line 3, steps\[0\]\): close it first, or pick another name/);
  assert.match(r.stderr, /line 7, steps\[4\]\.write\.mapping: no mapping named "m" is defined before this step/);
  assert.doesNotMatch(r.stderr, /steps\[6\]/, 'a name is free again once closed');
  assert.doesNotMatch(r.stdout, /1\. create/);
  const admin = await d.admin();
  assert.equal((await admin.events({ kinds: ['create'], after: before, limit: 10 })).events.length, 0, 'not one buffer was created');
  await admin.close();
});

test('step output names its buffer, `say` lines take no number, a near-miss scenario name gets "did you mean"', async () => {
  const r = await smaf('run', 'camera');
  assert.equal(r.code, 0, r.stderr);
  const numbered = r.stdout.split('\n').filter((l) => /^ +\d+\. /.test(l));
  assert.deepEqual(numbered.map((l) => Number(/^ +(\d+)\./.exec(l)![1])), numbered.map((_, i) => i + 1), 'one number per action, from 1');
  assert.match(r.stdout, /^ {2}1\. create {3}sensor \[main\] ok: /m, 'the first step is 1 although a say comes first');
  assert.match(r.stdout, /^ +\d+\. stat {5}frames\[0\] \[main\] ok: 3040 KiB, allocated by smaf-cma/m);
  assert.match(r.stdout, /^ +\d+\. stream {3}frames \[main\] ok: 30 frames through frames \(4 buffers\)/m);
  assert.match(r.stdout, new RegExp(`scenario passed: ${numbered.length} steps`));
  const typo = await smaf('run', 'cammera');
  assert.equal(typo.code, Errno.ENOENT);
  assert.match(typo.stderr, /no scenario file "cammera", and it is not a built-in scenario \(did you mean camera\?\)/);
});

test('explain of a released buffer: its story from the journal, marked as released', async () => {
  const c = await d.connect();
  const fd = await c.create(1 << 20);
  await c.setName(fd, 'gone-frame');
  await c.map(fd, await c.attach(fd, 'display'), 1);
  const id = (await c.explainFd(fd)).buffer;
  await c.closeFd(fd);
  await c.close();
  const r = await smaf('explain', String(id));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^buffer ${id} "gone-frame": 1 MiB \\(RELEASED at \\d\\d:\\d\\d:\\d\\d\\.\\d{3}: explained from the daemon's journal\\)`));
  assert.match(r.stdout, /memory: had smaf-cma in region cma, scrubbed and returned at release/);
  assert.match(r.stdout, /devices attached in its life: display/);
  assert.match(r.stdout, /decision at map by display for \[display\]: allocated by smaf-cma/);
  assert.match(r.stdout, /release +core +buffer \d+ \("gone-frame"\) released: 1 MiB scrubbed and returned to smaf-cma/);
  const json = JSON.parse((await smaf('--json', 'explain', String(id))).stdout) as { released?: { time: number }; history?: unknown[] };
  assert.ok(json.released && json.history!.length >= 5);
  // a client that never held it learns nothing: ENOENT, as for a buffer that never existed
  const own = await runBin('smaf', ['--socket', d.socket, '--admin-socket', '/nonexistent', 'explain', String(id)]);
  assert.equal(own.code, Errno.ENOENT);
});

test('an error with a likely fix names it: a secure create mapped bidirectionally says which --direction', async () => {
  const r = await smaf('create', '8MiB', '--secure', '--attach', 'vdec,display', '--map');
  assert.equal(r.code, Errno.EPERM);
  assert.match(r.stderr, /a sink \(display\) may not write secure memory; every device was mapped bidirectionally \(the default\): map each only the way its class may, e.g\. --direction vdec=bidirectional,display=to-device/);
  const fixed = await smaf('create', '8MiB', '--secure', '--attach', 'vdec,display', '--map', '--direction', 'vdec=bidirectional,display=to-device');
  assert.equal(fixed.code, 0, fixed.stderr);
});

test('JSON says what it means: directions by name, CPU and DMA mappings apart, events with their paging cursor', async () => {
  const created = JSON.parse((await smaf('--json', 'create', '4096', '--attach', 'isp,display', '--map', '--direction', 'isp=from-device,display=to-device')).stdout) as { explain: { attachments: { device: string; direction: string }[] } };
  assert.deepEqual(created.explain.attachments.map((a) => [a.device, a.direction]), [['isp', 'from-device'], ['display', 'to-device']]);
  const c = await d.connect();
  await c.hello(4747, 'ps-check');
  const fd = await c.create(4096);
  for (const dev of ['isp', 'gpu', 'display']) await c.map(fd, await c.attach(fd, dev), 1);
  const ps = JSON.parse((await smaf('--json', 'ps')).stdout) as { processes: { comm: string; buffers: { cpuMapped: boolean; dmaMapped: boolean; dmaDevices: string[] }[] }[] };
  const b = ps.processes.find((p) => p.comm === 'ps-check')!.buffers[0]!;
  assert.deepEqual(b, { ...b, cpuMapped: false, dmaMapped: true, dmaDevices: ['isp', 'gpu', 'display'] }, 'three devices DMA-map it, the CPU does not');
  await c.close();
  const first = JSON.parse((await smaf('--json', 'events', '--after', '0', '-l', '3')).stdout) as { events: { seq: number }[]; more: boolean; next: number };
  assert.equal(first.events.length, 3);
  assert.equal(first.more, true);
  assert.equal(first.next, first.events[2]!.seq);
  const second = JSON.parse((await smaf('--json', 'events', '--after', String(first.next), '-l', '3')).stdout) as { events: { seq: number }[] };
  assert.ok(second.events[0]!.seq > first.next, 'the next page starts after the cursor');
  const newest = JSON.parse((await smaf('--json', 'events', '-l', '2')).stdout) as { events: unknown[]; matched: number; next: number };
  assert.ok(newest.matched > 2 && newest.events.length === 2 && newest.next > 0);
});

test('trace export -o reports the size in bytes (a name with non-ASCII letters is more bytes than characters)', async () => {
  const c = await d.connect();
  const fd = await c.create(4096);
  await c.setName(fd, 'caméra-flux-é');
  const out = join(dir, 'trace.json');
  const r = await smaf('trace', 'export', '-o', out);
  await c.close();
  assert.equal(r.code, 0, r.stderr);
  const reported = Number(/\((\d+) bytes\)/.exec(r.stderr)![1]);
  assert.equal(reported, statSync(out).size);
  const help = await smaf('trace', 'export', '--help');
  assert.doesNotMatch(help.stdout, /chrome:\/\/tracing/);
  assert.match(help.stdout, /ui\.perfetto\.dev/);
});

test('info: limits per client and of the whole daemon apart, each in its unit; long device names keep the columns', async () => {
  const r = await smaf('info');
  const limits = r.stdout.slice(r.stdout.indexOf('limits per client'));
  assert.match(limits, /limits per client \(each connection\):\n {2}--max-client-bytes +512 MiB {2}bytes of buffers held\n/);
  assert.match(limits, /--max-client-backlog +64 MiB {2}answers queued/);
  assert.match(limits, /limits of the whole daemon:\n {2}--max-clients +2048 {2}clients connected at once\n/);
  assert.match(limits, /--max-total-backlog +256 MiB/);
  assert.match(limits, /--read-timeout +30 s {2}a request left half-sent/);
  assert.match(limits, /\(fixed\) +16777152 B {2}bytes of one READ/, 'exact: 16 MiB less 64 bytes is not "16 MiB"');
  assert.doesNotMatch(limits, /=\d{6,}|maxClientBacklog/, 'no raw numbers of bytes or field names');
  // a device-tree platform: names as long as their nodes, the columns stay aligned
  const own = await startDaemon(['--no-dashboard', '--platform', join(ROOT, 'test/fixtures/devicetree/soc64.dts')]);
  const info = await runBin('smaf', ['--socket', own.socket, 'info']);
  await own.stop();
  const devices = info.stdout.slice(info.stdout.indexOf('\ndevices:'), info.stdout.indexOf('\nlimits')).split('\n').filter((l) => /^ {2}\S/.test(l));
  assert.ok(devices.length >= 3 && devices.some((l) => /video-codec@aa00000/.test(l)), devices.join('\n'));
  assert.equal(new Set(devices.map((l) => l.search(/\d+-bit DMA/))).size, 1, `one column for the DMA width:\n${devices.join('\n')}`);
});

test('a usage error prints its one line and where help is, as git does', async () => {
  for (const [args, where] of [[['create', '4096', '--bogus'], 'smaf create'], [['bogus'], 'smaf'], [['secure', 'get'], 'smaf secure get']] as const) {
    const r = await smaf(...args);
    assert.equal(r.code, Errno.EINVAL);
    assert.equal(r.stderr.trim().split('\n').length, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: .*\\nSee '${where} --help'\\.\\n$`));
  }
  const daemon = await runBin('smafd', ['--bogus']);
  assert.equal(daemon.stderr, "error: unknown option '--bogus'\nSee 'smafd --help'.\n");
});
