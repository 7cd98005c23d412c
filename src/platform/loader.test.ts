import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { defaultPlatformSpec } from './default-platform.ts';
import { parsePlatform } from './loader.ts';

const bad = (text: string, re: RegExp) =>
  assert.throws(() => parsePlatform(text, 'p.yaml'), (e) => isSmafError(e, 'EINVAL') && re.test(e.message), `expected ${re}`);

test('the default platform has the names docs and tests rely on', () => {
  const p = defaultPlatformSpec();
  assert.deepEqual(p.memory.map((r) => r.name), ['dram', 'cma', 'sdp']);
  assert.deepEqual(p.devices.map((d) => d.name), ['vdec', 'venc', 'display', 'gpu', 'isp', 'crypto']);
  assert.equal(p.memory[0]!.size, 1024 ** 3);
  assert.equal(p.memory[2]!.size, 31 * 1024 ** 2);
  assert.equal(p.devices.find((d) => d.name === 'gpu')!.maxSegmentSize, 64 * 1024);
});

test('JSON works as well as YAML', () => {
  const p = parsePlatform(JSON.stringify({ memory: [{ name: 'ram', base: 0, size: '1MiB', kind: 'system' }], devices: [{ name: 'd', dma_mask: 32 }] }));
  assert.equal(p.memory[0]!.size, 1 << 20);
  assert.equal(p.devices[0]!.coherentDmaMask, 32);
});

test('errors name the path of the bad field', () => {
  bad('memory: [{ name: a, base: 0x1001, size: 4096, kind: system }]', /memory\[0\]\.base: 0x00001001 is not aligned/);
  bad('memory: [{ name: a, base: 0, size: 12MiQ, kind: system }]', /memory\[0\]\.size: unknown size suffix/);
  bad('memory: [{ name: a, base: 0, size: 4096, kind: flash }]', /memory\[0\]\.kind/);
  bad('memory: [{ name: a, base: 0, size: 4096, kind: system }]\ndevices: [{ name: d, dma_mask: 70 }]', /devices\[0\]\.dma_mask/);
  bad('memory: [{ name: a, base: 0, size: 4096, kind: system }]\ndevices: [{ name: d, dma_mask: 32, memory_region: zz }]', /devices\[0\]\.memory_region: unknown region "zz"/);
  bad('memory: [{ name: a, base: 0, size: 4096, kind: system }]\ndevices: [{ name: d, dma_mask: 32, memory_region: a }]', /not a carveout/);
  bad('memory: [{ name: a, base: 0, size: 4096, kind: system }]\ndevices: [{ name: d, dma_mask: 32, colour: red }]', /devices\[0\]: Unrecognized key/);
  bad('memory: []', /memory/);
  bad('memory: [{ name: a, base: 0, size: 4096, kind: system }, { name: a, base: 8192, size: 4096, kind: cma }]', /memory\[1\]\.name: duplicate region name "a"/);
  bad('{ not json', /does not parse/);
});

test('overlaps: reserved regions may sit inside DRAM, nothing else may overlap', () => {
  const ok = parsePlatform('memory: [{ name: ram, base: 0, size: 1MiB, kind: system }, { name: c, base: 0x80000, size: 64KiB, kind: cma }]');
  assert.equal(ok.memory.length, 2);
  bad('memory: [{ name: r1, base: 0, size: 1MiB, kind: system }, { name: r2, base: 0x80000, size: 1MiB, kind: system }]', /memory\[1\]: region "r2" overlaps "r1"/);
  bad('memory: [{ name: ram, base: 0, size: 1MiB, kind: system }, { name: c, base: 0xF0000, size: 1MiB, kind: cma }]', /overlaps "ram" without lying inside it/);
  bad('memory: [{ name: c1, base: 0, size: 1MiB, kind: cma }, { name: c2, base: 0x1000, size: 4096, kind: carveout }]', /region "c2" overlaps "c1"/);
});
