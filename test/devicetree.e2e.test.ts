/**
 * End to end: smafd on device-tree platforms. The fixture tests always run (they need dtc, from
 * Debian's device-tree-compiler); the real-board tests read Debian's arm64 kernel .dtb files from
 * $SMAF_DTB_DIR (default ~/dtbs), which `npm test` fetches first (scripts/fetch-dtbs): a board that
 * is absent fails the run, it never skips.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { test } from 'node:test';
import { convertPlatform } from '../src/cli/platform-command.ts';
import { isSmafError } from '../src/common/errors.ts';
import { parsePlatform } from '../src/platform/index.ts';
import { dtbDir, loadPlatformFile } from '../src/platform-file/load.ts';
import { ROOT, startDaemon } from './helpers/daemon.ts';

const DTB_DIR = dtbDir();
process.env.SMAF_DTB_DIR = DTB_DIR;
const BOARDS = ['qcom/sdm845-db845c.dtb', 'amlogic/meson-g12b-a311d-khadas-vim3.dtb', 'rockchip/rk3399-rockpro64.dtb', 'hisilicon/hi3660-hikey960.dtb'];

/** The real boards are there (scripts/fetch-dtbs put them there before the tests): else the test fails. */
function requireBoards(): void {
  const missing = BOARDS.filter((b) => !existsSync(join(DTB_DIR, b)));
  assert.deepEqual(missing, [], `real-board .dtb files absent from ${DTB_DIR}: run scripts/fetch-dtbs (npm test does), or see "Your own SoC" in the README`);
}

function smaf(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/smaf.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (x) => (out += x));
    p.stderr.on('data', (x) => (out += x));
    p.on('exit', (code) => resolve({ code, out }));
  });
}

test('smafd --platform a .dts with an overlay: create, attach, map, DMA; reserved ranges shown, never handed out', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smaf-dt-e2e-'));
  const ov = join(dir, 'board.yaml');
  writeFileSync(ov, `device_tree: ${join(ROOT, 'test/fixtures/devicetree/soc32.dts')}\nsecure_carveout: { size: 8MiB }\ndevices:\n  vdec: { node: /soc/vpu@2000000, class: decoder, secure: true }\n  gpu: { node: /soc/gpu@3000000, class: gpu }\n`);
  const d = await startDaemon(['--no-dashboard', '--platform', ov]);
  const c = await d.connect();
  try {
    assert.match(d.output(), /4 reserved ranges/);
    const fd = await c.create(1 << 20);
    const a = await c.attach(fd, 'vdec');
    const g = await c.attach(fd, '/soc/gpu@3000000');
    const segs = await c.map(fd, a, 0);
    await c.map(fd, g, 0);
    assert.equal((await c.stat(fd)).allocator, 'carveout-vpu-pool@4c000000', 'the decoder\'s own pool');
    assert.ok(segs[0]!.dma >= 0x4c000000n && segs[0]!.dma < 0x4d000000n);
    const src = await c.create(1 << 20);
    const sa = await c.attach(src, 'gpu');
    await c.map(src, sa, 0);
    await assert.rejects(c.dmaCopy(fd, a, src, sa, 4096), (e) => isSmafError(e, 'EINVAL'), 'attachments of two devices');
    await assert.rejects(c.attach(fd, '/soc/camera@4000000'), (e) => isSmafError(e, 'ENODEV'), 'a disabled node is no device');
    const st = await c.state();
    const reserved = st.regions.filter((r) => r.kind === 'reserved');
    assert.deepEqual(reserved.map((r) => r.name).sort(), ['memreserve-0', 'ramoops@48100000', 'secmon@48000000', 'spare-pool@4e000000']);
    for (const b of st.buffers) for (const s of b.segments) for (const r of reserved) assert.ok(s.phys + s.length <= r.base || s.phys >= r.base + r.size);
    const info = await smaf(['--socket', d.socket, 'info']);
    assert.match(info.out, /secmon@48000000 +reserved .* never handed out: no-map: secure world firmware/);
  } finally {
    await c.close();
    await d.stop();
  }
});

test('smaf platform show and convert work without a daemon; a malformed blob is a clear EINVAL', async () => {
  const show = await smaf(['platform', 'show', join(ROOT, 'test/fixtures/devicetree/soc64.dts')]);
  assert.equal(show.code, 0, show.out);
  assert.match(show.out, /cma +cma +0xfb000000-0xfeffffff +64 MiB +default CMA pool: 64 MiB top-down below 0x100000000/);
  assert.match(show.out, /tz@ff000000 +0xff000000-0xffffffff +16 MiB +no-map/);
  assert.match(show.out, /video-codec@aa00000 +30-bit +IOMMU/);
  const json = JSON.parse((await smaf(['--json', 'platform', 'show', join(ROOT, 'test/fixtures/devicetree/soc64.dts')])).out);
  assert.equal(json.format, 'dts');
  assert.equal(json.report.devices.length, 5);
  const dir = mkdtempSync(join(tmpdir(), 'smaf-dt-e2e-'));
  writeFileSync(join(dir, 'bad.dtb'), Uint8Array.from([0xde, 0xad, 0xbe, 0xef, ...new Array(60).fill(0)]));
  const bad = await smaf(['platform', 'show', join(dir, 'bad.dtb')]);
  assert.equal(bad.code, 22);
  assert.match(bad.out, /EINVAL: .*bad\.dtb: malformed device tree blob: bad magic 0xdeadbeef/);
});

test('real boards: smafd --platform board.dtb starts on each, and platform show understands them', async () => {
  requireBoards();
  for (const board of BOARDS) {
    const d = await startDaemon(['--no-dashboard', '--platform', join(DTB_DIR, board)]);
    assert.match(d.output(), /listening on/, board);
    await d.stop();
  }
  for (const board of [...BOARDS.map((b) => join(DTB_DIR, b)), join(ROOT, 'platforms/db845c.yaml'), join(ROOT, 'platforms/khadas-vim3.yaml'), join(ROOT, 'platforms/rockpro64.yaml')]) {
    const loaded = loadPlatformFile(board);
    assert.deepEqual(parsePlatform(convertPlatform(board, loaded), 'converted'), loaded.spec, `convert round trip of ${board}`);
  }
  // the README's "Your own SoC" shows this very output
  const shown = (await smaf(['platform', 'show', join(DTB_DIR, BOARDS[1]!)])).out.replaceAll(`${DTB_DIR}/`, '~/dtbs/').trim();
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.ok(readme.includes(shown), `README block out of date; smaf platform show prints:\n${shown}`);
  const vim3 = JSON.parse((await smaf(['--json', 'platform', 'show', join(DTB_DIR, BOARDS[1]!)])).out);
  const cma = vim3.platform.memory.find((r: { kind: string }) => r.kind === 'cma');
  assert.equal(cma.name, 'linux,cma');
  assert.equal(Number(cma.size), 256 * 1024 * 1024);
  assert.deepEqual(vim3.platform.memory.filter((r: { kind: string }) => r.kind === 'reserved').map((r: { name: string }) => r.name), ['secmon@5000000', 'secmon@5300000']);
  const db = JSON.parse((await smaf(['--json', 'platform', 'show', join(DTB_DIR, BOARDS[0]!)])).out);
  assert.ok(db.report.devices.filter((x: { iommu: boolean }) => x.iommu).length >= 25, 'the Qualcomm board has many masters behind its SMMU');
  assert.ok(db.report.devices.some((x: { node: string }) => x.node === '/soc@0/video-codec@aa00000'));
});

test('real board: DragonBoard 845c with its overlay runs the decoder -> display/GPU path and the SDP demo', async () => {
  requireBoards();
  const d = await startDaemon(['--no-dashboard', '--platform', join(ROOT, 'platforms/db845c.yaml')]);
  const c = await d.connect();
  try {
    const fd = await c.create(1 << 20);
    const atts = [await c.attach(fd, 'vdec'), await c.attach(fd, 'display'), await c.attach(fd, '/soc@0/gpu@5000000')];
    for (const a of atts) assert.ok((await c.map(fd, a, 0)).length >= 1);
    const m = await c.mmap(fd, 0, 4096, 3);
    await c.write(fd, m, 0, new TextEncoder().encode('frame 0001'));
    const out = await c.create(1 << 20);
    const oa = await c.attach(out, 'vdec');
    await c.map(out, oa, 0);
    assert.equal(await c.dmaCopy(out, oa, fd, atts[0]!, 10), 10);
    const om = await c.mmap(out, 0, 4096, 1);
    assert.equal(new TextDecoder().decode(await c.read(out, om, 0, 10)), 'frame 0001');
    // the GPU copies the decoded frame back at an offset; the display checks it by CRC
    const og = await c.attach(out, 'gpu');
    await c.map(out, og, 0);
    assert.equal(await c.dmaCopy(fd, atts[2]!, out, og, 10, { dstOffset: 4096 }), 10);
    assert.equal(await c.dmaCrc(fd, atts[1]!, 4096, 10), crc32(new TextEncoder().encode('frame 0001')));
    assert.equal((await c.explainFd(fd)).allocator, 'system', 'every attached master is behind the SMMU: scattered pages');
    const st = await c.state();
    assert.ok(st.regions.some((r) => r.name === 'tz@86200000' && r.kind === 'reserved'));
    await c.closeFd(fd);
    await c.closeFd(out);
    const demo = await smaf(['--socket', d.socket, 'demo', 'sdp']);
    assert.equal(demo.code, 0, demo.out);
    assert.match(demo.out, /scenario passed/);
    assert.match(demo.out, /memory from secure-carveout/);
    const share = await smaf(['--socket', d.socket, 'run', 'share']);
    assert.equal(share.code, 0, share.out);
    const doctor = await smaf(['--socket', d.socket, 'doctor']);
    assert.match(doctor.out, /all invariants hold/);
  } finally {
    await c.close();
    await d.stop();
  }
});
