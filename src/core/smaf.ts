/**
 * The SMAF core: creates buffers, chooses allocators at first need (deferred allocation), keeps
 * statistics and the reasons of every decision.
 */
import { SmafError } from '../common/errors.ts';
import { formatSize } from '../common/units.ts';
import { physLimit, type Device, type Platform, type RegionStats } from '../platform/index.ts';
import { SmafBuffer } from './buffer.ts';
import { isDecline, verdictOf, type Allocator, type Backing, type BufferInfo, type Decline, type SecureModule } from './contracts.ts';
import { OwnedRanges } from './owned-ranges.ts';
import { Registry, type AllocatorStats } from './registry.ts';

/** O_RDWR and O_CLOEXEC: the only flags a buffer accepts. */
export const SMAF_RDWR = 0x2;
export const SMAF_CLOEXEC = 0x80000;
export const SMAF_VALID_FLAGS = SMAF_RDWR | SMAF_CLOEXEC;
export const MAX_NAME_BYTES = 63;

export interface Candidate {
  readonly allocator: string;
  readonly ranking: number;
  readonly verdict: 'allocated' | 'no-match' | 'declined' | 'rejected' | 'not-asked';
  readonly reason: string;
}

/** One allocation attempt, as `explain` reports it. */
export interface Decision {
  readonly time: number;
  /** What needed the memory: "map by vdec", "mmap by cpu", "attach of display (migration)". */
  readonly trigger: string;
  readonly devices: readonly string[];
  readonly secure: boolean;
  readonly outcome: 'allocated' | 'failed';
  readonly allocator?: string;
  readonly region?: string;
  readonly segments?: number;
  readonly candidates: readonly Candidate[];
  readonly error?: string;
  /** How long the allocators took to decide (and allocate), in microseconds. */
  readonly elapsedUs?: number;
}

export interface CreateOptions {
  readonly flags?: number;
  /** Ask for one allocator by name (<= 63 bytes); unknown names fail with EINVAL. */
  readonly name?: string;
}

export interface SmafStats {
  readonly buffers: number;
  readonly allocatedBuffers: number;
  readonly allocators: readonly AllocatorStats[];
  readonly regions: readonly RegionStats[];
}

/** Why a backing cannot serve a device, or null when it can. */
export function unsuitableReason(backing: Backing, device: Device, secure: boolean): { code: 'EPERM' | 'EINVAL'; reason: string } | null {
  if (secure && !device.secure) return { code: 'EPERM', reason: `device "${device.name}" is not secure-capable and the buffer is secure` };
  if (device.iommu) return null;
  if (backing.segments.length !== 1) {
    return { code: 'EINVAL', reason: `the backing (${backing.allocator}) has ${backing.segments.length} physical segments and "${device.name}" has no IOMMU, so it needs contiguous memory` };
  }
  const seg = backing.segments[0]!;
  const end = seg.phys + seg.length - 1;
  if (end > physLimit(device)) {
    return { code: 'EINVAL', reason: `the backing ends at 0x${end.toString(16)}, above the ${Math.min(device.dmaMask, device.coherentDmaMask)}-bit DMA mask of "${device.name}"` };
  }
  return null;
}

export class Smaf {
  readonly platform: Platform;
  readonly registry = new Registry();
  private readonly bufferMap = new Map<number, SmafBuffer>();
  /** Physical ranges held by live buffers, whatever their allocators say. */
  private readonly owned = new OwnedRanges();
  private nextId = 1;

  /** Most references a buffer may have (EOVERFLOW past it; never a wrap-around). */
  readonly maxRefs: number;

  constructor(platform: Platform, options: { maxRefs?: number } = {}) {
    this.platform = platform;
    this.maxRefs = options.maxRefs ?? 2 ** 31 - 1;
  }

  get pageSize(): number {
    return this.platform.pageSize;
  }

  registerAllocator(a: Allocator): void {
    this.registry.registerAllocator(a);
  }

  unregisterAllocator(name: string): void {
    this.registry.unregisterAllocator(name);
  }

  registerSecureModule(m: SecureModule): void {
    this.registry.registerSecureModule(m);
  }

  unregisterSecureModule(name: string): void {
    this.registry.unregisterSecureModule(name, [...this.bufferMap.values()].filter((b) => b.secure).length);
  }

  get secureModule(): SecureModule | null {
    return this.registry.secureModule;
  }

  /**
   * A new buffer with no memory behind it. The length is rounded up to the page size; 0 is EINVAL,
   * a length no region could ever hold is ENOMEM; bad flags or an unknown allocator name, EINVAL.
   */
  create(length: number | bigint, options: CreateOptions = {}): SmafBuffer {
    const flags = options.flags ?? SMAF_RDWR;
    if (!Number.isInteger(flags) || flags < 0 || (flags & ~SMAF_VALID_FLAGS) !== 0) {
      throw new SmafError('EINVAL', `invalid flags 0x${flags.toString(16)}: only SMAF_RDWR (0x2) and SMAF_CLOEXEC (0x80000) are allowed`);
    }
    const big = typeof length === 'bigint' ? length : Number.isSafeInteger(length) ? BigInt(length) : -1n;
    if (big < 0n) throw new SmafError('EINVAL', `invalid length ${String(length)}: must be a whole number of bytes`);
    if (big === 0n) throw new SmafError('EINVAL', 'invalid length 0: a buffer needs at least one byte');
    const page = BigInt(this.pageSize);
    const rounded = ((big + page - 1n) / page) * page;
    const largest = this.platform.largestRegion;
    if (rounded > BigInt(largest)) {
      throw new SmafError('ENOMEM', `cannot create a buffer of ${big} bytes: the largest region holds ${formatSize(largest)}`);
    }
    const name = options.name === '' ? undefined : options.name;
    if (name !== undefined) {
      if (new TextEncoder().encode(name).length > MAX_NAME_BYTES) throw new SmafError('EINVAL', `allocator name is longer than ${MAX_NAME_BYTES} bytes`);
      if (!this.registry.allocator(name)) {
        throw new SmafError('EINVAL', `unknown allocator "${name}" (registered: ${this.registry.allocators.map((a) => a.name).join(', ') || 'none'})`);
      }
    }
    const buf = new SmafBuffer(this, this.nextId++, Number(rounded), flags, name);
    this.bufferMap.set(buf.id, buf);
    this.platform.events.emit({ kind: 'create', actor: 'core', buffer: buf.id, length: buf.length, message: `buffer ${buf.id} created: ${formatSize(buf.length)}, no memory yet${name ? `, asks for "${name}"` : ''}` });
    return buf;
  }

  buffer(id: number): SmafBuffer {
    const b = this.bufferMap.get(id);
    if (!b) throw new SmafError('EBADF', `no live buffer ${id}`);
    return b;
  }

  /** Live buffers (without building the list). */
  get bufferCount(): number {
    return this.bufferMap.size;
  }

  get buffers(): readonly SmafBuffer[] {
    return [...this.bufferMap.values()];
  }

  /** @internal called by a buffer when its last reference goes. */
  forget(buf: SmafBuffer): void {
    this.bufferMap.delete(buf.id);
  }

  /**
   * Ask the allocators, in ranking order (or only the named one), for memory that suits every
   * attached device. Records the decision. Throws EPERM (a secure buffer with a device that is not
   * secure-capable), ENODEV (no allocator matches) or ENOMEM (matches, but no memory).
   */
  chooseBacking(info: BufferInfo, trigger: string, record: (d: Decision) => void): Backing {
    const candidates: Candidate[] = [];
    const t0 = performance.now();
    const elapsedUs = (): number => Math.round((performance.now() - t0) * 1000);
    const base = { time: Date.now(), trigger, devices: info.devices.map((d) => d.name), secure: info.secure };
    const fail = (code: 'EPERM' | 'ENODEV' | 'ENOMEM', message: string): never => {
      record({ ...base, outcome: 'failed', candidates, error: `${code}: ${message}`, elapsedUs: elapsedUs() });
      this.platform.events.emit({ kind: 'allocate-failed', actor: 'core', buffer: info.id, length: info.length, message: `buffer ${info.id}: ${message}` });
      throw new SmafError(code, message);
    };
    if (info.secure) {
      const insecure = info.devices.filter((d) => !d.secure);
      if (insecure.length > 0) {
        fail('EPERM', `cannot allocate secure buffer ${info.id}: ${insecure.map((d) => `"${d.name}"`).join(', ')} ${insecure.length > 1 ? 'are' : 'is'} not secure-capable`);
      }
    }
    // a device behind an IOMMU must be able to map the whole buffer in its IOVA window
    for (const d of info.devices) {
      if (!d.iommu) continue;
      const iommu = this.platform.iommu(d);
      if (info.length > iommu.space) fail('ENOMEM', `"${d.name}" could never map buffer ${info.id}: ${formatSize(info.length)} is more than its ${d.dmaMask}-bit IOMMU's IOVA space (${formatSize(iommu.space)})`);
      if (!iommu.canMap(info.length)) fail('ENOMEM', `"${d.name}" has no free IOVA range of ${formatSize(info.length)} for buffer ${info.id} (its IOMMU window holds ${iommu.mappedCount} mappings)`);
    }
    const order = info.nameHint !== undefined ? this.registry.allocators.filter((a) => a.name === info.nameHint) : this.registry.allocators;
    if (info.nameHint !== undefined && order.length === 0) fail('ENODEV', `allocator "${info.nameHint}" asked for at create is no longer registered`);
    let matched = false;
    for (const a of order) {
      let v: { match: boolean; reason: string };
      try {
        v = verdictOf(a.match(info));
      } catch (e) {
        candidates.push({ allocator: a.name, ranking: a.ranking, verdict: 'rejected', reason: `match() threw: ${(e as Error).message}` });
        continue;
      }
      if (!v.match) {
        candidates.push({ allocator: a.name, ranking: a.ranking, verdict: 'no-match', reason: v.reason });
        continue;
      }
      matched = true;
      const stats = this.registry.stats(a.name);
      let r: Backing | Decline;
      try {
        r = a.allocate(info, info.length);
      } catch (e) {
        stats.failures++;
        candidates.push({ allocator: a.name, ranking: a.ranking, verdict: 'rejected', reason: `allocate() threw: ${(e as Error).message}` });
        continue;
      }
      if (isDecline(r)) {
        stats.declines++;
        stats.failures++;
        candidates.push({ allocator: a.name, ranking: a.ranking, verdict: 'declined', reason: r.reason });
        continue;
      }
      const problem = this.checkBacking(r, info);
      if (problem) {
        // memory another buffer holds is not this allocator's to take back: never free it
        if (!problem.foreign) a.free(r);
        stats.failures++;
        candidates.push({ allocator: a.name, ranking: a.ranking, verdict: 'rejected', reason: `returned unusable memory: ${problem.reason}` });
        continue;
      }
      this.owned.add(r.segments);
      stats.allocations++;
      stats.buffersInUse++;
      stats.bytesInUse += info.length;
      stats.peak = Math.max(stats.peak, stats.bytesInUse);
      candidates.push({ allocator: a.name, ranking: a.ranking, verdict: 'allocated', reason: v.reason });
      record({ ...base, outcome: 'allocated', allocator: a.name, region: r.region, segments: r.segments.length, candidates, elapsedUs: elapsedUs() });
      this.platform.events.emit({
        kind: 'allocate', actor: a.name, buffer: info.id, addr: r.segments[0]?.phys, length: info.length,
        message: `buffer ${info.id}: ${formatSize(info.length)} from ${a.name} (region ${r.region}, ${r.segments.length} segment${r.segments.length > 1 ? 's' : ''}) at ${trigger}`,
      });
      return r;
    }
    const why = candidates.map((c) => `${c.allocator}: ${c.reason}`).join('; ') || 'no allocator is registered';
    const devs = info.devices.length ? info.devices.map((d) => d.name).join(', ') : 'no device';
    return fail(matched ? 'ENOMEM' : 'ENODEV', `no memory for buffer ${info.id} (${formatSize(info.length)}${info.secure ? ', secure' : ''}, for ${devs}): ${why}`);
  }

  /** Defence against a faulty allocator: the backing must be exactly what was asked, free and usable. */
  private checkBacking(b: Backing, info: BufferInfo): { reason: string; foreign?: true } | null {
    if (!Array.isArray(b.segments) || b.segments.length === 0) return { reason: 'no segments' };
    let total = 0;
    for (const s of b.segments) {
      if (!Number.isSafeInteger(s.phys) || !Number.isSafeInteger(s.length) || s.phys % this.pageSize !== 0 || s.length % this.pageSize !== 0 || s.length <= 0) return { reason: 'segments are not page-aligned' };
      if (!this.platform.memory.contains(s.phys, s.length)) return { reason: 'segments outside physical memory', foreign: true };
      total += s.length;
    }
    if (this.owned.conflicts(b.segments)) return { reason: 'memory already held by another buffer (or listed twice)', foreign: true };
    if (total !== info.length) return { reason: `length ${total} instead of ${info.length}` };
    for (const d of info.devices) {
      const u = unsuitableReason(b, d, info.secure);
      if (u) return { reason: u.reason };
    }
    if (info.secure && b.segments.some((s) => this.platform.regionAt(s.phys)?.kind !== 'secure-carveout')) {
      return { reason: 'a secure buffer must live in a secure carveout' };
    }
    return null;
  }

  /** @internal a backing goes back to its allocator (after revoke and scrub). */
  releaseBacking(b: Backing, length: number): void {
    this.owned.remove(b.segments);
    const a = this.registry.allocator(b.allocator);
    if (!a) throw new SmafError('EIO', `allocator "${b.allocator}" vanished while backing a buffer`);
    a.free(b);
    const s = this.registry.stats(b.allocator);
    s.frees++;
    s.buffersInUse--;
    s.bytesInUse -= length;
  }

  stats(): SmafStats {
    const buffers = this.buffers;
    return {
      buffers: buffers.length,
      allocatedBuffers: buffers.filter((b) => b.allocated).length,
      allocators: this.registry.allStats(),
      regions: this.platform.regionStats(),
    };
  }
}
