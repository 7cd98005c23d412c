import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError } from '../common/errors.ts';
import { defaultPlatformSpec } from '../platform/index.ts';
import { parseTraceFile } from '../uapi/index.ts';
import { prepareRecording } from './engine.ts';
import { parseVariation, settingOf, smallestOf, sweepRow, type Setting } from './vary.ts';
import { whatIf } from './what-if.ts';

const MiB = 1 << 20;
const spec = defaultPlatformSpec();
const base: Setting = { spec, preset: {}, policy: 'deferred' };

function refused(text: string): string {
  try {
    parseVariation(text, spec);
  } catch (e) {
    assert.ok(isSmafError(e, 'EINVAL'), String(e));
    return (e as Error).message;
  }
  assert.fail(`${text} was accepted`);
}

test('values: FROM..TO[:STEP] (sizes or numbers; 16 values without a step) or a list', () => {
  assert.deepEqual(parseVariation('cma.size=8MiB..16MiB:4MiB', spec).values, [8 * MiB, 12 * MiB, 16 * MiB]);
  assert.deepEqual(parseVariation('cma.size=8MiB..15MiB:4MiB', spec).values, [8 * MiB, 12 * MiB, 15 * MiB], 'the end is always there');
  assert.equal(parseVariation('cma.size=4MiB..64MiB', spec).values.length, 16);
  assert.ok(parseVariation('cma.size=4MiB..64MiB', spec).values.every((v) => (v as number) % 4096 === 0), 'sizes step by whole pages');
  assert.deepEqual(parseVariation('sdp.size=16MiB,31MiB', spec).values, [16 * MiB, 31 * MiB]);
  assert.deepEqual(parseVariation('gpu.dma_mask=32..34', spec), { key: 'gpu.dma_mask', target: 'gpu', property: 'dma_mask', values: [32, 33, 34] });
  assert.deepEqual(parseVariation('gpu.iommu=on|off', spec).values, [true, false]);
  assert.deepEqual(parseVariation('smaf-cma.ranking=-10..30:20', spec).values, [-10, 10, 30]);
  assert.deepEqual(parseVariation('system.present=on,off', spec).values, [true, false]);
  assert.deepEqual(parseVariation('policy=deferred|eager', spec).values, ['deferred', 'eager']);
});

test('keys and values that name nothing are refused, saying what there is', () => {
  assert.match(refused('cmasize=4MiB'), /a key is <name>\.<property> or policy/);
  assert.match(refused('dram.size=1GiB'), /no region "dram" to resize \(regions: cma, sdp\)/);
  assert.match(refused('npu.iommu=on'), /no device "npu" \(devices: vdec, venc, display, gpu, isp, crypto\)/);
  assert.match(refused('ion.ranking=1'), /no allocator "ion" on this platform \(allocators: secure-carveout, .*system, smaf-cma\)/);
  assert.match(refused('gpu.colour=red'), /unknown property "colour"/);
  assert.match(refused('gpu.iommu=maybe'), /"maybe" is not on or off/);
  assert.match(refused('policy=lazy'), /"lazy" is not a policy \(deferred, eager\)/);
  assert.match(refused('cma.size=64MiB..8MiB'), /goes down/);
  assert.match(refused('cma.size=4XB'), /unknown size suffix/);
  assert.match(refused('gpu.dma_mask=8'), /8 is not a DMA mask in bits/);
  assert.match(refused('cma.size=4KiB..1GiB:4KiB'), /more than 1024 values/);
  assert.match(refused('cma'), /write KEY=FROM\.\.TO\[:STEP\] or KEY=A,B,C/);
});

test('a region keeps its end and grows at its base (reserved memory is placed top-down); a size that breaks the platform is refused', () => {
  const v = parseVariation('cma.size=16MiB..128MiB:112MiB', spec);
  const small = settingOf(base, v, 16 * MiB).spec.memory.find((m) => m.name === 'cma')!;
  assert.deepEqual({ base: small.base, size: small.size }, { base: 0x7c00_0000 - 16 * MiB, size: 16 * MiB });
  assert.equal(settingOf(base, v, 128 * MiB).spec.memory.find((m) => m.name === 'cma')!.base, 0x7c00_0000 - 128 * MiB);
  assert.throws(() => settingOf(base, parseVariation('cma.size=1GiB', spec), 1024 * MiB), /cma\.size=1 GiB: the platform with cma\.size=1 GiB is not a valid platform:\n {2}memory\[1\]: region "cma" overlaps "dram" without lying inside it/);
  const gpu = settingOf(base, parseVariation('gpu.dma_mask=32', spec), 32).spec.devices.find((d) => d.name === 'gpu')!;
  assert.deepEqual([gpu.dmaMask, gpu.coherentDmaMask], [32, 32]);
  assert.equal(settingOf(base, parseVariation('display.iommu=on', spec), true).spec.devices.find((d) => d.name === 'display')!.iommu, true);
  assert.deepEqual(settingOf(base, parseVariation('system.present=off', spec), false).preset, { without: ['system'] });
  assert.deepEqual(settingOf(base, parseVariation('smaf-cma.ranking=50', spec), 50).preset, { rankings: { 'smaf-cma': 50 } });
});

/** Three frames for the display, alive together. */
const frames = prepareRecording(parseTraceFile(`${[0, 1, 2].flatMap((i) => [
  { client: 1, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 4 * MiB, flags: 2, name: '' }, result: 0, new_fd: 3 + i },
  { client: 1, op: 'ATTACH', fd: 3 + i, args: { device: 'display' }, result: 0 },
  { client: 1, op: 'MAP', fd: 3 + i, args: { attachment: 0, direction: 1 }, result: 1 },
]).map((r) => JSON.stringify(r)).join('\n')}\n`, 'frames.jsonl'));

test('a sweep row: what fails, the first failure, peaks; the smallest value that runs it', () => {
  const v = parseVariation('cma.size=4MiB..16MiB:4MiB', spec);
  const rows = v.values.map((x) => sweepRow(frames, base, v, x));
  assert.deepEqual(rows.map((r) => [r.value, r.failed, r.peak.cma]), [[4 * MiB, 2, 4 * MiB], [8 * MiB, 1, 8 * MiB], [12 * MiB, 0, 12 * MiB], [16 * MiB, 0, 12 * MiB]]);
  assert.equal(rows[0]!.firstFailure!.seq, 6);
  assert.equal(smallestOf(v, rows), 12 * MiB);
  assert.equal(smallestOf(v, rows.slice(0, 2)), null);
  const order = parseVariation('policy=eager,deferred', spec);
  assert.equal(smallestOf(order, order.values.map((x) => sweepRow(frames, base, order, x))), 'eager', 'for a list of names, the first that runs it');
  // the display has no IOMMU: giving it one lets the system heap serve it, whatever CMA holds
  const iommu = parseVariation('display.iommu=off,on', spec);
  const tiny = settingOf(base, parseVariation('cma.size=4MiB', spec), 4 * MiB);
  assert.deepEqual(iommu.values.map((x) => sweepRow(frames, tiny, iommu, x).failed), [2, 0]);
  const present = parseVariation('smaf-cma.present=on,off', spec);
  assert.deepEqual(present.values.map((x) => sweepRow(frames, base, present, x).failed), [0, 3]);
});

test('the sweep in this thread and on worker threads gives the same rows, in value order', async () => {
  const text = `${[0, 1, 2].flatMap((i) => [
    { client: 1, op: 'SMAF_IOC_CREATE', fd: -1, args: { length: 4 * MiB, flags: 2, name: '' }, result: 0, new_fd: 3 + i },
    { client: 1, op: 'ATTACH', fd: 3 + i, args: { device: 'display' }, result: 0 },
    { client: 1, op: 'MAP', fd: 3 + i, args: { attachment: 0, direction: 1 }, result: 1 },
  ]).map((r) => JSON.stringify(r)).join('\n')}\n`;
  const variation = parseVariation('cma.size=4MiB..16MiB:4MiB', spec);
  const here = await whatIf({ text, source: 'f', base, variation }, { workers: 0 });
  const done: number[] = [];
  const there = await whatIf({ text, source: 'f', base, variation }, { workers: 2, onRow: (n) => done.push(n) });
  assert.deepEqual(there, here);
  assert.deepEqual(done, [1, 2, 3, 4]);
  assert.equal(here.smallest, 12 * MiB);
  await assert.rejects(whatIf({ text: '{"op": "NOPE", "client": 1}\n', source: 'bad', base, variation }, { workers: 1 }), /bad:1: op: unknown operation "NOPE"/);
});
