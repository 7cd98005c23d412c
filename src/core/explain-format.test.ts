/** `explain` as data and as the text `smaf explain` prints, for each state a buffer can be in. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Platform } from '../platform/index.ts';
import { registerPlatformAllocators, testPlatformSpec, createRecordingSecureModule } from '../testing/index.ts';
import { DmaDirection } from './contracts.ts';
import { explain, formatExplanation } from './explain.ts';
import { Smaf } from './smaf.ts';

function system() {
  const platform = new Platform(testPlatformSpec());
  const smaf = new Smaf(platform);
  registerPlatformAllocators(smaf);
  smaf.registerSecureModule(createRecordingSecureModule());
  return { platform, smaf, dev: (n: string) => platform.device(n) };
}

test('a buffer with no memory and no device yet', () => {
  const { smaf } = system();
  const b = smaf.create(5000, { name: 'system' });
  const e = explain(b);
  assert.deepEqual(
    { ...e, decisions: e.decisions.length },
    { buffer: b.id, length: 8192, secure: false, nameHint: 'system', allocated: false, allocator: null, region: null, segments: [], segmentsTotal: 0, attachments: [], cpuMappings: 0, refs: 1, decisions: 0, decisionsTotal: 0, label: null },
  );
  assert.equal(formatExplanation(e), [
    `buffer ${b.id}: 8 KiB, asks for allocator "system"`,
    '  memory: none yet (deferred until a device maps it or the CPU touches it)',
    '  attachments: none',
    '  no allocation decision yet',
  ].join('\n'));
});

test('an allocated buffer: memory, attachments (mapped or not) and every candidate asked', () => {
  const { smaf, dev } = system();
  const b = smaf.create(3 * 4096);
  const gpu = b.attach(dev('gpu'));
  b.attach(dev('sec-mmu'));
  b.map(gpu, DmaDirection.TO_DEVICE);
  b.get();
  b.vmap();
  const e = explain(b);
  assert.equal(e.allocated, true);
  assert.equal(e.allocator, 'system');
  assert.equal(e.region, 'dram');
  assert.equal(e.refs, 2);
  assert.equal(e.cpuMappings, 1);
  assert.deepEqual(e.attachments, [{ id: 0, device: 'gpu', mapped: true, direction: 'to-device' }, { id: 1, device: 'sec-mmu', mapped: false, direction: null }]);
  assert.deepEqual(e.segments, b.segments.map((s) => ({ phys: s.phys, length: s.length })));
  assert.ok(e.segments.length > 0);
  const text = formatExplanation(e).split('\n');
  const segs = e.segments.length;
  assert.equal(text[0], `buffer ${b.id}: 12 KiB`);
  assert.equal(text[1], `  memory: system in region dram, ${segs} segment${segs > 1 ? 's' : ''} starting at 0x${e.segments[0]!.phys.toString(16).padStart(8, '0')}`);
  assert.equal(text[2], '  attachments: gpu (mapped to-device), sec-mmu');
  assert.equal(text[3], '  decision at map by gpu for [gpu, sec-mmu]: allocated by system');
  assert.deepEqual(text.slice(4).map((l) => l.replace(/: .*/, '')), [
    '    no-match  carveout-cam-carveout (ranking 30)',
    '    no-match  secure-carveout (ranking 20)',
    '    no-match  smaf-optee (ranking 15)',
    '    allocated system (ranking 10)',
  ]);
  assert.equal(text.length, 8);
});

test('one segment is "segment", several are "segments"', () => {
  const { smaf, dev } = system();
  const one = smaf.create(4096);
  one.map(one.attach(dev('dec')));
  assert.match(formatExplanation(explain(one)).split('\n')[1]!, /^ {2}memory: smaf-cma in region cma, 1 segment starting at 0x[0-9a-f]{8}$/);
  const many = explain(one);
  const fake = { ...many, segments: [{ phys: 0x1000, length: 4096 }, { phys: 0x3000, length: 4096 }], segmentsTotal: 2 };
  assert.equal(formatExplanation(fake).split('\n')[1], '  memory: smaf-cma in region cma, 2 segments starting at 0x00001000');
  // a scattered buffer lists its first segments only, and says how many there are in all
  assert.equal(formatExplanation({ ...fake, segmentsTotal: 300 }).split('\n')[1], '  memory: smaf-cma in region cma, 300 segments starting at 0x00001000');
  assert.equal(formatExplanation({ ...many, segments: [], segmentsTotal: 0 }).split('\n')[1], '  memory: smaf-cma in region cma, 0 segment');
});

test('a failed decision for a secure buffer, with no device, says why', () => {
  const { smaf } = system();
  const b = smaf.create(4096);
  b.setSecure(true);
  assert.throws(() => b.vmap());
  const d = b.decisions;
  assert.equal(d.length, 0, 'a refused CPU access decides nothing');
  const failed = { ...explain(b), decisions: [{ time: 0, trigger: 'mmap by cpu', devices: [], secure: true, outcome: 'failed' as const, candidates: [{ allocator: 'system', ranking: 10, verdict: 'no-match' as const, reason: 'secure buffers live in a secure carveout' }], error: 'ENODEV: no memory' }] };
  assert.deepEqual(formatExplanation(failed).split('\n'), [
    `buffer ${b.id}: 4 KiB, secure`,
    '  memory: none yet (deferred until a device maps it or the CPU touches it)',
    '  attachments: none',
    '  decision at mmap by cpu for [no device] (secure): failed: ENODEV: no memory',
    '    no-match  system (ranking 10): secure buffers live in a secure carveout',
  ]);
});
