import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isSmafError } from '../common/errors.ts';
import { DmaDirection } from '../core/index.ts';
import { physLimit, Platform } from '../platform/index.ts';
import { createSmafSystem } from '../testing/index.ts';
import { parseFdt, platformFromDeviceTree } from '../platform/devicetree/index.ts';
import { compileDts, loadPlatformFile } from './load.ts';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/devicetree/', import.meta.url));
const soc32 = join(FIXTURES, 'soc32.dts');
const soc64 = join(FIXTURES, 'soc64.dts');
const MiB = 1024 ** 2;

const tmp = (): string => mkdtempSync(join(tmpdir(), 'smaf-dt-'));
function overlay(text: string, tree = soc32): string {
  const dir = tmp();
  const p = join(dir, 'board.yaml');
  writeFileSync(p, `device_tree: ${tree}\n${text}`);
  return p;
}
const region = (spec: ReturnType<typeof loadPlatformFile>['spec'], name: string) => spec.memory.find((r) => r.name === name);

test('#address-cells = <1>: DRAM, memreserve, no-map firmware and mapped reserved ranges', () => {
  const { spec, format } = loadPlatformFile(soc32);
  assert.equal(format, 'dts');
  assert.deepEqual(region(spec, 'dram'), { name: 'dram', base: 0x40000000, size: 256 * MiB, kind: 'system', node: '/memory@40000000', description: 'DRAM (/memory@40000000)' });
  assert.equal(region(spec, 'memreserve-0')?.kind, 'reserved');
  assert.equal(region(spec, 'secmon@48000000')?.kind, 'reserved');
  assert.match(region(spec, 'secmon@48000000')!.description!, /no-map: secure world firmware/);
  assert.equal(region(spec, 'ramoops@48100000')?.kind, 'reserved');
  // a no-map shared-dma-pool that no device names is reserved, never handed out
  assert.equal(region(spec, 'spare-pool@4e000000')?.kind, 'reserved');
});

test('reserved ranges are never handed out: the DRAM page pool leaves them out', () => {
  const platform = new Platform(loadPlatformFile(soc32).spec);
  const pages = platform.pagePool('dram');
  const capacity = pages.capacity;
  const carved = platform.regions.filter((r) => r.kind !== 'system').reduce((n, r) => n + r.size, 0);
  assert.equal(capacity, 256 * MiB - carved);
  const segs = pages.allocate(pages.freePages * 4096)!;
  for (const s of segs) for (const r of platform.regions.filter((x) => x.kind !== 'system')) {
    assert.ok(s.phys + s.length <= r.base || s.phys >= r.base + r.size, `page ${s.phys.toString(16)} inside ${r.name}`);
  }
  assert.equal(platform.regionStats().find((r) => r.name === 'secmon@48000000')?.capacity, 0);
});

test('dynamic CMA with alloc-ranges and alignment is placed top-down inside its range (linux,cma-default = smaf-cma)', () => {
  const { spec } = loadPlatformFile(soc32);
  const cma = spec.memory.filter((r) => r.kind === 'cma');
  assert.deepEqual(cma.map((r) => [r.name, r.base, r.size]), [['linux,cma', 0x46000000, 32 * MiB]]);
  const { smaf } = createSmafSystem(spec);
  assert.equal(smaf.registry.allocator('smaf-cma')?.description?.includes('"linux,cma"'), true);
});

test('a device pool: a shared-dma-pool named in memory-region becomes that device\'s carveout', () => {
  const { spec } = loadPlatformFile(soc32);
  assert.equal(region(spec, 'vpu-pool@4c000000')?.kind, 'carveout');
  const vpu = spec.devices.find((d) => d.name === 'vpu@2000000')!;
  assert.equal(vpu.memoryRegion, 'vpu-pool@4c000000');
  assert.equal(vpu.iommu, false);
  const { smaf, platform } = createSmafSystem(spec);
  const b = smaf.create(64 * 1024);
  b.map(b.attach(platform.device('vpu@2000000')), DmaDirection.BIDIRECTIONAL);
  assert.equal(b.backing?.allocator, 'carveout-vpu-pool@4c000000');
  assert.ok(b.segments[0]!.phys >= 0x4c000000 && b.segments[0]!.phys < 0x4d000000);
});

test('DMA masters: iommus, a disabled IOMMU, dma-coherent; disabled nodes are skipped', () => {
  const { spec, dt } = loadPlatformFile(soc32);
  const names = spec.devices.map((d) => d.name);
  assert.deepEqual(names, ['vpu@2000000', 'gpu@3000000', 'dsp@5000000', 'legacy@7000000']);
  const gpu = spec.devices.find((d) => d.name === 'gpu@3000000')!;
  assert.equal(gpu.iommu, true);
  assert.equal(gpu.dmaCoherent, true);
  assert.equal(gpu.dmaMask, 32);
  assert.equal(spec.devices.find((d) => d.name === 'dsp@5000000')!.iommu, false, 'its IOMMU is disabled');
  assert.ok(!names.includes('camera@4000000'));
  assert.deepEqual(dt!.report.skipped.map((s) => s.node), ['/soc/camera@4000000']);
  assert.ok(!names.includes('display@6000000'), 'a node with neither iommus nor a pool is not a DMA master');
});

test('dma-ranges limits what a device reaches, and the mask follows the window (of_dma_configure)', () => {
  const { spec } = loadPlatformFile(soc32);
  const legacy = spec.devices.find((d) => d.name === 'legacy@7000000')!;
  assert.deepEqual(legacy.dmaRanges, [{ cpu: 0x40000000, bus: 0, size: 64 * MiB }]);
  assert.equal(legacy.dmaMask, 26);
  assert.equal(physLimit(legacy), 0x43ffffff);
  const s64 = loadPlatformFile(soc64).spec;
  const vc = s64.devices.find((d) => d.name === 'video-codec@aa00000')!;
  assert.equal(vc.dmaMask, 30);
  assert.equal(physLimit(vc), 0xbfffffff);
  // a bus without dma-ranges under a limited one: the kernel gives no limit
  const sub = s64.devices.find((d) => d.node === '/soc@0/sub/dma@1000')!;
  assert.equal(sub.dmaRanges, undefined);
  assert.equal(sub.dmaMask, 32);
  // nested windows translate through every bus up to the CPU
  const isp = s64.devices.find((d) => d.name === 'isp@3000')!;
  assert.deepEqual(isp.dmaRanges, [{ cpu: 0x90000000, bus: 0, size: 0x10000000 }]);
  assert.equal(isp.dmaMask, 28);
  assert.equal(physLimit({ ...isp, iommu: false }), 0x9fffffff);
  // a 3 GiB window: a 32-bit mask, yet neither the IOMMU nor direct DMA may pass the window's end
  const npu = s64.devices.find((d) => d.name === 'npu@2000')!;
  assert.equal(npu.dmaMask, 32);
  assert.equal(physLimit({ ...npu, iommu: false }), 0x13fffffff);
  assert.equal(new Platform(s64).iommu(npu).limit, 0xbfffffff);
  assert.equal(new Platform(s64).iommu(sub).limit, 0xffffffff);
});

test('the deferred allocation picks memory every attached real device can reach', () => {
  const path = overlay('devices:\n  blit: { node: /soc/lowbus/blitter@7100000, class: transformer }\n');
  // the tree's CMA pool lies above the blitter's 64 MiB window: refused, with the reason
  const far = createSmafSystem(loadPlatformFile(path).spec);
  const f = far.smaf.create(MiB);
  const fa = f.attach(far.platform.device('blit'));
  assert.throws(() => f.map(fa, DmaDirection.BIDIRECTIONAL), (e) => isSmafError(e, 'ENODEV') && /linux,cma \(0x46000000\) is above what "blit" can address \(0x43ffffff\)/.test(e.message));
  // a default pool the kernel's cma=8M@0x44000000 would place: below the window's end
  const { spec } = loadPlatformFile(path, { cma: { size: 8 * MiB, limit: 0x44000000 } });
  const blit = spec.devices.find((d) => d.name === 'blit')!;
  assert.equal(physLimit(blit), 0x43ffffff, 'the overlay-named node sits behind the 64 MiB window');
  const { smaf, platform } = createSmafSystem(spec);
  const b = smaf.create(MiB);
  const a = b.attach(platform.device('blit'));
  b.attach(platform.device('gpu@3000000'));
  b.map(a, DmaDirection.BIDIRECTIONAL);
  assert.equal(b.allocated, true);
  const seg = b.segments[0]!;
  assert.ok(seg.phys + b.length - 1 <= 0x43ffffff, `0x${seg.phys.toString(16)} is reachable by blit`);
  assert.equal(b.backing?.allocator, 'smaf-cma');
});

test('#address-cells = <2>: DRAM above 4 GiB, the default CMA pool placed below 4 GiB under firmware, path names on a clash', () => {
  const { spec, dt } = loadPlatformFile(soc64);
  assert.deepEqual(region(spec, 'dram'), { name: 'dram', base: 0x80000000, size: 8 * 1024 * MiB, kind: 'system', node: '/memory@80000000', description: 'DRAM (/memory@80000000)' });
  const cma = region(spec, 'cma')!;
  assert.equal(cma.kind, 'cma');
  assert.equal(cma.base, 0xfb000000, 'top-down below the no-map tz range at 0xff000000');
  assert.equal(cma.size, 64 * MiB);
  assert.equal(region(spec, 'disabled-fw@90000000'), undefined, 'a disabled reserved-memory node is ignored');
  assert.deepEqual(spec.devices.map((d) => d.name), ['npu@2000', 'video-codec@aa00000', '/soc@0/dma@1000', 'isp@3000', '/soc@0/sub/dma@1000']);
  assert.ok(dt!.report.notes.length === 0, dt!.report.notes.join('; '));
});

test('--cma SIZE@LIMIT, the overlay\'s cma, and cma= bypassing the tree\'s default pool', () => {
  const s = loadPlatformFile(soc64, { cma: { size: 128 * MiB, limit: 0xc0000000 } }).spec;
  assert.deepEqual([region(s, 'cma')!.base, region(s, 'cma')!.size], [0xb8000000, 128 * MiB]);
  // CMA rounds its size and base to a pageblock (2 MiB)
  const odd = loadPlatformFile(soc64, { cma: { size: 3 * MiB } }).spec;
  assert.deepEqual([region(odd, 'cma')!.base, region(odd, 'cma')!.size], [0xfec00000, 4 * MiB]);
  const bypass = loadPlatformFile(soc32, { cma: { size: 8 * MiB } });
  assert.equal(region(bypass.spec, 'linux,cma'), undefined);
  assert.equal(region(bypass.spec, 'cma')!.size, 8 * MiB);
  assert.match(bypass.dt!.report.notes.join('\n'), /linux,cma: bypassed, the --cma option/);
  const fromOverlay = loadPlatformFile(overlay('cma: { size: 16MiB, limit: 0xa0000000 }\n', soc64)).spec;
  assert.deepEqual([region(fromOverlay, 'cma')!.base, region(fromOverlay, 'cma')!.size], [0x9f000000, 16 * MiB]);
  assert.throws(() => loadPlatformFile(soc64, { cma: { size: 64 * 1024 * MiB } }), (e) => isSmafError(e, 'EINVAL') && /--cma: no free 64 GiB/.test(e.message));
});

test('overlay: aliases, full paths and node names all name the device; fields merge', () => {
  const path = overlay('secure_carveout: { size: 8MiB }\ndevices:\n  gpu: { node: /soc/gpu@3000000, class: gpu, dma_mask: 40 }\n  vdec: { node: /soc/vpu@2000000, class: decoder, secure: true }\n');
  const { spec, format } = loadPlatformFile(path);
  assert.equal(format, 'overlay');
  const platform = new Platform(spec);
  assert.equal(platform.device('gpu').dmaMask, 40);
  assert.equal(platform.device('/soc/gpu@3000000').name, 'gpu');
  assert.equal(platform.device('gpu@3000000').name, 'gpu');
  assert.equal(platform.device('vdec').secure, true);
  assert.equal(platform.device('vdec').memoryRegion, 'vpu-pool@4c000000');
  const sdp = region(spec, 'sdp')!;
  assert.equal(sdp.kind, 'secure-carveout');
  assert.equal(sdp.size, 8 * MiB);
  assert.throws(() => platform.device('/soc/nothing'), (e) => isSmafError(e, 'ENODEV'));
});

test('overlay errors name the overlay path and the device-tree path of every bad field', () => {
  const bad = (text: string, re: RegExp): void => {
    const p = overlay(text);
    assert.throws(() => loadPlatformFile(p), (e) => isSmafError(e, 'EINVAL') && re.test(e.message) && e.message.includes(p), `expected ${re}`);
  };
  bad('devices:\n  gpu: { node: /soc/gpu@3000000, dma_mask: 80 }\n', /devices\.gpu\.dma_mask: Too big/);
  bad('devices:\n  gpu: { node: /soc/gpu@3000000, colour: red }\n', /devices\.gpu: Unrecognized key/);
  bad('devices:\n  gpu: { node: /soc/gpu@3000000, max_segment_size: 1KiB }\n', /devices\.gpu\.max_segment_size \(node \/soc\/gpu@3000000\): must be at least the page size/);
  bad('devices:\n  cam: { node: /soc/camera@4000000 }\n', /devices\.cam\.node: \/soc\/camera@4000000 is disabled/);
  bad('devices:\n  x: { node: /soc/nope@1 }\n', /devices\.x\.node: no node \/soc\/nope@1/);
  bad('devices:\n  nosuch: { secure: true }\n', /devices\.nosuch: no DMA master .* is called "nosuch"/);
  bad('devices:\n  vdec: { node: /soc/vpu@2000000, memory_region: "linux,cma" }\n', /devices\.vdec\.memory_region \(node \/soc\/vpu@2000000\): region "linux,cma" is cma, not a carveout/);
  bad('secure_carveout: { size: 4GiB }\n', /secure_carveout: no free 4 GiB/);
  bad('secure_carveout: { size: 4MiB, base: 0x48000000 }\n', /node \/reserved-memory\/secmon@48000000: region "secmon@48000000" overlaps "sdp" \(.*board\.yaml: secure_carveout\)/);
});

test('names longer than ATTACH\'s 63 bytes are refused at load with the path', () => {
  const dir = tmp();
  const long = 'a-very-long-bus-name-that-goes-on-and-on-and-on-and-on';
  const dts = join(dir, 'long.dts');
  writeFileSync(dts, `/dts-v1/;\n/ { #address-cells = <1>; #size-cells = <1>;\n memory@0 { device_type = "memory"; reg = <0x0 0x10000000>; };\n smmu: iommu@100 { reg = <0x100 0x10>; #iommu-cells = <1>; };\n ${long}@1 { #address-cells = <1>; #size-cells = <1>; ranges; dma@10 { reg = <0x10 0x10>; iommus = <&smmu 1>; }; };\n ${long}@2 { #address-cells = <1>; #size-cells = <1>; ranges; dma@10 { reg = <0x10 0x10>; iommus = <&smmu 2>; }; };\n};\n`);
  assert.throws(() => loadPlatformFile(dts), (e) => isSmafError(e, 'EINVAL') && e.message.includes(`node /${long}@1/dma@10`) && /longer than the 63 bytes ATTACH carries/.test(e.message));
  writeFileSync(join(dir, 'ov.yaml'), `device_tree: long.dts\ndevices:\n  dma1: { node: /${long}@1/dma@10 }\n  dma2: { node: /${long}@2/dma@10 }\n`);
  assert.deepEqual(loadPlatformFile(join(dir, 'ov.yaml')).spec.devices.map((d) => d.name), ['dma1', 'dma2']);
});

test('more DRAM than the emulator models is refused with the way out, not an out-of-memory crash', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'big.dts'), '/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n memory@0 { device_type = "memory"; reg = <0x0 0x0 0x100 0x0>; };\n};\n');
  assert.throws(() => loadPlatformFile(join(dir, 'big.dts')), (e) => isSmafError(e, 'EINVAL') && /1 TiB of DRAM is more than the 64 GiB this emulator models; give a smaller "dram:"/.test(e.message));
  writeFileSync(join(dir, 'ov.yaml'), 'device_tree: big.dts\ndram: { size: 1GiB }\n');
  assert.equal(loadPlatformFile(join(dir, 'ov.yaml')).spec.memory[0]!.size, 1024 * MiB);
});

test('a missing dtc is a clear error naming Debian\'s device-tree-compiler', () => {
  assert.throws(() => loadPlatformFile(soc32, { dtc: '/nonexistent/dtc' }), (e) => isSmafError(e, 'ENOENT') && /device-tree-compiler/.test(e.message));
  const dir = tmp();
  writeFileSync(join(dir, 'bad.dts'), '/dts-v1/;\n/ { oops');
  assert.throws(() => loadPlatformFile(join(dir, 'bad.dts')), (e) => isSmafError(e, 'EINVAL') && /dtc could not compile/.test(e.message));
});

test('malformed blobs from disk are EINVAL with the file name; a YAML platform refuses --cma', () => {
  const dir = tmp();
  const p = join(dir, 'broken.dtb');
  writeFileSync(p, Uint8Array.from([0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0x10, 0]));
  assert.throws(() => loadPlatformFile(p), (e) => isSmafError(e, 'EINVAL') && e.message.includes(p) && /malformed device tree blob/.test(e.message));
  const y = join(dir, 'p.yaml');
  writeFileSync(y, 'memory: [{ name: ram, base: 0, size: 1MiB, kind: system }]\n');
  assert.equal(loadPlatformFile(y).format, 'platform');
  assert.throws(() => loadPlatformFile(y, { cma: { size: MiB } }), (e) => isSmafError(e, 'EINVAL') && /--cma applies to device-tree platforms/.test(e.message));
  assert.throws(() => loadPlatformFile(join(dir, 'none.dtb')), (e) => isSmafError(e, 'ENOENT'));
});

test('corrupted real blobs: an EINVAL-class error or a platform, never a crash, a hang or an internal error', () => {
  const good = compileDts(soc32);
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  let rejected = 0;
  for (let i = 0; i < 400; i++) {
    const b = good.slice();
    for (let k = 0; k <= rnd(3); k++) b[rnd(b.length)] = rnd(256);
    try {
      new Platform(platformFromDeviceTree(parseFdt(b), { source: 'fuzz.dtb' }).spec);
    } catch (e) {
      assert.ok(e instanceof RangeError || e instanceof TypeError, `unexpected ${String(e)}`);
      assert.doesNotMatch((e as Error).message, /Cannot read|undefined|is not a function|of null/, 'an internal error leaked');
      rejected++;
    }
  }
  assert.ok(rejected > 50, `${rejected} corruptions rejected`);
});

/** A directory holding a 0600 secret, a .dts that tries to reach it, and what it reads it through. */
function secretBeside(): { dir: string; secret: string } {
  const dir = tmp();
  const secret = join(dir, 'secret.txt');
  writeFileSync(secret, 'TOPSECRET-MODEL', { mode: 0o600 });
  return { dir, secret };
}

const DTS_HEAD = '/dts-v1/;\n/ { #address-cells = <1>; #size-cells = <1>;\n memory@40000000 { device_type = "memory"; reg = <0x40000000 0x10000000>; };\n';

test('a .dts may not read other files: /incbin/, /include/ and #include are refused wherever they point, before dtc runs', () => {
  const { dir, secret } = secretBeside();
  const outside = secretBeside();
  symlinkSync(outside.secret, join(dir, 'link.txt'));
  writeFileSync(join(dir, 'inc.dtsi'), `/ { model = /incbin/("${secret}"); };\n`);
  const cases: [string, string, RegExp][] = [
    ['beside.dts', `${DTS_HEAD} model = /incbin/("secret.txt");\n};\n`, /beside\.dts:4: \/incbin\/ is refused/],
    ['up.dts', `${DTS_HEAD} model = /incbin/("../${outside.dir.split('/').at(-1)}/secret.txt");\n};\n`, /up\.dts:4: \/incbin\/ is refused/],
    ['absolute.dts', `${DTS_HEAD} model = /incbin/("${outside.secret}", 0, 15);\n};\n`, /absolute\.dts:4: \/incbin\/ is refused/],
    ['symlink.dts', `${DTS_HEAD} model = /incbin/ ("link.txt");\n};\n`, /symlink\.dts:4: \/incbin\/ is refused/],
    ['nested.dts', `${DTS_HEAD}};\n/include/ "inc.dtsi"\n`, /nested\.dts:5: \/include\/ is refused/],
    ['cpp.dts', `#include "inc.dtsi"\n${DTS_HEAD}};\n`, /cpp\.dts:1: #include is refused/],
    ['comment.dts', `${DTS_HEAD}};\n/* /incbin/("secret.txt") */\n`, /comment\.dts:5: \/incbin\/ is refused/],
  ];
  for (const [name, text, re] of cases) {
    const path = join(dir, name);
    writeFileSync(path, text);
    assert.throws(() => loadPlatformFile(path), (e) => isSmafError(e, 'EINVAL') && re.test(e.message) && /Compile it yourself \(dtc -I dts -O dtb/.test(e.message) && !e.message.includes('TOPSECRET'), name);
    // a dtc that would read anything is never started: a missing one would be ENOENT
    assert.throws(() => loadPlatformFile(path, { dtc: '/nonexistent/dtc' }), (e) => isSmafError(e, 'EINVAL'), `${name}: refused before dtc`);
  }
});

test('dtc must have read nothing but the .dts it was given: its dependency list is checked, and the blob dropped otherwise', () => {
  const { dir, secret } = secretBeside();
  const blob = join(dir, 'good.dtb');
  writeFileSync(blob, compileDts(soc32));
  // a dtc that (as a fooled check would let it) reads another file: it lists it, as dtc -d does
  const fake = join(dir, 'fake-dtc');
  // (it takes its stdin whole first, as dtc does: a dtc that left before reading would be EPIPE)
  writeFileSync(fake, `#!/bin/sh\ncat > /dev/null\nwhile [ "$1" != "-d" ]; do shift; done\nprintf -- '-: <stdin> ${secret}\\n' > "$2"\ncat '${blob}'\n`, { mode: 0o755 });
  const dts = join(dir, 'plain.dts');
  writeFileSync(dts, `${DTS_HEAD}};\n`);
  assert.throws(() => loadPlatformFile(dts, { dtc: fake }), (e) => isSmafError(e, 'EINVAL') && /dtc read other files than .*plain\.dts \(-: <stdin> .*secret\.txt\): refused/.test(e.message));
  assert.equal(loadPlatformFile(dts).format, 'dts', 'the real dtc lists only its input');
});

test('text a platform file shows to clients is checked: a name, description or class with a control, C1 or bidi character is refused', () => {
  const dir = tmp();
  const yaml = (field: string): string => {
    const p = join(dir, 'p.yaml');
    writeFileSync(p, `name: plain\nmemory: [{ name: ram, base: 0, size: 1MiB, kind: system${field.startsWith('description') ? `, ${field}` : ''} }]\ndevices: [{ name: d, dma_mask: 32${field.startsWith('class') ? `, ${field}` : ''} }]\n`.replace('name: plain', field.startsWith('name') ? field : 'name: plain'));
    return p;
  };
  for (const [field, path, cp] of [
    ['name: "evil\\e]0;owned\\a"', /name/, 'U\\+001B'],
    ['name: "csi\\x9b2J"', /name/, 'U\\+009B'],
    ['description: "rlo \\u202e fdp.exe"', /memory\[0\]\.description/, 'U\\+202E'],
    ['class: "two\\nlines"', /devices\[0\]\.class/, 'U\\+000A'],
  ] as const) {
    assert.throws(() => loadPlatformFile(yaml(field)), (e) => isSmafError(e, 'EINVAL') && path.test(e.message) && new RegExp(`holds ${cp} at character`).test(e.message), field);
  }
  assert.equal(loadPlatformFile(yaml('name: "Café SoC 日本"')).spec.name, 'Café SoC 日本');
});

test('platform files are bounded before they are read: over 4 MiB, a FIFO or a device is refused', () => {
  const dir = tmp();
  const big = join(dir, 'big.yaml');
  writeFileSync(big, `# ${'x'.repeat(4 * MiB)}\n`);
  assert.throws(() => loadPlatformFile(big), (e) => isSmafError(e, 'EINVAL') && /big\.yaml is \d+ bytes or more, over the 4194304-byte limit/.test(e.message));
  const fifo = join(dir, 'fifo.dtb');
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => loadPlatformFile(fifo), (e) => isSmafError(e, 'EINVAL') && /fifo\.dtb is not a regular file/.test(e.message), 'a FIFO would block the read');
  assert.throws(() => loadPlatformFile('/dev/zero'), (e) => isSmafError(e, 'EINVAL') && /\/dev\/zero is not a regular file/.test(e.message), '/dev/zero would never end');
});
