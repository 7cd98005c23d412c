/**
 * Streaming scenarios over a real smafd: N frames through a ring of buffers, each stage one
 * device's DMA sent by its own client (so the stages run at the same time), fenced. The journal's
 * DMA events show the order the fences enforce: on every ring buffer the stages of a frame follow
 * each other, and a buffer is written again only after the last stage of the frame that used it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runBin } from './helpers/cli.ts';
import { startDaemon, type RunningDaemon } from './helpers/daemon.ts';

let d: RunningDaemon;
before(async () => {
  d = await startDaemon(['--no-dashboard']);
});
after(async () => {
  await d.stop();
});

// the ISP writes a whole frame (several slices), the GPU touches one page: unfenced, the GPU would
// run ahead of the ISP and the display ahead of both
const RING = `name: ring
steps:
  - create: { buffer: sensor, size: 1350KiB }
  - attach: { buffer: sensor, device: isp, as: sensor_isp }
  - mmap: { buffer: sensor, as: cpu, length: 4096, prot: w }
  - write: { mapping: cpu, text: "frame" }
  - pool: { name: frames, count: 3, size: 1280x720:NV12 }
  - stream:
      frames: 12
      stages:
        - { device: isp, client: camera-hal, from: sensor, writes: frames }
        - { device: gpu, client: compositor, reads: frames, writes: frames, bytes: 4096 }
        - { device: display, client: display-server, reads: frames, expect_crc_text: "frame" }
`;

test('a stream cycles frames through its ring in fence order, and reports latency per frame and throughput', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'smaf-stream-')), 'ring.yaml');
  writeFileSync(file, RING);
  const r = await runBin('smaf', ['--socket', d.socket, '--json', 'run', file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const doc = JSON.parse(r.stdout) as { steps: { action: string; stream?: { frames: number; perFrameMs: number[]; framesPerSecond: number; rings: Record<string, number>; stages: { device: string; avgMs: number }[]; latencyMs: { p50: number; max: number } } }[] };
  const s = doc.steps.find((x) => x.action === 'stream')!.stream!;
  assert.equal(s.frames, 12);
  assert.deepEqual(s.rings, { frames: 3 });
  assert.equal(s.perFrameMs.length, 12);
  assert.ok(s.perFrameMs.every((ms) => ms > 0) && s.framesPerSecond > 0);
  assert.ok(s.latencyMs.p50 <= s.latencyMs.max);
  assert.deepEqual(s.stages.map((x) => x.device), ['isp', 'gpu', 'display']);
  assert.match(JSON.stringify(doc), /the stages ran at once, in 3 clients: camera-hal, compositor, display-server/);

  const admin = await d.admin();
  const dma = (await admin.events({ kinds: ['dma'], limit: 1000 })).events;
  const creates = (await admin.events({ kinds: ['name'], limit: 100 })).events.filter((e) => /named "1280x720:NV12"/.test(e.message)).map((e) => e.buffer!);
  await admin.close();
  assert.equal(creates.length, 3, 'the ring: three frame buffers, named after their layout');
  for (const b of creates) {
    // what the devices did to this ring buffer, in the order it happened: isp wrote it, the GPU
    // read and wrote it, the display read it; then the next frame that uses it, never before
    const seq = dma.filter((e) => e.buffer === b).map((e) => e.actor);
    assert.deepEqual(seq, Array.from({ length: 4 }, () => ['isp', 'gpu', 'display']).flat(), `buffer ${b}: ${seq.join(' ')}`);
  }
  // across the ring: frame f+3 reuses frame f's buffer only after the display is done with frame f
  const order = dma.filter((e) => creates.includes(e.buffer!)).map((e) => `${e.actor}:${e.buffer}`);
  const isp = order.map((x, i) => [x, i] as const).filter(([x]) => x.startsWith('isp:'));
  const shown = order.map((x, i) => [x, i] as const).filter(([x]) => x.startsWith('display:'));
  for (let f = 3; f < 12; f++) assert.ok(isp[f]![1] > shown[f - 3]![1], `frame ${f} is written into its buffer after frame ${f - 3} was shown from it`);
});

test('a stream that names a pool it never made, or a stage that writes from nowhere, is refused before anything runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-stream-'));
  writeFileSync(join(dir, 'nopool.yaml'), 'name: x\nsteps:\n  - stream: { frames: 2, stages: [{ device: display, reads: frames }] }\n');
  const nopool = await runBin('smaf', ['--socket', d.socket, 'run', join(dir, 'nopool.yaml')]);
  assert.equal(nopool.code, 22);
  assert.match(nopool.stderr, /line 3, steps\[0\]\.stream\.stages\[0\]\.reads: no pool named "frames" is defined before this step/);
  writeFileSync(join(dir, 'nosource.yaml'), 'name: x\nsteps:\n  - pool: { name: f, count: 2, size: 4096 }\n  - stream: { frames: 2, stages: [{ device: isp, writes: f }] }\n');
  const nosource = await runBin('smaf', ['--socket', d.socket, 'run', join(dir, 'nosource.yaml')]);
  assert.equal(nosource.code, 22);
  assert.match(nosource.stderr, /a stage that only writes needs what its device reads: from: BUFFER/);
});

test('the built-in streams run side by side: the camera held while the secure video path runs, on a fragmented DRAM', async () => {
  const { spawn } = await import('node:child_process');
  const { ROOT } = await import('./helpers/daemon.ts');
  const camera = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), '--socket', d.socket, 'run', 'camera', '--hold'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  camera.stderr.on('data', (x) => (err += x));
  const exited = new Promise((r) => camera.once('exit', r));
  try {
    for (let i = 0; i < 400 && !/holding/.test(err); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(err, /holding 4 clients and their buffers until Ctrl-C/);
    const sdp = await runBin('smaf', ['--socket', d.socket, 'run', 'sdp']);
    assert.equal(sdp.code, 0, sdp.stdout + sdp.stderr);
    assert.match(sdp.stdout, /scenario passed: 36 steps/);
  } finally {
    camera.kill('SIGINT');
    assert.equal(await exited, 0);
  }
});
