/**
 * deferred.compatibility: a seeded random suite of pipelines on the default platform. Random
 * devices attach in random order, some before the producer's first map and some after it (late).
 * Deferred: SMAF allocates at the producer's first map from everything attached, and migrates for a
 * late device when nothing pins the memory. Eager (ION-style): the heap is chosen at create from the
 * producer alone (system heap for an IOMMU device, else CMA) and never moves. A buffer counts as
 * compatible when every device of its pipeline maps memory it can really use.
 */
import { isSmafError } from '../src/common/errors.ts';
import { DmaDirection, unsuitableReason } from '../src/core/index.ts';
import { createSmafSystem } from '../src/presets/default.ts';

/** mulberry32: a tiny seeded PRNG, so that the suite is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CompatibilityResult {
  readonly pipelines: number;
  readonly deferred: number;
  readonly eager: number;
  readonly migrations: number;
  readonly failures: readonly string[];
}

export function simulateCompatibility(seed: number, pipelines: number, tick: () => void = () => {}): CompatibilityResult {
  const rand = prng(seed);
  const { smaf, platform } = createSmafSystem();
  const names = platform.devices.map((d) => d.name);
  let deferredOk = 0;
  let eagerOk = 0;
  const failures: string[] = [];
  const migrationsBefore = platform.events.counts.migrate ?? 0;
  for (let i = 0; i < pipelines; i++) {
    const count = 2 + Math.floor(rand() * 3);
    const pool = [...names];
    const devices = Array.from({ length: count }, () => pool.splice(Math.floor(rand() * pool.length), 1)[0]!).map((n) => platform.device(n));
    const early = 1 + Math.floor(rand() * count);
    const size = 4096 * (1 + Math.floor(rand() * 1024));

    // deferred
    const b = smaf.create(size);
    try {
      const atts = devices.slice(0, early).map((d) => b.attach(d));
      b.map(atts[0]!, DmaDirection.FROM_DEVICE);
      b.unmap(atts[0]!);
      for (const d of devices.slice(early)) atts.push(b.attach(d));
      for (const a of atts) b.map(a, DmaDirection.BIDIRECTIONAL);
      deferredOk++;
    } catch (e) {
      if (!isSmafError(e)) throw e;
      failures.push(`pipeline ${i} [${devices.map((d) => d.name).join(' -> ')}], ${early} early: ${e.code} ${e.message}`);
    } finally {
      b.put();
    }

    // eager, ION-style: the heap is picked at create, from the producer alone
    const e = smaf.create(size, { name: devices[0]!.iommu ? 'system' : 'smaf-cma' });
    try {
      e.map(e.attach(devices[0]!), DmaDirection.FROM_DEVICE);
      if (devices.every((d) => unsuitableReason(e.backing!, d) === null)) eagerOk++;
    } finally {
      e.put();
    }
    tick();
  }
  if (platform.bytesInUse !== 0) throw new Error('compatibility suite leaked memory');
  return { pipelines, deferred: deferredOk / pipelines, eager: eagerOk / pipelines, migrations: (platform.events.counts.migrate ?? 0) - migrationsBefore, failures };
}
