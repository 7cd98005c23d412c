/**
 * The SMAF core: creates buffers, chooses allocators at first need (deferred allocation), keeps
 * statistics and the reasons of every decision.
 */
import { SmafError } from '../common/errors.ts';
import { formatSize } from '../common/units.ts';
import type { Platform, RegionStats } from '../platform/index.ts';
import { SmafBuffer } from './buffer.ts';
import { isDecline, verdictOf, type Allocator, type Backing, type BufferInfo, type Decline, type SecureModule } from './contracts.ts';
import type { Candidate, DecisionSink } from './decisions.ts';
import { MAX_NAME_BYTES, SMAF_RDWR, SMAF_VALID_FLAGS } from './flags.ts';
import { eventText } from './event-texts.ts';
import type { BufferHost } from './host.ts';
import { OwnedRanges } from './owned-ranges.ts';
import { Registry, type AllocatorStats } from './registry.ts';
import { unsuitableReason } from './suitability.ts';

/** The flags create accepts (they live in flags.ts; create's callers find them here too). */
export { SMAF_CLOEXEC, SMAF_RDWR } from './flags.ts';

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

export class Smaf implements BufferHost {
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
    const rounded = this.pageRound(length);
    const name = options.name === '' ? undefined : options.name;
    if (name !== undefined) {
      if (new TextEncoder().encode(name).length > MAX_NAME_BYTES) throw new SmafError('EINVAL', `allocator name is longer than ${MAX_NAME_BYTES} bytes`);
      if (!this.registry.allocator(name)) {
        throw new SmafError('EINVAL', `unknown allocator "${name}" (registered: ${this.registry.allocators.map((a) => a.name).join(', ') || 'none'})`);
      }
    }
    const buf = new SmafBuffer(this, this.nextId++, rounded, flags, name);
    this.bufferMap.set(buf.id, buf);
    const { id } = buf;
    this.platform.events.emit({ kind: 'create', actor: 'core', buffer: id, length: buf.length, message: eventText.created({ id, length: buf.length, nameHint: name }) });
    return buf;
  }

  /** A length rounded up to whole pages: EINVAL unless a whole number of bytes > 0, ENOMEM past the largest region. */
  private pageRound(length: number | bigint): number {
    const page = this.pageSize;
    const largest = this.platform.largestRegion;
    if (typeof length === 'number' && Number.isSafeInteger(length) && length > 0 && Math.ceil(length / page) * page <= largest) {
      return Math.ceil(length / page) * page; // the common case, without bigint arithmetic
    }
    const big = typeof length === 'bigint' ? length : Number.isSafeInteger(length) ? BigInt(length) : -1n;
    if (big < 0n) throw new SmafError('EINVAL', `invalid length ${String(length)}: must be a whole number of bytes`);
    if (big === 0n) throw new SmafError('EINVAL', 'invalid length 0: a buffer needs at least one byte');
    const rounded = ((big + BigInt(page) - 1n) / BigInt(page)) * BigInt(page);
    if (rounded > BigInt(largest)) {
      throw new SmafError('ENOMEM', `cannot create a buffer of ${big} bytes: the largest region holds ${formatSize(largest)}`);
    }
    return Number(rounded);
  }

  /** The live buffer with this id, or undefined (for lookups where a released one is ordinary). */
  find(id: number): SmafBuffer | undefined {
    return this.bufferMap.get(id);
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

  /** Live buffers in creation order, without building the list (a page of 100,000 costs its page). */
  liveBuffers(): IterableIterator<SmafBuffer> {
    return this.bufferMap.values();
  }

  /** Memory held by live buffers, range by range in address order, with the buffer holding it. */
  ownedRanges(): IterableIterator<{ base: number; length: number; owner: number }> {
    return this.owned.ranges();
  }

  /** @internal called by a buffer when its last reference goes. */
  forget(buf: { readonly id: number }): void {
    this.bufferMap.delete(buf.id);
  }

  /**
   * Ask the allocators, in ranking order (or only the named one), for memory that suits every
   * attached device. Records the decision. Throws ENODEV (no allocator matches) or ENOMEM (matches,
   * but no memory, or an IOMMU device could not map it).
   */
  chooseBacking(info: BufferInfo, trigger: string, log: DecisionSink): Backing {
    const at = new Attempt(info, trigger, log, this.platform);
    this.checkDevices(info, at);
    const order = info.nameHint !== undefined ? this.registry.allocators.filter((a) => a.name === info.nameHint) : this.registry.allocators;
    if (info.nameHint !== undefined && order.length === 0) at.fail('ENODEV', `allocator "${info.nameHint}" asked for at create is no longer registered`);
    let matched = false;
    for (const a of order) {
      const r = this.ask(a, info, at);
      if (r === NO_MATCH) continue;
      matched = true;
      if (r !== null) return this.accept(a, r, at);
    }
    const why = at.candidates.map((c) => `${c.allocator}: ${c.reason}`).join('; ') || 'no allocator is registered';
    const devs = info.devices.length ? info.devices.map((d) => d.name).join(', ') : 'no device';
    return at.fail(matched ? 'ENOMEM' : 'ENODEV', `no memory for buffer ${info.id} (${formatSize(info.length)}${info.secure ? ', secure' : ''}, for ${devs}): ${why}`);
  }

  /** ENOMEM when a device behind an IOMMU could not map the whole buffer in its IOVA window. */
  private checkDevices(info: BufferInfo, at: Attempt): void {
    for (const d of info.devices) {
      if (!d.iommu) continue;
      const iommu = this.platform.iommu(d);
      if (info.length > iommu.space) at.fail('ENOMEM', `"${d.name}" could never map buffer ${info.id}: ${formatSize(info.length)} is more than its ${d.dmaMask}-bit IOMMU's IOVA space (${formatSize(iommu.space)})`);
      if (!iommu.canMap(info.length)) at.fail('ENOMEM', `"${d.name}" has no free IOVA range of ${formatSize(info.length)} for buffer ${info.id} (its IOMMU window holds ${iommu.mappedCount} mappings)`);
    }
  }

  /** Ask one allocator: NO_MATCH, null (matched but gave nothing usable: why is in the candidates) or memory. */
  private ask(a: Allocator, info: BufferInfo, at: Attempt): Backing | null | typeof NO_MATCH {
    let v: { match: boolean; reason: string };
    try {
      v = verdictOf(a.match(info));
    } catch (e) {
      at.candidate(a, 'rejected', `match() threw: ${(e as Error).message}`);
      return NO_MATCH;
    }
    if (!v.match) {
      at.candidate(a, 'no-match', v.reason);
      return NO_MATCH;
    }
    let r: Backing | Decline;
    try {
      r = a.allocate(info, info.length);
    } catch (e) {
      this.registry.noteFailure(a.name, false);
      at.candidate(a, 'rejected', `allocate() threw: ${(e as Error).message}`);
      return null;
    }
    if (isDecline(r)) {
      this.registry.noteFailure(a.name, true);
      at.candidate(a, 'declined', r.reason);
      return null;
    }
    const problem = this.checkBacking(r, info);
    if (problem) {
      // memory another buffer holds is not this allocator's to take back: never free it
      if (!problem.foreign) a.free(r);
      this.registry.noteFailure(a.name, false);
      at.candidate(a, 'rejected', `returned unusable memory: ${problem.reason}`);
      return null;
    }
    at.matchReason = v.reason;
    return r;
  }

  /** The memory is the buffer's: owned, counted, recorded, logged. */
  private accept(a: Allocator, r: Backing, at: Attempt): Backing {
    const { id, length } = at.info;
    this.owned.add(r.segments, id);
    this.registry.noteAllocation(a.name, length);
    at.candidate(a, 'allocated', at.matchReason);
    at.record('allocated', a.name, r, undefined);
    const message = eventText.allocated({ id, length, allocator: a.name, region: r.region, segments: r.segments.length, trigger: at.trigger });
    this.platform.events.emit({ kind: 'allocate', actor: a.name, buffer: id, addr: r.segments[0]?.phys, length, message });
    return r;
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
      const u = unsuitableReason(b, d);
      if (u) return { reason: u };
    }
    if (info.secure && b.segments.some((s) => this.platform.regionAt(s.phys)?.kind !== 'secure-carveout')) {
      return { reason: 'a secure buffer must live in a secure carveout' };
    }
    return null;
  }

  /**
   * Memory kept out of use for good: the secure module could not tear down a buffer's context, so a
   * device may still be granted this memory. It stays owned (no allocator hands it out again, and the
   * core refuses it if one tried); the self-check reports it.
   */
  private readonly quarantined: { readonly backing: Backing; readonly length: number; readonly why: string }[] = [];

  /** @internal keep a scrubbed backing out of use (see `quarantined`). */
  quarantine(b: Backing, length: number, why: string): void {
    this.quarantined.push({ backing: b, length, why });
    const bytes = formatSize(length);
    this.platform.events.emit({ kind: 'internal-error', actor: 'core', addr: b.segments[0]?.phys, length, message: `${bytes} of ${b.region} quarantined (scrubbed, never handed out again): ${why}` });
  }

  /** Backings kept out of use after a secure module failed to tear them down. */
  get quarantinedBackings(): readonly { readonly backing: Backing; readonly length: number; readonly why: string }[] {
    return this.quarantined;
  }

  /** @internal a backing goes back to its allocator (after revoke and scrub). */
  releaseBacking(b: Backing, length: number): void {
    this.owned.remove(b.segments);
    const a = this.registry.allocator(b.allocator);
    if (!a) throw new SmafError('EIO', `allocator "${b.allocator}" vanished while backing a buffer`);
    a.free(b);
    this.registry.noteFree(b.allocator, length);
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

const NO_MATCH = Symbol('no match');

/** One allocation attempt: the allocators asked so far, and its end, recorded and logged. */
class Attempt {
  readonly candidates: Candidate[] = [];
  readonly time = Date.now();
  private readonly t0 = performance.now();
  /** Why the allocator that gave memory matched. */
  matchReason = '';

  constructor(readonly info: BufferInfo, readonly trigger: string, private readonly log: DecisionSink, private readonly platform: Platform) {}

  candidate(a: Allocator, verdict: Candidate['verdict'], reason: string): void {
    this.candidates.push({ allocator: a.name, ranking: a.ranking, verdict, reason });
  }

  record(outcome: 'allocated' | 'failed', allocator: string | undefined, r: Backing | undefined, error: string | undefined): void {
    const elapsedUs = Math.round((performance.now() - this.t0) * 1000);
    const devices = this.info.devices.map((d) => d.name);
    this.log.record(r
      ? { time: this.time, trigger: this.trigger, devices, secure: this.info.secure, outcome, allocator, region: r.region, segments: r.segments.length, candidates: this.candidates, elapsedUs }
      : { time: this.time, trigger: this.trigger, devices, secure: this.info.secure, outcome, candidates: this.candidates, error, elapsedUs });
  }

  fail(code: 'ENODEV' | 'ENOMEM', message: string): never {
    this.record('failed', undefined, undefined, `${code}: ${message}`);
    const { id, length } = this.info;
    this.platform.events.emit({ kind: 'allocate-failed', actor: 'core', buffer: id, length, message: `buffer ${id}: ${message}` });
    throw new SmafError(code, message);
  }
}
