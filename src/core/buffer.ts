/**
 * A SMAF buffer: a dma-buf exporter whose memory is chosen at first need. Attach records devices;
 * the first map (or CPU access) asks the allocators; the secure module grants each device access
 * at map and every CPU mapping is checked; release revokes, scrubs and returns the memory.
 */
import { SmafError, toSmafError } from '../common/errors.ts';
import { formatSize, hex } from '../common/units.ts';
import {
  CPU, forEachPiece, locate, splitDmaSegments, type Device, type DmaSegment, type SgSegment,
} from '../platform/index.ts';
import {
  DmaDirection, directionName, type Backing, type BufferInfo, type CpuAccessKind, type CpuAccessMode,
} from './contracts.ts';
import { SMAF_RDWR, unsuitableReason, type Decision, type Smaf } from './smaf.ts';

/** Decisions `explain` keeps per buffer: the first and the latest ones. */
export const MAX_DECISIONS = 16;

export const PROT_READ = 1;
export const PROT_WRITE = 2;

interface Grant {
  readonly addr: number;
  readonly size: number;
}

export interface DmaMapping {
  readonly direction: DmaDirection;
  /** Addresses as the device emits them. */
  readonly segments: readonly DmaSegment[];
  readonly iova: number | undefined;
  readonly grants: readonly Grant[];
}

export class Attachment {
  mapping: DmaMapping | null = null;
  detached = false;

  constructor(readonly id: number, readonly buffer: SmafBuffer, readonly device: Device) {}

  get mapped(): boolean {
    return this.mapping !== null;
  }
}

/** A CPU view of (part of) a buffer: user mmap or kernel vmap. Reads and writes go through the bus. */
export class CpuMapping {
  closed = false;

  constructor(
    readonly id: number,
    readonly buffer: SmafBuffer,
    readonly kind: 'mmap' | 'vmap',
    readonly offset: number,
    readonly length: number,
    readonly prot: number,
  ) {}

  /** EBADF (unmapped), EACCES (prot) or EINVAL (range) for an access of [offset, offset+length). */
  check(offset: number, length: number, need: number): void {
    if (this.closed) throw new SmafError('EBADF', `mapping ${this.id} of buffer ${this.buffer.id} is unmapped`);
    if ((this.prot & need) === 0) {
      throw new SmafError('EACCES', `mapping ${this.id} of buffer ${this.buffer.id} does not allow ${need === PROT_READ ? 'reading' : 'writing'}`);
    }
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.length) {
      throw new SmafError('EINVAL', `range ${offset}+${length} leaves mapping ${this.id} (${this.length} bytes)`);
    }
  }

  read(offset: number, length: number): Uint8Array {
    this.check(offset, length, PROT_READ);
    const out = new Uint8Array(length);
    const bus = this.buffer.core.platform.bus;
    forEachPiece(this.buffer.requireBacking().segments, this.offset + offset, length, (phys, n, done) => {
      bus.read(CPU, phys, out.subarray(done, done + n));
    });
    return out;
  }

  write(offset: number, data: Uint8Array): number {
    this.check(offset, data.length, PROT_WRITE);
    const bus = this.buffer.core.platform.bus;
    forEachPiece(this.buffer.requireBacking().segments, this.offset + offset, data.length, (phys, n, done) => {
      bus.write(CPU, phys, data.subarray(done, done + n));
    });
    return data.length;
  }
}

export class SmafBuffer {
  private refs = 1;
  private secureFlag = false;
  private secureCtx: unknown = null;
  private backingImpl: Backing | null = null;
  private readonly attachmentMap = new Map<number, Attachment>();
  private readonly cpuMaps = new Map<number, CpuMapping>();
  private cpuAccessDepth = 0;
  private nextAttachment = 0;
  private nextMapping = 0;
  private releasedFlag = false;
  private sharedFlag = false;
  private labelValue: string | null = null;
  private readonly decisionLog: Decision[] = [];
  private decisionTotal = 0;
  readonly createdAt = Date.now();

  constructor(
    readonly core: Smaf,
    readonly id: number,
    readonly length: number,
    readonly flags: number,
    readonly nameHint: string | undefined,
  ) {}

  // ---- state -------------------------------------------------------------------------------

  /**
   * Allocation decisions kept for `explain`: the first one and the latest ones, at most
   * MAX_DECISIONS in all (a client repeating a refused map cannot grow them without bound).
   */
  get decisions(): readonly Decision[] {
    return this.decisionLog;
  }

  /** How many decisions were ever taken (some may have been dropped from `decisions`). */
  get decisionsTotal(): number {
    return this.decisionTotal;
  }

  private recordDecision(d: Decision): void {
    this.decisionTotal++;
    if (this.decisionLog.length >= MAX_DECISIONS) this.decisionLog.splice(1, 1);
    this.decisionLog.push(d);
  }

  get secure(): boolean {
    return this.secureFlag;
  }

  get allocated(): boolean {
    return this.backingImpl !== null;
  }

  get backing(): Backing | null {
    return this.backingImpl;
  }

  get released(): boolean {
    return this.releasedFlag;
  }

  /** A name for tools (DMA_BUF_SET_NAME): shown by explain, state and the event log; null until set. */
  get label(): string | null {
    return this.labelValue;
  }

  /** Name the buffer, as DMA_BUF_SET_NAME does (the caller validates length and bytes). */
  setLabel(label: string): void {
    this.alive();
    this.labelValue = label;
    this.core.platform.events.emit({ kind: 'name', actor: 'cpu', buffer: this.id, message: `buffer ${this.id} named "${label}"` });
  }

  get refCount(): number {
    return this.refs;
  }

  get attachments(): readonly Attachment[] {
    return [...this.attachmentMap.values()];
  }

  get cpuMappings(): readonly CpuMapping[] {
    return [...this.cpuMaps.values()];
  }

  get cpuAccessActive(): number {
    return this.cpuAccessDepth;
  }

  /** Devices attached now, once each, in attach order. */
  get devices(): Device[] {
    const seen = new Map<string, Device>();
    for (const a of this.attachmentMap.values()) seen.set(a.device.name, a.device);
    return [...seen.values()];
  }

  info(extra?: Device): BufferInfo {
    const devices = this.devices;
    if (extra && !devices.some((d) => d.name === extra.name)) devices.push(extra);
    return { id: this.id, length: this.length, secure: this.secureFlag, nameHint: this.nameHint, devices };
  }

  /** Live mappings that pin the memory where it is (device maps, CPU maps, CPU access brackets). */
  private pinnedBy(): string[] {
    const who = this.attachments.filter((a) => a.mapped).map((a) => `a DMA mapping of "${a.device.name}"`);
    if (this.cpuMaps.size > 0) who.push(`${this.cpuMaps.size} CPU mapping(s)`);
    if (this.cpuAccessDepth > 0) who.push('a CPU access in progress');
    return who;
  }

  private alive(): void {
    if (this.releasedFlag) throw new SmafError('EBADF', `buffer ${this.id} has been released`);
  }

  /** @internal */
  requireBacking(): Backing {
    if (!this.backingImpl) throw new SmafError('EIO', `buffer ${this.id} has no memory`);
    return this.backingImpl;
  }

  private ensureBacking(trigger: string): Backing {
    if (!this.backingImpl) {
      this.backingImpl = this.core.chooseBacking(this.info(), trigger, (d) => this.recordDecision(d));
    }
    return this.backingImpl;
  }

  // ---- references --------------------------------------------------------------------------

  /** Take a reference (dup, import). EOVERFLOW rather than wrap around. */
  get(): this {
    this.alive();
    if (this.refs >= this.core.maxRefs) throw new SmafError('EOVERFLOW', `buffer ${this.id} has too many references (${this.core.maxRefs})`);
    this.refs++;
    return this;
  }

  /** Drop a reference; the last one releases the buffer. */
  put(): void {
    this.alive();
    this.refs--;
    if (this.refs === 0) this.release();
  }

  // ---- sharing -----------------------------------------------------------------------------

  /** Whether the buffer has been handed to someone else (exported): see `setSecure`. */
  get shared(): boolean {
    return this.sharedFlag;
  }

  /** The buffer has been exported (a token, an fd passed to another process). */
  markShared(): void {
    this.alive();
    this.sharedFlag = true;
  }

  // ---- secure flag -------------------------------------------------------------------------

  /**
   * Only before the buffer has memory (EBUSY after); secure needs a secure module (EINVAL). Once the
   * buffer has been exported, its secure flag can no longer be cleared (EPERM): the exporter made it
   * secure for content it will put there, and an importer must not turn it into a CPU-visible buffer.
   */
  setSecure(secure: boolean): void {
    this.alive();
    if (secure === this.secureFlag) return;
    if (!secure && this.sharedFlag) throw new SmafError('EPERM', `cannot clear the secure flag of buffer ${this.id}: it has been exported, and only a buffer nobody else holds may become CPU-visible`);
    if (this.backingImpl) throw new SmafError('EBUSY', `cannot change the secure flag of buffer ${this.id}: it already has memory (${this.backingImpl.allocator})`);
    const module = this.core.secureModule;
    if (secure) {
      if (!module) throw new SmafError('EINVAL', `cannot make buffer ${this.id} secure: no secure module is registered`);
      const plain = [...this.attachmentMap.values()].find((a) => !a.device.secure);
      if (plain) this.deny(plain.device.name, `cannot make buffer ${this.id} secure: device "${plain.device.name}" is attached and is not secure-capable (detach it first)`);
      this.secureCtx = module.createContext(this.info());
    } else if (module && this.secureCtx !== null) {
      module.destroyContext(this.secureCtx);
      this.secureCtx = null;
    }
    this.secureFlag = secure;
  }

  // ---- devices -----------------------------------------------------------------------------

  /**
   * Record that a device will use the buffer. If memory exists and does not suit the device, it
   * migrates to memory that suits every device (when nothing is mapped) or the attach is refused.
   */
  attach(device: Device): Attachment {
    this.alive();
    const head = `Cannot attach device "${device.name}" to buffer ${this.id}`;
    // secure capability is checked here, with or without memory: a device that may never touch
    // secure memory is refused at attach, not later at map (one rule, one place)
    if (this.secureFlag && !device.secure) this.deny(device.name, `${head}: device "${device.name}" is not secure-capable and the buffer is secure`);
    const backing = this.backingImpl;
    if (backing) {
      const problem = unsuitableReason(backing, device, this.secureFlag);
      if (problem) {
        const pins = this.pinnedBy();
        if (pins.length > 0) {
          throw new SmafError('EBUSY', `${head}: ${problem.reason}; the memory cannot move while the buffer has ${pins.join(' and ')}`);
        }
        this.migrate(device, problem.reason);
      }
    }
    const att = new Attachment(this.nextAttachment++, this, device);
    this.attachmentMap.set(att.id, att);
    this.core.platform.events.emit({ kind: 'attach', actor: device.name, buffer: this.id, message: `${device.name} attached to buffer ${this.id}` });
    return att;
  }

  /** A refusal on security grounds: logged as a denial, then EPERM. */
  private deny(actor: string, message: string): never {
    this.core.platform.events.emit({ kind: 'denial', actor, buffer: this.id, message });
    throw new SmafError('EPERM', message);
  }

  private migrate(device: Device, why: string): void {
    const old = this.requireBacking();
    const fresh = this.core.chooseBacking(this.info(device), `attach of ${device.name} (migration: ${why})`, (d) => this.recordDecision(d));
    const mem = this.core.platform.memory;
    let off = 0;
    while (off < this.length) {
      const src = locate(old.segments, off);
      const dst = locate(fresh.segments, off);
      const n = Math.min(src.contiguous, dst.contiguous, this.length - off);
      mem.copy(dst.phys, src.phys, n);
      this.core.platform.provenance.copied(dst.phys, src.phys, n);
      off += n;
    }
    this.scrubAndFree(old);
    this.backingImpl = fresh;
    this.core.platform.events.emit({
      kind: 'migrate', actor: 'core', buffer: this.id, addr: fresh.segments[0]?.phys, length: this.length,
      message: `buffer ${this.id} moved from ${old.allocator} to ${fresh.allocator} so that ${device.name} can use it (${why})`,
    });
  }

  private attachment(att: Attachment): Attachment {
    this.alive();
    if (att.buffer !== this || att.detached || this.attachmentMap.get(att.id) !== att) {
      throw new SmafError('EINVAL', `attachment ${att.id} is not attached to buffer ${this.id}`);
    }
    return att;
  }

  /** Forget a device. EBUSY while it is still mapped (unmap first). */
  detach(att: Attachment): void {
    this.attachment(att);
    if (att.mapping) throw new SmafError('EBUSY', `cannot detach "${att.device.name}" from buffer ${this.id}: it is still mapped (unmap first)`);
    this.attachmentMap.delete(att.id);
    att.detached = true;
    this.core.platform.events.emit({ kind: 'detach', actor: att.device.name, buffer: this.id, message: `${att.device.name} detached from buffer ${this.id}` });
  }

  /**
   * Map for DMA. Allocates at first need; for a secure buffer, asks the secure module to grant each
   * physical segment to the device, rolling back on any refusal. Returns the device's segments.
   */
  map(att: Attachment, direction: DmaDirection = DmaDirection.BIDIRECTIONAL): readonly DmaSegment[] {
    this.attachment(att);
    const dev = att.device;
    if (direction !== 0 && direction !== 1 && direction !== 2) throw new SmafError('EINVAL', `invalid DMA direction ${String(direction)} (0 bidirectional, 1 to device, 2 from device)`);
    if (att.mapping) throw new SmafError('EBUSY', `buffer ${this.id} is already mapped for "${dev.name}" (unmap first)`);
    const backing = this.ensureBacking(`map by ${dev.name}`);
    const problem = unsuitableReason(backing, dev, this.secureFlag);
    if (problem) throw new SmafError(problem.code, `Cannot map buffer ${this.id} for device "${dev.name}": ${problem.reason}`);

    const platform = this.core.platform;
    let iova: number | undefined;
    let segments: DmaSegment[];
    if (dev.iommu) {
      iova = platform.iommu(dev).map(backing.segments);
      segments = splitDmaSegments([{ dma: iova, length: this.length }], dev.maxSegmentSize, dev.segmentBoundary);
    } else {
      segments = splitDmaSegments(backing.segments.map((s) => ({ dma: s.phys, length: s.length })), dev.maxSegmentSize, dev.segmentBoundary);
    }
    const grants: Grant[] = [];
    if (this.secureFlag) {
      const module = this.core.secureModule;
      try {
        if (!module) throw new SmafError('EPERM', `buffer ${this.id} is secure but no secure module is registered`);
        for (const s of backing.segments) {
          module.grantAccess(this.secureCtx, dev, s.phys, s.length, direction);
          grants.push({ addr: s.phys, size: s.length });
          platform.events.emit({ kind: 'grant', actor: dev.name, buffer: this.id, addr: s.phys, length: s.length, message: `${module.name} granted ${dev.name} ${directionName(direction)} access to ${hex(s.phys)}+${formatSize(s.length)}` });
        }
      } catch (e) {
        // unwind in reverse: revoke grants k-1..0, then the IOVA
        for (let k = grants.length - 1; k >= 0; k--) {
          const g = grants[k]!;
          module?.revokeAccess(this.secureCtx, dev, g.addr, g.size, direction);
          platform.events.emit({ kind: 'revoke', actor: dev.name, buffer: this.id, addr: g.addr, length: g.size, message: `rolled back grant of ${hex(g.addr)} to ${dev.name}` });
        }
        if (iova !== undefined) platform.iommu(dev).unmap(iova);
        const err = toSmafError(e);
        const msg = `Cannot map buffer ${this.id} for device "${dev.name}": ${err.message}`;
        platform.events.emit({ kind: 'denial', actor: dev.name, buffer: this.id, message: msg });
        throw new SmafError(err.code, msg, { cause: e });
      }
    }
    att.mapping = { direction, segments, iova, grants };
    platform.events.emit({ kind: 'map', actor: dev.name, buffer: this.id, addr: segments[0]?.dma, length: this.length, message: `buffer ${this.id} mapped for ${dev.name} (${directionName(direction)}, ${segments.length} DMA segment${segments.length > 1 ? 's' : ''})` });
    return segments;
  }

  /** Unmap: revokes the grants made at map and frees the IOVA. */
  unmap(att: Attachment): void {
    this.attachment(att);
    if (!att.mapping) throw new SmafError('EINVAL', `buffer ${this.id} is not mapped for "${att.device.name}"`);
    this.unmapInternal(att);
  }

  private unmapInternal(att: Attachment): void {
    const m = att.mapping;
    if (!m) return;
    const platform = this.core.platform;
    const module = this.core.secureModule;
    for (let k = m.grants.length - 1; k >= 0; k--) {
      const g = m.grants[k]!;
      module?.revokeAccess(this.secureCtx, att.device, g.addr, g.size, m.direction);
      platform.events.emit({ kind: 'revoke', actor: att.device.name, buffer: this.id, addr: g.addr, length: g.size, message: `revoked ${att.device.name} access to ${hex(g.addr)}+${formatSize(g.size)}` });
    }
    if (m.iova !== undefined) platform.iommu(att.device).unmap(m.iova);
    att.mapping = null;
    platform.events.emit({ kind: 'unmap', actor: att.device.name, buffer: this.id, message: `buffer ${this.id} unmapped for ${att.device.name}` });
  }

  // ---- CPU access --------------------------------------------------------------------------

  private checkCpu(kind: CpuAccessKind, mode: CpuAccessMode): void {
    const module = this.core.secureModule;
    const deny = (why: string): never => {
      const msg = `Cannot ${kind} buffer ${this.id} from the CPU: ${why}`;
      this.core.platform.events.emit({ kind: 'denial', actor: 'cpu', buffer: this.id, message: msg });
      throw new SmafError('EPERM', msg);
    };
    if (module) {
      try {
        module.checkCpuAccess(this.secureFlag ? this.secureCtx : null, this.info(), kind, mode);
      } catch (e) {
        deny(toSmafError(e).message);
      }
    }
    // the core's own rule, whatever the module says: secure memory is never CPU-visible
    if (this.secureFlag) deny('it is secure, and secure memory is never visible to the normal world');
  }

  /** User mapping of [offset, offset+length); prot is PROT_READ|PROT_WRITE bits. */
  mmap(offset: number, length: number, prot: number): CpuMapping {
    this.alive();
    if (!Number.isInteger(prot) || prot <= 0 || (prot & ~(PROT_READ | PROT_WRITE)) !== 0) {
      throw new SmafError('EINVAL', `invalid prot ${String(prot)} (1 read, 2 write, 3 both)`);
    }
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || offset % this.core.pageSize !== 0 || offset + length > this.length) {
      throw new SmafError('EINVAL', `cannot map ${offset}+${length} of buffer ${this.id} (${this.length} bytes): the offset must be page-aligned and the range inside the buffer`);
    }
    if ((prot & PROT_WRITE) !== 0 && (this.flags & SMAF_RDWR) === 0) {
      throw new SmafError('EACCES', `buffer ${this.id} was created read-only (no SMAF_RDWR): it cannot be mapped for writing`);
    }
    this.checkCpu('mmap', prot === 3 ? 'read-write' : prot === 1 ? 'read' : 'write');
    this.ensureBacking('mmap by cpu');
    return this.addCpuMapping('mmap', offset, length, prot);
  }

  /** Kernel mapping of the whole buffer. */
  vmap(): CpuMapping {
    this.alive();
    this.checkCpu('vmap', 'read-write');
    this.ensureBacking('vmap by cpu');
    return this.addCpuMapping('vmap', 0, this.length, PROT_READ | PROT_WRITE);
  }

  private addCpuMapping(kind: 'mmap' | 'vmap', offset: number, length: number, prot: number): CpuMapping {
    const m = new CpuMapping(this.nextMapping++, this, kind, offset, length, prot);
    this.cpuMaps.set(m.id, m);
    this.core.platform.events.emit({ kind: 'cpu-access', actor: 'cpu', buffer: this.id, message: `cpu ${kind} of buffer ${this.id} (${formatSize(length)})` });
    return m;
  }

  munmap(m: CpuMapping): void {
    this.alive();
    if (m.buffer !== this || m.closed || this.cpuMaps.get(m.id) !== m) throw new SmafError('EINVAL', `mapping ${m.id} is not a live mapping of buffer ${this.id}`);
    m.closed = true;
    this.cpuMaps.delete(m.id);
  }

  /** Bracket CPU access (DMA_BUF_IOCTL_SYNC START); allocates at first need. */
  beginCpuAccess(mode: CpuAccessMode): void {
    this.alive();
    this.checkCpu('begin_cpu_access', mode);
    this.ensureBacking('begin_cpu_access by cpu');
    this.cpuAccessDepth++;
  }

  endCpuAccess(_mode: CpuAccessMode): void {
    this.alive();
    if (this.cpuAccessDepth === 0) throw new SmafError('EINVAL', `end_cpu_access on buffer ${this.id} without begin_cpu_access`);
    this.cpuAccessDepth--;
  }

  // ---- release -----------------------------------------------------------------------------

  private scrubAndFree(b: Backing): void {
    const mem = this.core.platform.memory;
    for (const s of b.segments) {
      mem.zero(s.phys, s.length);
      this.core.platform.provenance.cleared(s.phys, s.length);
    }
    this.core.releaseBacking(b, this.length);
  }

  /** Last reference gone: revoke every grant, scrub, return the memory, destroy the secure context. */
  private release(): void {
    for (const att of this.attachmentMap.values()) {
      this.unmapInternal(att);
      att.detached = true;
    }
    this.attachmentMap.clear();
    for (const m of this.cpuMaps.values()) m.closed = true;
    this.cpuMaps.clear();
    this.cpuAccessDepth = 0;
    const b = this.backingImpl;
    if (b) {
      this.scrubAndFree(b);
      this.backingImpl = null;
    }
    const module = this.core.secureModule;
    if (this.secureCtx !== null && module) module.destroyContext(this.secureCtx);
    this.secureCtx = null;
    this.releasedFlag = true;
    this.core.forget(this);
    this.core.platform.events.emit({ kind: 'release', actor: 'core', buffer: this.id, length: this.length, message: `buffer ${this.id}${this.labelValue === null ? '' : ` ("${this.labelValue}")`} released${b ? `: ${formatSize(this.length)} scrubbed and returned to ${b.allocator}` : ' (never allocated)'}` });
  }

  /** Physical segments (for inspection and tests); empty before allocation. */
  get segments(): readonly SgSegment[] {
    return this.backingImpl?.segments ?? [];
  }
}
