/**
 * The core's allocation rules one by one: create's validation, the order and the record of a
 * decision, and the core's defence against an allocator that hands out unusable memory.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSmafError, type ErrnoName } from '../common/errors.ts';
import { Platform, type SgSegment } from '../platform/index.ts';
import { registerPlatformAllocators, testPlatformSpec, createRecordingSecureModule } from '../testing/index.ts';
import type { Allocator, Backing } from './contracts.ts';
import { Smaf } from './smaf.ts';

const fails = (code: ErrnoName, message: string | RegExp) => (e: unknown) =>
  isSmafError(e, code) && (typeof message === 'string' ? (e as Error).message === message : message.test((e as Error).message));

function bare() {
  const platform = new Platform(testPlatformSpec());
  return { platform, smaf: new Smaf(platform), dev: (n: string) => platform.device(n) };
}

function system() {
  const s = bare();
  registerPlatformAllocators(s.smaf);
  return s;
}

test('create: flags, lengths and allocator names are checked with messages that say what is allowed', () => {
  const { smaf, platform } = system();
  for (const flags of [-2, 1.5, 0x4]) {
    assert.throws(() => smaf.create(4096, { flags }), fails('EINVAL', /^invalid flags 0x.*: only SMAF_RDWR \(0x2\) and SMAF_CLOEXEC \(0x80000\) are allowed$/), String(flags));
  }
  for (const length of [-1, 1.5, NaN, -1n]) {
    assert.throws(() => smaf.create(length), fails('EINVAL', `invalid length ${String(length)}: must be a whole number of bytes`), String(length));
  }
  assert.throws(() => smaf.create(0), fails('EINVAL', 'invalid length 0: a buffer needs at least one byte'));
  assert.throws(() => smaf.create(0n), fails('EINVAL', 'invalid length 0: a buffer needs at least one byte'));
  const largest = platform.largestRegion;
  assert.equal(smaf.create(largest).length, largest, 'exactly the largest region fits');
  assert.throws(() => smaf.create(largest + 1), fails('ENOMEM', `cannot create a buffer of ${largest + 1} bytes: the largest region holds ${largest / 2 ** 20} MiB`));
  assert.equal(smaf.create(4096, { name: '' }).nameHint, undefined, 'an empty name asks for any allocator');
  assert.throws(() => smaf.create(4096, { name: 'é'.repeat(32) }), fails('EINVAL', 'allocator name is longer than 63 bytes'));
  assert.throws(() => smaf.create(4096, { name: 'x'.repeat(63) }), fails('EINVAL', /^unknown allocator "x{63}" \(registered: carveout-cam-carveout, secure-carveout, smaf-optee, system, smaf-cma, smaf-cma-low-cma\)$/));
  assert.throws(() => bare().smaf.create(4096, { name: 'system' }), fails('EINVAL', 'unknown allocator "system" (registered: none)'));
});

test('buffer ids count up, each create is logged, and a buffer is found by id until released', () => {
  const { smaf, platform } = system();
  const a = smaf.create(4096);
  const b = smaf.create(8192, { name: 'system' });
  assert.equal(b.id, a.id + 1);
  assert.deepEqual(platform.events.list({ kinds: ['create'] }).map((e) => [e.actor, e.buffer, e.length, e.message]), [
    ['core', a.id, 4096, `buffer ${a.id} created: 4 KiB, no memory yet`],
    ['core', b.id, 8192, `buffer ${b.id} created: 8 KiB, no memory yet, asks for "system"`],
  ]);
  assert.equal(smaf.buffer(b.id), b);
  b.put();
  assert.throws(() => smaf.buffer(b.id), fails('EBADF', `no live buffer ${b.id}`));
  assert.equal(smaf.maxRefs, 2 ** 31 - 1);
  assert.deepEqual([smaf.stats().buffers, smaf.stats().allocatedBuffers], [1, 0]);
  a.vmap();
  assert.deepEqual([smaf.stats().buffers, smaf.stats().allocatedBuffers], [1, 1]);
});

test('a secure buffer never has memory with a device that is not secure-capable attached, in any order of attach, secure and map', () => {
  // the rule is enforced once, by the buffer (attach and setSecure); allocation does not ask again
  const orders = [['attach', 'secure', 'map'], ['secure', 'attach', 'map'], ['attach', 'map', 'secure'], ['secure', 'map', 'attach']] as const;
  for (const order of orders) {
    const { smaf, dev } = system();
    smaf.registerSecureModule(createRecordingSecureModule());
    const b = smaf.create(4096);
    const ok = b.attach(dev('dec'));
    for (const step of order) {
      try {
        if (step === 'attach') b.attach(dev('gpu'));
        else if (step === 'secure') b.setSecure(true);
        else b.map(ok);
      } catch (e) {
        assert.ok(isSmafError(e), String(e));
      }
    }
    const plain = b.devices.filter((d) => !d.secure).map((d) => d.name);
    assert.ok(!(b.secure && plain.length > 0), `${order.join(', ')}: secure with ${plain.join(', ')} attached`);
    b.put();
  }
});

test('without a matching allocator: ENODEV, every candidate with its reason, logged', () => {
  const { smaf, platform, dev } = system();
  smaf.unregisterAllocator('smaf-cma-low-cma');
  const b = smaf.create(4096);
  assert.throws(() => b.map(b.attach(dev('legacy'))), fails('ENODEV', new RegExp(`^no memory for buffer ${b.id} \\(4 KiB, for legacy\\): carveout-cam-carveout: .+; secure-carveout: only secure buffers come from the secure carveout; smaf-optee: only secure buffers come from the TEE's SDP pool; system: legacy has no IOMMU and cannot use scattered pages; smaf-cma: .+$`)));
  const failed = platform.events.list({ kinds: ['allocate-failed'] });
  assert.equal(failed.length, 1);
  assert.deepEqual([failed[0]!.actor, failed[0]!.buffer, failed[0]!.length], ['core', b.id, 4096]);
  assert.match(failed[0]!.message, new RegExp(`^buffer ${b.id}: no memory for buffer ${b.id} `));
  const none = bare().smaf.create(4096);
  assert.throws(() => none.vmap(), fails('ENODEV', `no memory for buffer ${none.id} (4 KiB, for no device): no allocator is registered`));
  const lone = bare();
  lone.smaf.registerSecureModule(createRecordingSecureModule());
  const sec = lone.smaf.create(4096);
  sec.setSecure(true);
  sec.attach(lone.dev('dec'));
  assert.throws(() => sec.map(sec.attach(lone.dev('disp'))), fails('ENODEV', `no memory for buffer ${sec.id} (4 KiB, secure, for dec, disp): no allocator is registered`));
});

test('a name asked for at create that is gone by allocation time fails with ENODEV', () => {
  const { smaf } = system();
  const b = smaf.create(4096, { name: 'system' });
  smaf.unregisterAllocator('system');
  assert.throws(() => b.vmap(), fails('ENODEV', 'allocator "system" asked for at create is no longer registered'));
});

test('allocation is logged with its allocator, region and segments', () => {
  const { smaf, platform, dev } = system();
  const one = smaf.create(4096);
  one.map(one.attach(dev('dec')));
  const many = smaf.create(64 * 1024);
  many.map(many.attach(dev('gpu')));
  const logged = platform.events.list({ kinds: ['allocate'] });
  assert.deepEqual(logged.map((e) => [e.actor, e.buffer, e.addr, e.length]), [['smaf-cma', one.id, one.segments[0]!.phys, 4096], ['system', many.id, many.segments[0]!.phys, 65536]]);
  assert.equal(logged[0]!.message, `buffer ${one.id}: 4 KiB from smaf-cma (region cma, 1 segment) at map by dec`);
  assert.equal(logged[1]!.message, `buffer ${many.id}: 64 KiB from system (region dram, ${many.segments.length} segment${many.segments.length > 1 ? 's' : ''}) at map by gpu`);
});

/** An allocator asked first whose match or allocate misbehaves; the platform's allocators serve afterwards. */
function rogue(bad: (length: number, platform: Platform) => Backing | 'throw' | 'decline', platform: Platform, freed: Backing[], matchThrows = false): Allocator {
  return {
    name: 'rogue',
    ranking: 1000,
    match: () => {
      if (matchThrows) throw new Error('match exploded');
      return true;
    },
    allocate: (_b, length) => {
      const r = bad(length, platform);
      if (r === 'throw') throw new Error('allocate exploded');
      if (r === 'decline') return { declined: true, reason: 'not today' };
      return r;
    },
    free: (b) => void freed.push(b),
  };
}

test('the core refuses unusable memory from an allocator, says why, and gives back only what was not foreign', () => {
  const cases: { name: string; bad: (length: number, p: Platform) => Backing | 'throw' | 'decline'; reason: string; freed: boolean; secure?: boolean }[] = [
    { name: 'throws', bad: () => 'throw', reason: 'allocate() threw: allocate exploded', freed: false },
    { name: 'declines', bad: () => 'decline', reason: 'not today', freed: false },
    { name: 'no segments', bad: () => ({ allocator: 'rogue', region: 'dram', segments: [] }), reason: 'returned unusable memory: no segments', freed: true },
    { name: 'unaligned start', bad: (n) => ({ allocator: 'rogue', region: 'dram', segments: [{ phys: 0x40000100, length: n }] }), reason: 'returned unusable memory: segments are not page-aligned', freed: true },
    { name: 'unaligned length', bad: (n) => ({ allocator: 'rogue', region: 'dram', segments: [{ phys: 0x40000000, length: n - 1 }] }), reason: 'returned unusable memory: segments are not page-aligned', freed: true },
    { name: 'empty segment', bad: (n) => ({ allocator: 'rogue', region: 'dram', segments: [{ phys: 0x40000000, length: n }, { phys: 0x40100000, length: 0 }] }), reason: 'returned unusable memory: segments are not page-aligned', freed: true },
    { name: 'fractional address', bad: (n) => ({ allocator: 'rogue', region: 'dram', segments: [{ phys: 0.5, length: n }] }), reason: 'returned unusable memory: segments are not page-aligned', freed: true },
    { name: 'huge length', bad: () => ({ allocator: 'rogue', region: 'dram', segments: [{ phys: 0x40000000, length: 2 ** 60 }] }), reason: 'returned unusable memory: segments are not page-aligned', freed: true },
    { name: 'outside memory', bad: (n) => ({ allocator: 'rogue', region: 'dram', segments: [{ phys: 0x1000, length: n }] }), reason: 'returned unusable memory: segments outside physical memory', freed: false },
    { name: 'short', bad: (n) => ({ allocator: 'rogue', region: 'dram', segments: [{ phys: 0x40000000, length: n - 4096 }] }), reason: 'returned unusable memory: length 4096 instead of 8192', freed: true },
    { name: 'above the mask', bad: (n) => ({ allocator: 'rogue', region: 'low', segments: [{ phys: 0x42000000, length: n }] }), reason: 'returned unusable memory: the backing ends at 0x42001fff, above the 28-bit DMA mask of "legacy"', freed: true },
    { name: 'scattered for a device without IOMMU', bad: () => ({ allocator: 'rogue', region: 'low', segments: [{ phys: 0x0f800000, length: 4096 }, { phys: 0x0f802000, length: 4096 }] }), reason: 'returned unusable memory: the backing (rogue) has 2 physical segments and "legacy" has no IOMMU, so it needs contiguous memory', freed: true },
  ];
  for (const c of cases) {
    const { smaf, platform, dev } = system();
    const freed: Backing[] = [];
    smaf.registerAllocator(rogue(c.bad, platform, freed));
    const b = smaf.create(8192);
    b.map(b.attach(dev('legacy')));
    assert.equal(b.backing?.allocator, 'smaf-cma-low-cma', `${c.name}: the next allocator serves`);
    const rogueAnswer = b.decisions.at(-1)!.candidates[0]!;
    assert.deepEqual([rogueAnswer.allocator, rogueAnswer.verdict, rogueAnswer.reason], ['rogue', c.name === 'declines' ? 'declined' : 'rejected', c.reason], c.name);
    assert.equal(freed.length, c.freed ? 1 : 0, `${c.name}: ${c.freed ? 'its own memory goes back to it' : 'nothing to give back'}`);
    const s = smaf.registry.stats('rogue');
    assert.deepEqual([s.failures, s.declines, s.allocations], [1, c.name === 'declines' ? 1 : 0, 0], c.name);
  }
});

test('memory another buffer holds is never taken, nor given back to the allocator that offered it', () => {
  const { smaf, platform, dev } = system();
  const held = smaf.create(8192);
  held.map(held.attach(dev('dec')));
  const freed: Backing[] = [];
  smaf.registerAllocator(rogue(() => ({ allocator: 'rogue', region: 'cma', segments: held.segments.map((s) => ({ ...s })) }), platform, freed));
  const b = smaf.create(8192);
  b.map(b.attach(dev('dec')));
  assert.equal(b.decisions.at(-1)!.candidates[0]!.reason, 'returned unusable memory: memory already held by another buffer (or listed twice)');
  assert.equal(freed.length, 0);
  assert.notEqual(b.segments[0]!.phys, held.segments[0]!.phys);
});

test('a secure buffer outside the secure carveout is refused even if every device could use it', () => {
  const { smaf, platform, dev } = system();
  smaf.registerSecureModule(createRecordingSecureModule());
  const freed: Backing[] = [];
  const cma = platform.contiguousPool('cma');
  smaf.registerAllocator(rogue((n) => ({ allocator: 'rogue', region: 'cma', segments: [{ phys: cma.allocate(n, 4096, Number.MAX_SAFE_INTEGER)!, length: n }] as SgSegment[] }), platform, freed));
  const b = smaf.create(8192);
  b.setSecure(true);
  b.map(b.attach(dev('dec')));
  assert.equal(b.backing?.allocator, 'secure-carveout');
  assert.equal(b.decisions.at(-1)!.candidates[0]!.reason, 'returned unusable memory: a secure buffer must live in a secure carveout');
  assert.equal(freed.length, 1);
});

test('a secure buffer with one segment outside the secure carveout is refused too', () => {
  const { smaf, platform, dev } = system();
  smaf.registerSecureModule(createRecordingSecureModule());
  const sdp = platform.contiguousPool('sdp');
  const cma = platform.contiguousPool('cma');
  smaf.registerAllocator(rogue(() => ({ allocator: 'rogue', region: 'sdp', segments: [{ phys: sdp.allocate(4096, 4096, Number.MAX_SAFE_INTEGER)!, length: 4096 }, { phys: cma.allocate(4096, 4096, Number.MAX_SAFE_INTEGER)!, length: 4096 }] }), platform, []));
  const b = smaf.create(8192);
  b.setSecure(true);
  b.map(b.attach(dev('sec-mmu')));
  assert.equal(b.decisions.at(-1)!.candidates[0]!.reason, 'returned unusable memory: a secure buffer must live in a secure carveout');
  assert.equal(b.backing?.allocator, 'secure-carveout');
});

test('a match() that throws is a rejected candidate, not a failure of the buffer', () => {
  const { smaf, platform, dev } = system();
  smaf.registerAllocator(rogue(() => 'throw', platform, [], true));
  const b = smaf.create(4096);
  b.map(b.attach(dev('dec')));
  assert.deepEqual(b.decisions.at(-1)!.candidates[0], { allocator: 'rogue', ranking: 1000, verdict: 'rejected', reason: 'match() threw: match exploded' });
});

test('the secure module cannot be unregistered while a secure buffer lives', () => {
  const { smaf } = system();
  smaf.registerSecureModule(createRecordingSecureModule());
  smaf.create(4096);
  const s = smaf.create(4096);
  s.setSecure(true);
  assert.throws(() => smaf.unregisterSecureModule('recording'), fails('EBUSY', 'secure module "recording" still guards 1 secure buffer(s)'));
  s.put();
  smaf.unregisterSecureModule('recording');
  assert.equal(smaf.secureModule, null);
});
