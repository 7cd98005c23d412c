/**
 * A SMAF buffer: a dma-buf exporter whose memory is chosen at first need. Attach records devices;
 * the first map (or CPU access) asks the allocators; the secure module grants each device access
 * at map and every CPU mapping is checked; release revokes, scrubs and returns the memory.
 *
 * This file holds the buffer's state and lifecycle; each concern it delegates has its own file:
 * device mappings, IOMMU and grants in dma-mapping.ts, CPU mappings and their checks in
 * cpu-mapping.ts, migration in migration.ts, the scrub in scrub.ts, decisions in decisions.ts.
 */
import { SmafError } from '../common/errors.ts';
import type { Device, DmaSegment, SgSegment } from '../platform/index.ts';
import { Attachment } from './attachment.ts';
import { DmaDirection, type Backing, type BufferInfo, type CpuAccessMode } from './contracts.ts';
import { checkCpuAccess, checkMmapRange, CpuMapping, PROT_READ, PROT_WRITE, protMode } from './cpu-mapping.ts';
import { DecisionLog, type Decision } from './decisions.ts';
import { eventText } from './event-texts.ts';
import { mapForDevice, unmapForDevice } from './dma-mapping.ts';
import { SMAF_RDWR } from './flags.ts';
import type { BufferHost, BufferRef } from './host.ts';
import { migrate } from './migration.ts';
import { scrub } from './scrub.ts';
import { teardownStep } from './teardown.ts';
import { unsuitableReason } from './suitability.ts';

const RELEASED = 1;
const SHARED = 2;
const SECURE = 4;

export class SmafBuffer implements BufferRef {
  private refs = 1;
  /** RELEASED | SHARED | SECURE bits. */
  private state = 0;
  private secureCtx: unknown = null;
  private backingImpl: Backing | null = null;
  /** Attachments and CPU mappings by id; none until the first (most buffers of a big daemon have none). */
  private attachmentMap: Map<number, Attachment> | null = null;
  private cpuMaps: Map<number, CpuMapping> | null = null;
  private cpuAccessDepth = 0;
  private nextAttachment = 0;
  private nextMapping = 0;
  private labelValue: string | null = null;
  private readonly log = new DecisionLog();
  readonly createdAt = Date.now();

  constructor(
    readonly core: BufferHost,
    readonly id: number,
    readonly length: number,
    readonly flags: number,
    readonly nameHint: string | undefined,
  ) {}

  // ---- state -------------------------------------------------------------------------------

  /** Allocation decisions kept for `explain` (see DecisionLog: the first and the latest). */
  get decisions(): readonly Decision[] {
    return this.log.kept;
  }

  /** How many decisions were ever taken (some may have been dropped from `decisions`). */
  get decisionsTotal(): number {
    return this.log.total;
  }

  get secure(): boolean {
    return (this.state & SECURE) !== 0;
  }

  get allocated(): boolean {
    return this.backingImpl !== null;
  }

  get backing(): Backing | null {
    return this.backingImpl;
  }

  get released(): boolean {
    return (this.state & RELEASED) !== 0;
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
    return this.attachmentMap ? [...this.attachmentMap.values()] : [];
  }

  get cpuMappings(): readonly CpuMapping[] {
    return this.cpuMaps ? [...this.cpuMaps.values()] : [];
  }

  /** Devices attached now, once each, in attach order. */
  get devices(): Device[] {
    if (!this.attachmentMap) return [];
    const seen = new Map<string, Device>();
    for (const a of this.attachmentMap.values()) seen.set(a.device.name, a.device);
    return [...seen.values()];
  }

  info(extra?: Device): BufferInfo {
    const devices = this.devices;
    if (extra && !devices.some((d) => d.name === extra.name)) devices.push(extra);
    return { id: this.id, length: this.length, secure: this.secure, nameHint: this.nameHint, devices };
  }

  /** Live mappings that pin the memory where it is (device maps, CPU maps, CPU access brackets). */
  private pinnedBy(): string[] {
    const who = this.attachments.filter((a) => a.mapped).map((a) => `a DMA mapping of "${a.device.name}"`);
    if (this.cpuMaps?.size) who.push(`${this.cpuMaps.size} CPU mapping(s)`);
    if (this.cpuAccessDepth > 0) who.push('a CPU access in progress');
    return who;
  }

  private alive(): void {
    if (this.released) throw new SmafError('EBADF', `buffer ${this.id} has been released`);
  }

  /** @internal */
  requireBacking(): Backing {
    if (!this.backingImpl) throw new SmafError('EIO', `buffer ${this.id} has no memory`);
    return this.backingImpl;
  }

  /**
   * Allocate now, whatever is attached (a dma-heap allocates at ALLOC; SMAF's own buffers wait for
   * their first use; a TEE that registers the dma-buf needs its memory, as the kernel's
   * tee_shm_register_fd maps it). No CPU-access check: this is not a CPU mapping. ENOMEM, ENODEV or
   * EPERM with the allocators' reasons when none can.
   */
  allocate(trigger: string): Backing {
    this.alive();
    return this.ensureBacking(trigger);
  }

  private ensureBacking(trigger: string): Backing {
    this.backingImpl ??= this.core.chooseBacking(this.info(), trigger, this.log);
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

  /** Drop a reference; the last one releases the buffer (which always completes: refs never go below 0). */
  put(): void {
    this.alive();
    this.refs--;
    if (this.refs === 0) this.release();
  }

  // ---- sharing -----------------------------------------------------------------------------

  /** Whether the buffer has been handed to someone else (exported): see `setSecure`. */
  get shared(): boolean {
    return (this.state & SHARED) !== 0;
  }

  /** The buffer has been exported (a token, an fd passed to another process). */
  markShared(): void {
    this.alive();
    this.state |= SHARED;
  }

  // ---- secure flag -------------------------------------------------------------------------

  /**
   * Only before the buffer has memory (EBUSY after); secure needs a secure module (EINVAL). Once the
   * buffer has been exported, its secure flag can no longer be cleared (EPERM): the exporter made it
   * secure for content it will put there, and an importer must not turn it into a CPU-visible buffer.
   */
  setSecure(secure: boolean): void {
    this.alive();
    if (secure === this.secure) return;
    if (!secure && this.shared) throw new SmafError('EPERM', `cannot clear the secure flag of buffer ${this.id}: it has been exported, and only a buffer nobody else holds may become CPU-visible`);
    if (this.backingImpl) throw new SmafError('EBUSY', `cannot change the secure flag of buffer ${this.id}: it already has memory (${this.backingImpl.allocator})`);
    const module = this.core.secureModule;
    if (secure) {
      if (!module) throw new SmafError('EINVAL', `cannot make buffer ${this.id} secure: no secure module is registered`);
      this.onlySecureCapable(this.devices, (d) => `cannot make buffer ${this.id} secure: device "${d}" is attached and is not secure-capable (detach it first)`);
      this.secureCtx = module.createContext(this.info());
    } else if (module && this.secureCtx !== null) {
      module.destroyContext(this.secureCtx);
      this.secureCtx = null;
    }
    this.state = secure ? this.state | SECURE : this.state & ~SECURE;
  }

  // ---- devices -----------------------------------------------------------------------------

  /**
   * Record that a device will use the buffer. If memory exists and does not suit the device, it
   * migrates to memory that suits every device (when nothing is mapped) or the attach is refused.
   */
  attach(device: Device): Attachment {
    this.alive();
    // with or without memory: a device that may never touch secure memory is refused at attach
    if (this.secure) this.onlySecureCapable([device], (d) => `Cannot attach device "${d}" to buffer ${this.id}: device "${d}" is not secure-capable and the buffer is secure`);
    if (this.backingImpl) this.fitFor(device, this.backingImpl);
    const att = new Attachment(this.nextAttachment++, this, device);
    (this.attachmentMap ??= new Map()).set(att.id, att);
    const { id } = this;
    this.core.platform.events.emit({ kind: 'attach', actor: device.name, buffer: id, message: eventText.attached({ id, device: device.name }) });
    return att;
  }

  /**
   * The one enforcement point of "a secure buffer has only secure-capable devices": the two changes
   * that could break it (a device attached to a secure buffer, a buffer with devices made secure)
   * pass here, so no later step (allocation, map) needs to ask again. The SDP trusted application
   * refuses grants to such devices on its own (platform/sdp-ta.ts): that is the secure world's
   * policy, not a copy of this rule.
   */
  private onlySecureCapable(devices: readonly Device[], refusal: (device: string) => string): void {
    const plain = devices.find((d) => !d.secure);
    if (plain) this.deny(plain.name, refusal(plain.name));
  }

  /** A refusal on security grounds: logged as a denial, then EPERM. */
  private deny(actor: string, message: string): never {
    this.core.platform.events.emit({ kind: 'denial', actor, buffer: this.id, message });
    throw new SmafError('EPERM', message);
  }

  /** Memory that a newly attached device cannot address: EBUSY when pinned, else migrate. */
  private fitFor(device: Device, backing: Backing): void {
    const problem = unsuitableReason(backing, device);
    if (!problem) return;
    const pins = this.pinnedBy();
    if (pins.length > 0) {
      throw new SmafError('EBUSY', `Cannot attach device "${device.name}" to buffer ${this.id}: ${problem}; the memory cannot move while the buffer has ${pins.join(' and ')}`);
    }
    this.backingImpl = migrate(this, backing, device, problem, this.log);
  }

  private attachment(att: Attachment): Attachment {
    this.alive();
    if (att.buffer !== this || att.detached || this.attachmentMap?.get(att.id) !== att) {
      throw new SmafError('EINVAL', `attachment ${att.id} is not attached to buffer ${this.id}`);
    }
    return att;
  }

  /** Forget a device. EBUSY while it is still mapped (unmap first). */
  detach(att: Attachment): void {
    this.attachment(att);
    if (att.mapping) throw new SmafError('EBUSY', `cannot detach "${att.device.name}" from buffer ${this.id}: it is still mapped (unmap first)`);
    this.attachmentMap!.delete(att.id);
    att.detached = true;
    const { id } = this;
    const device = att.device.name;
    this.core.platform.events.emit({ kind: 'detach', actor: device, buffer: id, message: eventText.detached({ id, device }) });
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
    // the memory suits every attached device: chosen for them, or migrated (or refused) at attach
    const backing = this.ensureBacking(`map by ${dev.name}`);
    return mapForDevice(this, att, backing, direction, this.secureCtx).segments;
  }

  /** Unmap: revokes the grants made at map and frees the IOVA. */
  unmap(att: Attachment): void {
    this.attachment(att);
    if (!att.mapping) throw new SmafError('EINVAL', `buffer ${this.id} is not mapped for "${att.device.name}"`);
    unmapForDevice(this, att, this.secureCtx);
  }

  // ---- CPU access --------------------------------------------------------------------------

  /** User mapping of [offset, offset+length); prot is PROT_READ|PROT_WRITE bits. */
  mmap(offset: number, length: number, prot: number): CpuMapping {
    this.alive();
    checkMmapRange(this, offset, length, prot);
    if ((prot & PROT_WRITE) !== 0 && (this.flags & SMAF_RDWR) === 0) {
      throw new SmafError('EACCES', `buffer ${this.id} was created read-only (no SMAF_RDWR): it cannot be mapped for writing`);
    }
    checkCpuAccess(this, this.secureCtx, 'mmap', protMode(prot));
    this.ensureBacking('mmap by cpu');
    return this.addCpuMapping('mmap', offset, length, prot);
  }

  /** Kernel mapping of the whole buffer. */
  vmap(): CpuMapping {
    this.alive();
    checkCpuAccess(this, this.secureCtx, 'vmap', 'read-write');
    this.ensureBacking('vmap by cpu');
    return this.addCpuMapping('vmap', 0, this.length, PROT_READ | PROT_WRITE);
  }

  private addCpuMapping(kind: 'mmap' | 'vmap', offset: number, length: number, prot: number): CpuMapping {
    const m = new CpuMapping(this.nextMapping++, this, kind, offset, length, prot);
    (this.cpuMaps ??= new Map()).set(m.id, m);
    const { id } = this;
    this.core.platform.events.emit({ kind: 'cpu-access', actor: 'cpu', buffer: id, message: eventText.cpuMapped({ id, kind, length }) });
    return m;
  }

  munmap(m: CpuMapping): void {
    this.alive();
    if (m.buffer !== this || m.closed || this.cpuMaps?.get(m.id) !== m) throw new SmafError('EINVAL', `mapping ${m.id} is not a live mapping of buffer ${this.id}`);
    m.closed = true;
    this.cpuMaps.delete(m.id);
  }

  /** Bracket CPU access (DMA_BUF_IOCTL_SYNC START); allocates at first need. */
  beginCpuAccess(mode: CpuAccessMode): void {
    this.alive();
    checkCpuAccess(this, this.secureCtx, 'begin_cpu_access', mode);
    this.ensureBacking('begin_cpu_access by cpu');
    this.cpuAccessDepth++;
  }

  endCpuAccess(_mode: CpuAccessMode): void {
    this.alive();
    if (this.cpuAccessDepth === 0) throw new SmafError('EINVAL', `end_cpu_access on buffer ${this.id} without begin_cpu_access`);
    this.cpuAccessDepth--;
  }

  // ---- release -----------------------------------------------------------------------------

  /**
   * Last reference gone: revoke every grant, scrub, destroy the secure context, return the memory.
   * Always completes, whatever a plugin does (teardown.ts). Memory whose secure context the module
   * failed to destroy is scrubbed but never handed out again (quarantined): the secure world may
   * still let a device reach it.
   */
  private release(): void {
    for (const att of this.attachmentMap?.values() ?? []) {
      unmapForDevice(this, att, this.secureCtx);
      att.detached = true;
    }
    this.attachmentMap = null;
    for (const m of this.cpuMaps?.values() ?? []) m.closed = true;
    this.cpuMaps = null;
    this.cpuAccessDepth = 0;
    const module = this.core.secureModule;
    const ctx = this.secureCtx;
    const secureGone = ctx === null || !module || teardownStep(this, module.name, 'destroying its secure context', () => module.destroyContext(ctx));
    this.secureCtx = null;
    const b = this.backingImpl;
    if (b) {
      scrub(this.core, b);
      if (secureGone) teardownStep(this, b.allocator, 'returning its memory', () => this.core.releaseBacking(b, this.length));
      else this.core.quarantine(b, this.length, `buffer ${this.id}'s secure context could not be destroyed`);
      this.backingImpl = null;
    }
    this.state |= RELEASED;
    this.core.forget(this);
    const { id, length } = this;
    const message = eventText.released({ id, length, label: this.labelValue, allocator: b ? b.allocator : null });
    this.core.platform.events.emit({ kind: 'release', actor: 'core', buffer: id, length, message });
  }

  /** Physical segments (for inspection and tests); empty before allocation. */
  get segments(): readonly SgSegment[] {
    return this.backingImpl?.segments ?? [];
  }
}
