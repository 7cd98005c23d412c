/**
 * Self-check: verifies the invariants of a live SMAF instance without changing it (`smaf doctor`,
 * the property tests and the fuzzers call it). Every problem is reported with what was expected.
 */
import type { Platform } from '../platform/index.ts';
import type { Smaf } from './smaf.ts';

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface SelfCheckReport {
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
}

/** A live buffer's segment, with the buffer's id. */
interface Segment {
  readonly phys: number;
  readonly length: number;
  readonly id: number;
}

type Buffer = Smaf['buffers'][number];

/** What holds memory: a live buffer, or a quarantined backing (id -1). */
interface Holding {
  readonly id: number;
  readonly length: number;
  readonly segments: readonly { readonly phys: number; readonly length: number }[];
  readonly allocator: string;
}

export function selfCheck(smaf: Smaf): SelfCheckReport {
  const live = smaf.buffers.filter((b) => b.backing);
  const held: Holding[] = [
    ...live.map((b) => ({ id: b.id, length: b.length, segments: b.segments, allocator: b.backing!.allocator })),
    ...smaf.quarantinedBackings.map((q) => ({ id: -1, length: q.length, segments: q.backing.segments, allocator: q.backing.allocator })),
  ];
  const segs = held.flatMap((h) => h.segments.map((s) => ({ ...s, id: h.id }))).sort((a, b) => a.phys - b.phys);
  const checks: CheckResult[] = [
    checkPools(smaf.platform, held),
    checkDisjoint(segs),
    checkAllocatorStats(smaf, held),
    checkBufferStates(smaf.platform, smaf.buffers),
    checkScrubbed(smaf.platform, segs),
    checkSecureWorld(smaf.platform, live),
    checkQuarantine(smaf),
  ];
  return { ok: checks.every((c) => c.ok), checks };
}

/** 7. no memory was kept out of use after a secure module failed to tear a buffer down */
function checkQuarantine(smaf: Smaf): CheckResult {
  const q = smaf.quarantinedBackings;
  const problems = q.map((x) => `${x.length} bytes of ${x.backing.region} quarantined: ${x.why}`);
  return result('no memory quarantined', problems, 'every released buffer returned its memory');
}

function result(name: string, problems: readonly string[], okDetail: string): CheckResult {
  return { name, ok: problems.length === 0, detail: problems.length ? problems.slice(0, 10).join('; ') + (problems.length > 10 ? ` (+${problems.length - 10} more)` : '') : okDetail };
}

/** 1. pools account exactly for the live backings */
function checkPools(platform: Platform, live: readonly Holding[]): CheckResult {
  const perRegion = new Map<string, number>();
  for (const b of live) for (const s of b.segments) {
    const r = platform.regionAt(s.phys)?.name ?? '?';
    perRegion.set(r, (perRegion.get(r) ?? 0) + s.length);
  }
  const poolProblems: string[] = [];
  for (const r of platform.regionStats()) {
    const expected = perRegion.get(r.name) ?? 0;
    if (r.inUse !== expected) poolProblems.push(`region ${r.name}: ${r.inUse} bytes in use, live buffers hold ${expected}`);
    if (r.free !== r.capacity - r.inUse) poolProblems.push(`region ${r.name}: free ${r.free} != capacity - in use`);
  }
  return result('pools match live buffers', poolProblems, `${live.filter((h) => h.id >= 0).length} allocated buffers, ${platform.bytesInUse} bytes`);
}

/** 2. no two backings overlap (`segs` sorted by address) */
function checkDisjoint(segs: readonly Segment[]): CheckResult {
  const overlaps: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const p = segs[i - 1]!;
    const c = segs[i]!;
    if (p.phys + p.length > c.phys) overlaps.push(`buffers ${p.id} and ${c.id} share 0x${c.phys.toString(16)}`);
  }
  return result('no shared memory between buffers', overlaps, `${segs.length} segments, disjoint`);
}

/** 3. allocator statistics add up */
function checkAllocatorStats(smaf: Smaf, live: readonly Holding[]): CheckResult {
  const statProblems: string[] = [];
  for (const s of smaf.registry.allStats()) {
    const mine = live.filter((b) => b.allocator === s.name);
    const bytes = mine.reduce((n, b) => n + b.length, 0);
    if (s.bytesInUse !== bytes) statProblems.push(`${s.name}: ${s.bytesInUse} bytes in use by its stats, ${bytes} by its buffers`);
    if (s.buffersInUse !== mine.length) statProblems.push(`${s.name}: ${s.buffersInUse} buffers by its stats, ${mine.length} live`);
    if (s.allocations - s.frees !== s.buffersInUse) statProblems.push(`${s.name}: allocations - frees != buffers in use`);
  }
  return result('allocator statistics add up', statProblems, `${smaf.registry.allocators.length} allocators`);
}

/** 4. buffer state is consistent */
function checkBufferStates(platform: Platform, buffers: readonly Buffer[]): CheckResult {
  const stateProblems: string[] = [];
  for (const b of buffers) {
    if (b.released) stateProblems.push(`buffer ${b.id} is released but still listed`);
    if (b.refCount < 1) stateProblems.push(`buffer ${b.id} has ${b.refCount} references`);
    for (const a of b.attachments) if (a.mapped && !b.backing) stateProblems.push(`buffer ${b.id}: ${a.device.name} mapped without memory`);
    if (b.secure && b.backing && b.segments.some((s) => platform.regionAt(s.phys)?.kind !== 'secure-carveout')) stateProblems.push(`secure buffer ${b.id} outside the secure carveout`);
    if (b.secure && b.cpuMappings.length > 0) stateProblems.push(`secure buffer ${b.id} has CPU mappings`);
  }
  return result('buffer states are consistent', stateProblems, `${buffers.length} buffers`);
}

/** 5. free memory is zero (scrubbed): no non-zero byte outside the live backings (`segs` sorted by address) */
function checkScrubbed(platform: Platform, segs: readonly Segment[]): CheckResult {
  const dirty: string[] = [];
  for (const r of platform.regions) {
    const inside = segs.filter((s) => s.phys < r.base + r.size && s.phys + s.length > r.base);
    let pos = r.base;
    for (const s of [...inside, { phys: r.base + r.size, length: 0, id: -1 }]) {
      const start = Math.max(pos, r.base);
      const end = Math.min(s.phys, r.base + r.size);
      if (end > start && !platform.memory.isZero(start, end - start)) dirty.push(`non-zero bytes in free memory of ${r.name} between 0x${start.toString(16)} and 0x${end.toString(16)}`);
      pos = Math.max(pos, s.phys + s.length);
    }
  }
  return result('free memory is scrubbed', dirty, 'every byte outside live buffers is zero');
}

/** 6. secure world: SDP regions belong to live secure buffers; the CPU cannot reach secure memory */
function checkSecureWorld(platform: Platform, live: readonly Buffer[]): CheckResult {
  const sdpProblems: string[] = [];
  if (platform.sdp) {
    const secureSegs = live.filter((b) => b.secure).flatMap((b) => b.segments);
    for (const r of platform.sdp.status().regions) {
      if (!secureSegs.some((s) => s.phys === r.addr && s.length === r.size)) sdpProblems.push(`SDP region ${r.id} (0x${r.addr.toString(16)}) has no live secure buffer`);
    }
    for (const r of platform.regionsOfKind('secure-carveout')) {
      if (platform.bus.firewall.check({ kind: 'cpu' }, r.base, 1, 'read') === null) sdpProblems.push(`the firewall lets the CPU read secure carveout ${r.name}`);
    }
  }
  return result('secure world is consistent', sdpProblems, platform.sdp ? `${platform.sdp.status().regions.length} SDP regions, CPU shut out` : 'no secure memory on this platform');
}
