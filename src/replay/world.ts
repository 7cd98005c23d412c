/**
 * What a replay keeps of the recorded run besides the core's own state: each client's fd table
 * (bound to the fds, attachment and mapping ids the recording names, so that later records find
 * what earlier ones made), the buffers by their recorded id, and smafd's per-client rules that
 * live above the core (limits, fd checks, CPU access brackets). The rules follow smafd's session
 * (src/daemon/session.ts) errno for errno.
 */
import { SmafError } from '../common/errors.ts';
import { formatSize } from '../common/units.ts';
import type { Attachment, CpuMapping, Smaf, SmafBuffer } from '../core/index.ts';
import type { Platform } from '../platform/index.ts';

/** smafd's limits a replay enforces (those of the recording's header; none without one). */
export interface ReplayLimits {
  readonly maxFds?: number;
  readonly maxClientBytes?: number;
  readonly maxClientBuffers?: number;
  readonly maxAttachmentsPerFd?: number;
  readonly maxMappingsPerFd?: number;
  readonly maxIo?: number;
  readonly maxClientSecureMaps?: number;
  readonly maxBuffers?: number;
  readonly maxTotalFds?: number;
}

/** A client's fd: its buffer, and its attachments and mappings by the ids the recording gave them. */
export class ReplayFd {
  private atts: Map<number, Attachment> | null = null;
  private maps: Map<number, CpuMapping> | null = null;

  /** `recordedBuffer`: the buffer's id in the recording. */
  constructor(readonly fd: number, readonly buffer: SmafBuffer, readonly recordedBuffer: number | undefined) {}

  /** Attachments and mappings by the ids the recording gave them (none until the first: most fds of a big replay have none). */
  get attachments(): Map<number, Attachment> {
    return (this.atts ??= new Map());
  }

  get mappings(): Map<number, CpuMapping> {
    return (this.maps ??= new Map());
  }

  get attachmentCount(): number {
    return this.atts?.size ?? 0;
  }

  get mappingCount(): number {
    return this.maps?.size ?? 0;
  }

  /** What closing the fd drops: its mappings, then its attachments. */
  drop(): void {
    const buf = this.buffer;
    for (const m of this.maps?.values() ?? []) if (!m.closed) buf.munmap(m);
    for (const a of this.atts?.values() ?? []) {
      if (a.detached) continue;
      if (a.mapped) buf.unmap(a);
      buf.detach(a);
    }
  }
}

export class ReplayClient {
  readonly fds = new Map<number, ReplayFd>();
  /** fds held per buffer (a buffer counts once against the limits, as smafd's HeldBuffers). */
  readonly held = new Map<SmafBuffer, number>();
  /** DMA_BUF_IOCTL_SYNC STARTs not yet ENDed, per dma-buf. */
  readonly cpuAccess = new Map<SmafBuffer, number>();
  bytes = 0;
  /** Its TEE contexts (open ones) and shared memory, by the ids the recording gave them. */
  readonly teeContexts = new Set<number>();
  readonly teeShms = new Map<number, { readonly ctx: number; readonly buffer?: SmafBuffer }>();
  comm: string | null = null;
  pid: number | null = null;
  gone = false;

  constructor(readonly id: number) {}

  get principal(): string {
    return `client ${this.id}`;
  }

  get label(): string {
    return this.comm === null ? `client ${this.id}` : `client ${this.id} (${this.comm}, pid ${this.pid})`;
  }
}

export class ReplayWorld {
  readonly clients = new Map<number, ReplayClient>();
  /** Replayed buffers by the id the recording gave them. */
  readonly buffers = new Map<number, SmafBuffer>();
  readonly exported = new Set<SmafBuffer>();
  private totalFds = 0;
  /** Where a recorded fd, attachment or mapping went missing: the record that failed to make it. */
  readonly lost = new Map<string, number>();

  constructor(readonly smaf: Smaf, readonly limits: ReplayLimits) {}

  get platform(): Platform {
    return this.smaf.platform;
  }

  client(id: number): ReplayClient {
    let c = this.clients.get(id);
    if (!c) this.clients.set(id, (c = new ReplayClient(id)));
    return c;
  }

  entry(c: ReplayClient, fd: number): ReplayFd {
    const e = c.fds.get(fd);
    if (!e) throw new SmafError('EBADF', fd === -1 ? 'this op needs a buffer fd, not the device (fd -1)' : `fd ${fd} is not open in this client${this.why(`${c.id}:fd:${fd}`)}`);
    return e;
  }

  attachment(c: ReplayClient, e: ReplayFd, id: number): Attachment {
    const a = e.attachments.get(id);
    if (!a) throw new SmafError('EINVAL', `no attachment ${id} on fd ${e.fd}${this.why(`${c.id}:att:${e.fd}:${id}`)}`);
    return a;
  }

  mapping(c: ReplayClient, e: ReplayFd, id: number): CpuMapping {
    const m = e.mappings.get(id);
    if (!m) throw new SmafError('EINVAL', `no mapping ${id} on fd ${e.fd}${this.why(`${c.id}:map:${e.fd}:${id}`)}`);
    return m;
  }

  private why(key: string): string {
    const seq = this.lost.get(key);
    return seq === undefined ? '' : ` (operation #${seq}, which made it in the recording, failed in this replay)`;
  }

  // ---- smafd's limits (src/daemon/context.ts, Limits) ------------------------------------------

  checkCreate(c: ReplayClient, length: number | bigint): void {
    const l = this.limits;
    if (l.maxBuffers !== undefined && this.smaf.bufferCount >= l.maxBuffers) throw new SmafError('ENOMEM', `the replay holds ${this.smaf.bufferCount} buffers in all, the limit (max_buffers) is ${l.maxBuffers}`);
    if (l.maxClientBuffers !== undefined && c.held.size >= l.maxClientBuffers) throw new SmafError('ENOMEM', `${c.label} holds ${c.held.size} buffers, the per-client limit (max_client_buffers) is ${l.maxClientBuffers}`);
    const over = typeof length === 'number' ? c.bytes + length > (l.maxClientBytes ?? Infinity) : l.maxClientBytes !== undefined && BigInt(c.bytes) + length > BigInt(l.maxClientBytes);
    if (l.maxClientBytes !== undefined && over) {
      throw new SmafError('ENOMEM', `${c.label} holds ${formatSize(c.bytes)}; ${length} more bytes would pass the per-client limit (max_client_bytes) of ${formatSize(l.maxClientBytes)}`);
    }
  }

  checkAttachments(c: ReplayClient, e: ReplayFd): void {
    const max = this.limits.maxAttachmentsPerFd;
    if (max !== undefined && e.attachmentCount >= max) throw new SmafError('ENOMEM', `${c.label}: ${e.attachmentCount} attachments on one fd, the limit (max_attachments_per_fd) is ${max}`);
  }

  checkMappings(c: ReplayClient, e: ReplayFd): void {
    const max = this.limits.maxMappingsPerFd;
    if (max !== undefined && e.mappingCount >= max) throw new SmafError('ENOMEM', `${c.label}: ${e.mappingCount} mappings on one fd, the limit (max_mappings_per_fd) is ${max}`);
  }

  checkSecureMaps(c: ReplayClient, buf: SmafBuffer): void {
    const max = this.limits.maxClientSecureMaps;
    if (max === undefined) return;
    const mapped = new Set<SmafBuffer>();
    for (const e of c.fds.values()) if (e.buffer.secure && e.attachmentCount > 0 && [...e.attachments.values()].some((a) => a.mapped)) mapped.add(e.buffer);
    if (!mapped.has(buf) && mapped.size >= max) throw new SmafError('ENOSPC', `${c.label} has ${mapped.size} secure buffers mapped, the per-client limit (max_client_secure_maps) is ${max}`);
  }

  // ---- the fd table ----------------------------------------------------------------------------

  /** fds: EMFILE past the client's limit, ENFILE past the replay's. */
  checkFds(c: ReplayClient): void {
    const l = this.limits;
    if (l.maxFds !== undefined && c.fds.size >= l.maxFds) throw new SmafError('EMFILE', `${c.label} has ${c.fds.size} fds open, the limit (max_fds) is ${l.maxFds}`);
    if (l.maxTotalFds !== undefined && this.totalFds >= l.maxTotalFds) throw new SmafError('ENFILE', `the replay has ${this.totalFds} fds open in all, the limit (max_total_fds) is ${l.maxTotalFds}`);
  }

  /** Put a buffer reference under the fd number the recording gave it (and the buffer under its recorded id). */
  install(c: ReplayClient, fd: number, buf: SmafBuffer, recordedBuffer: number | undefined): void {
    const old = c.fds.get(fd);
    if (old) this.closeFd(c, old); // the recording reuses an fd this replay never closed: it diverged before
    c.fds.set(fd, new ReplayFd(fd, buf, recordedBuffer));
    if (recordedBuffer !== undefined) this.buffers.set(recordedBuffer, buf);
    const n = c.held.get(buf) ?? 0;
    c.held.set(buf, n + 1);
    if (n === 0) c.bytes += buf.length;
    this.totalFds++;
  }

  /** Close an fd as smafd does: its mappings and attachments go, its CPU accesses end with the client's last fd of the buffer, then the reference. */
  closeFd(c: ReplayClient, e: ReplayFd): void {
    c.fds.delete(e.fd);
    this.totalFds--;
    const buf = e.buffer;
    if (!buf.released) e.drop();
    const n = c.held.get(buf) ?? 0;
    if (n <= 1) {
      c.held.delete(buf);
      c.bytes -= buf.length;
      if (!buf.released) for (let k = c.cpuAccess.get(buf) ?? 0; k > 0; k--) buf.endCpuAccess('read-write');
      c.cpuAccess.delete(buf);
    } else c.held.set(buf, n - 1);
    if (!buf.released) buf.put();
    if (buf.released) this.forget(buf, e.recordedBuffer);
  }

  /** TEE shared memory goes (a dma-buf's reference with it). */
  releaseShm(c: ReplayClient, id: number): void {
    const shm = c.teeShms.get(id);
    if (!shm) throw new SmafError('EBADF', `TEE_SHM_RELEASE: no shared memory ${id} in this client`);
    c.teeShms.delete(id);
    const buf = shm.buffer;
    if (buf && !buf.released) {
      buf.put();
      if (buf.released) this.forget(buf, undefined);
    }
  }

  /** A TEE context this client opened and has not closed (EBADF otherwise, as an fd of /dev/tee0). */
  teeContext(c: ReplayClient, ctx: number, what: string): void {
    if (!c.teeContexts.has(ctx)) throw new SmafError('EBADF', `${what}: no open TEE context ${ctx} in this client`);
  }

  /** A released buffer: no record can name it any more (an IMPORT of it is ENOENT). */
  private forget(buf: SmafBuffer, recorded: number | undefined): void {
    this.exported.delete(buf);
    if (recorded !== undefined && this.buffers.get(recorded) === buf) this.buffers.delete(recorded);
  }

  /** The client is gone: every fd it held closes, and its TEE shared memory goes, as a process exit. */
  disconnect(c: ReplayClient): void {
    for (const e of [...c.fds.values()]) this.closeFd(c, e);
    for (const id of [...c.teeShms.keys()]) this.releaseShm(c, id);
    c.gone = true;
    this.clients.delete(c.id);
  }
}
