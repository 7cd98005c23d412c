/**
 * The self-check must notice each broken invariant it claims to check (a check that always says
 * "ok" would pass every other test). Each case breaks one thing behind the core's back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Platform, permissiveFirewall, SdpCommand, type SgSegment, type TeeParam } from '../platform/index.ts';
import { registerPlatformAllocators, testPlatformSpec, createOpteeSdpModule } from '../testing/index.ts';
import { DmaDirection, type Allocator } from './contracts.ts';
import { selfCheck, type SelfCheckReport } from './self-check.ts';
import { Smaf } from './smaf.ts';

function system(spec = testPlatformSpec()) {
  const platform = new Platform(spec);
  const smaf = new Smaf(platform);
  registerPlatformAllocators(smaf);
  if (platform.sdp) smaf.registerSecureModule(createOpteeSdpModule(platform));
  return { platform, smaf, dev: (n: string) => platform.device(n) };
}

/** name -> detail of the checks that failed */
function failures(r: SelfCheckReport): Record<string, string> {
  return Object.fromEntries(r.checks.filter((c) => !c.ok).map((c) => [c.name, c.detail]));
}

const hex8 = (n: number) => `0x${n.toString(16)}`;

test('a healthy system passes every check, and says what it looked at', () => {
  const { smaf, dev } = system();
  const a = smaf.create(8192);
  a.map(a.attach(dev('dec')));
  const s = smaf.create(4096);
  s.setSecure(true);
  s.map(s.attach(dev('disp')), DmaDirection.TO_DEVICE);
  smaf.create(4096);
  const r = selfCheck(smaf);
  assert.equal(r.ok, true);
  assert.deepEqual(r.checks.map((c) => [c.name, c.ok, c.detail]), [
    ['pools match live buffers', true, '2 allocated buffers, 12288 bytes'],
    ['no shared memory between buffers', true, '2 segments, disjoint'],
    ['allocator statistics add up', true, '6 allocators'],
    ['buffer states are consistent', true, '3 buffers'],
    ['free memory is scrubbed', true, 'every byte outside live buffers is zero'],
    ['secure world is consistent', true, '1 SDP regions, CPU shut out'],
    ['no memory quarantined', true, 'every released buffer returned its memory'],
  ]);
});

test('memory taken from a pool behind the core: the pool does not match the buffers', () => {
  const { smaf, platform } = system();
  platform.contiguousPool('cma').allocate(4096, 4096, Number.MAX_SAFE_INTEGER);
  const r = selfCheck(smaf);
  assert.equal(r.ok, false);
  assert.deepEqual(failures(r), { 'pools match live buffers': 'region cma: 4096 bytes in use, live buffers hold 0' });
});

test('two buffers on the same memory are reported', () => {
  const { smaf, dev } = system();
  const a = smaf.create(4096);
  a.map(a.attach(dev('dec')));
  const b = smaf.create(4096);
  b.map(b.attach(dev('dec')));
  (b.backing!.segments as SgSegment[])[0] = { ...a.segments[0]! };
  const f = failures(selfCheck(smaf));
  assert.equal(f['no shared memory between buffers'], `buffers ${a.id} and ${b.id} share ${hex8(a.segments[0]!.phys)}`);
});

test('allocator statistics that do not add up are reported, ten at most then a count', () => {
  const { smaf } = system();
  smaf.registry.counters('system').bytesInUse += 4096;
  smaf.registry.counters('smaf-cma').buffersInUse += 1;
  assert.deepEqual(failures(selfCheck(smaf)), {
    'allocator statistics add up': 'system: 4096 bytes in use by its stats, 0 by its buffers; smaf-cma: 1 buffers by its stats, 0 live; smaf-cma: allocations - frees != buffers in use',
  });
  const { smaf: many } = system();
  const fake: Allocator = { name: 'f', ranking: 0, match: () => false, allocate: () => ({ declined: true, reason: '-' }), free: () => {} };
  for (let i = 0; i < 12; i++) {
    many.registerAllocator({ ...fake, name: `f${String(i).padStart(2, '0')}` });
    many.registry.counters(`f${String(i).padStart(2, '0')}`).bytesInUse = 1;
  }
  const { smaf: ten } = system();
  for (let i = 0; i < 10; i++) {
    ten.registerAllocator({ ...fake, name: `t${i}` });
    ten.registry.counters(`t${i}`).bytesInUse = 1;
  }
  const tenDetail = failures(selfCheck(ten))['allocator statistics add up']!;
  assert.equal(tenDetail.split('; ').length, 10);
  assert.doesNotMatch(tenDetail, /more\)$/, 'exactly ten: nothing left to count');
  const detail = failures(selfCheck(many))['allocator statistics add up']!;
  assert.equal(detail.split('; ').length, 10);
  assert.match(detail, /^f00: 1 bytes in use by its stats, 0 by its buffers; f01: .*; f09: 1 bytes in use by its stats, 0 by its buffers \(\+2 more\)$/);
});

test('inconsistent buffer states are reported', () => {
  const { smaf, dev } = system();
  const gone = smaf.create(4096);
  Object.defineProperty(gone, 'released', { get: () => true });
  Object.defineProperty(gone, 'refCount', { get: () => 0 });
  const ghost = smaf.create(4096);
  const att = ghost.attach(dev('dec'));
  att.mapping = { direction: DmaDirection.TO_DEVICE, segments: [], iova: undefined, grants: [] };
  const sec = smaf.create(4096);
  sec.map(sec.attach(dev('dec')));
  Object.defineProperty(sec, 'secure', { get: () => true });
  Object.defineProperty(sec, 'cpuMappings', { get: () => [{}] });
  assert.deepEqual(failures(selfCheck(smaf)), {
    'buffer states are consistent': [
      `buffer ${gone.id} is released but still listed`,
      `buffer ${gone.id} has 0 references`,
      `buffer ${ghost.id}: dec mapped without memory`,
      `secure buffer ${sec.id} outside the secure carveout`,
      `secure buffer ${sec.id} has CPU mappings`,
    ].join('; '),
  });
});

test('non-zero bytes in free memory are found, between live buffers and at the ends of a region', () => {
  const { smaf, platform, dev } = system();
  const cma = platform.region('cma');
  const a = smaf.create(4096);
  a.map(a.attach(dev('dec')));
  const s = a.segments[0]!;
  platform.memory.write(s.phys + 4096, Uint8Array.of(1)); // right after the buffer: free memory
  platform.memory.write(s.phys + 100, Uint8Array.of(1)); // inside the live buffer: fine
  const dram = platform.region('dram');
  // cma is carved out of dram, so the byte is found in both (each region is scanned on its own)
  assert.deepEqual(failures(selfCheck(smaf)), {
    'free memory is scrubbed': [
      `non-zero bytes in free memory of dram between ${hex8(s.phys + 4096)} and ${hex8(dram.base + dram.size)}`,
      `non-zero bytes in free memory of cma between ${hex8(s.phys + 4096)} and ${hex8(cma.base + cma.size)}`,
    ].join('; '),
  });
  platform.memory.zero(s.phys + 4096, 1);
  platform.memory.write(dram.base, Uint8Array.of(7));
  platform.memory.write(dram.base + dram.size - 1, Uint8Array.of(7));
  assert.deepEqual(failures(selfCheck(smaf)), {
    'free memory is scrubbed': [
      `non-zero bytes in free memory of dram between ${hex8(dram.base)} and ${hex8(s.phys)}`,
      `non-zero bytes in free memory of dram between ${hex8(s.phys + 4096)} and ${hex8(dram.base + dram.size)}`,
    ].join('; '),
  });
  platform.memory.zero(dram.base, 1);
  platform.memory.zero(dram.base + dram.size - 1, 1);
  assert.equal(selfCheck(smaf).ok, true);
});

test('an SDP region that no live secure buffer owns, and a firewall that lets the CPU in, are reported', () => {
  const { smaf, platform, dev } = system();
  const b = smaf.create(4096);
  b.setSecure(true);
  b.map(b.attach(dev('dec')));
  const sdp = platform.region('sdp');
  const out: TeeParam = { type: 'value', a: 0, b: 0 };
  assert.equal(platform.sdp!.invoke(SdpCommand.CREATE_REGION, [{ type: 'value', a: sdp.base + sdp.size - 8192, b: 8192 }, out]).code, 0);
  const id = (out as { a: number }).a;
  platform.bus.setFirewall(permissiveFirewall);
  assert.deepEqual(failures(selfCheck(smaf)), {
    'secure world is consistent': `SDP region ${id} (${hex8(sdp.base + sdp.size - 8192)}) has no live secure buffer; the firewall lets the CPU read secure carveout sdp`,
  });
});

test('a platform without secure memory says so', () => {
  const spec = testPlatformSpec();
  const { smaf } = system({ ...spec, memory: spec.memory.filter((m) => m.kind !== 'secure-carveout') });
  const secureWorld = selfCheck(smaf).checks.find((c) => c.name === 'secure world is consistent');
  assert.deepEqual(secureWorld, { name: 'secure world is consistent', ok: true, detail: 'no secure memory on this platform' });
});
