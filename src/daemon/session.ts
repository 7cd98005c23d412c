/**
 * One client of smafd: its fd table and the handling of every op of the wire protocol. Pure
 * logic (request in, response out), no sockets, so that tests and the fuzzer drive it directly.
 * A client that goes away is `close()`d: every fd it held is closed, exactly as a process exit.
 */
import { Errno, SmafError, toSmafError } from '../common/errors.ts';
import {
  dmaCopy, dmaCrc, explain, type Attachment, type CpuMapping, type DmaDirection, type SmafBuffer,
} from '../core/index.ts';
import {
  decodeName, decodeStruct, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_VALID, DMA_BUF_SYNC_WRITE, DEVICE_FD, encodeName,
  encodeStruct, findIoctl, fitStruct, COMM_LEN, iocSize, nonZeroReserved, Op, opDef, SMAF_NAME_LEN, type IoctlDef, type Request, type Response,
} from '../uapi/index.ts';
import type { DaemonContext } from './context.ts';
import { operatorOp } from './operator-ops.ts';

export const FIRST_FD = 3;

interface FdEntry {
  readonly fd: number;
  readonly buffer: SmafBuffer;
  readonly attachments: Map<number, Attachment>;
  readonly mappings: Map<number, CpuMapping>;
  syncDepth: number;
}

const enc = new TextEncoder();

function u32(p: Uint8Array, o: number): number {
  return new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(o, true);
}
function s32(p: Uint8Array, o: number): number {
  return new DataView(p.buffer, p.byteOffset, p.byteLength).getInt32(o, true);
}
function u64(p: Uint8Array, o: number): bigint {
  return new DataView(p.buffer, p.byteOffset, p.byteLength).getBigUint64(o, true);
}

/** A u64 from the wire as a safe JS number, or EINVAL naming the field. */
function safe(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SmafError('EINVAL', `${what} ${v} is out of range`);
  return Number(v);
}

export class ClientSession {
  private readonly fds = new Map<number, FdEntry>();
  private closed = false;
  readonly connectedAt = Date.now();
  requests = 0;

  /** What the client announced with HELLO (self-declared, not verified). */
  pid: number | null = null;
  comm: string | null = null;

  constructor(readonly id: number, private readonly ctx: DaemonContext) {}

  /** `client 7`, or `client 7 (gst-launch-1.0, pid 4242)` once it said hello. */
  get label(): string {
    return this.comm === null ? `client ${this.id}` : `client ${this.id} (${this.comm}, pid ${this.pid})`;
  }

  /** Handle one request; never throws: errors become `-errno` with a message. */
  handle(req: Request): Response {
    this.requests++;
    try {
      const { result, payload } = this.ctx.journal.actAs(this, () => this.dispatch(req));
      return { id: req.id, result, payload: payload ?? new Uint8Array(0) };
    } catch (e) {
      const err = toSmafError(e);
      if (err.code === 'EIO') this.ctx.log.error({ client: this.id, op: req.op, err: (e as Error).stack }, 'internal error');
      if (this.ctx.verbose) this.ctx.log.debug({ client: this.id, op: req.op, fd: req.fd, errno: err.code }, err.message);
      return { id: req.id, result: -err.errno, payload: enc.encode(err.message) };
    }
  }

  private dispatch(req: Request): { result: number; payload?: Uint8Array } {
    if (this.closed) throw new SmafError('EBADF', 'session is closed');
    if (req.op >= 0x100) return this.ioctl(req);
    const def = opDef(req.op);
    if (!def) throw new SmafError('ENOTTY', `unknown op ${req.op}`);
    if (def.payloadSize !== null && req.payload.length !== def.payloadSize) {
      throw new SmafError('EINVAL', `${def.name} takes ${def.payloadSize} payload bytes, got ${req.payload.length}`);
    }
    const p = req.payload;
    switch (req.op) {
      case Op.IMPORT: {
        if (req.fd !== DEVICE_FD) throw new SmafError('EINVAL', 'IMPORT goes to the device (fd -1)');
        const buf = this.ctx.tokens.lookup(p);
        buf.get();
        return { result: this.install(buf, () => buf.put()) };
      }
      case Op.HELLO: {
        if (req.fd !== DEVICE_FD) throw new SmafError('EINVAL', 'HELLO goes to the device (fd -1)');
        if (u32(p, 4) !== 0) throw new SmafError('EINVAL', 'HELLO: reserved field must be 0');
        let comm: string;
        try {
          comm = decodeName(p.subarray(8, 8 + COMM_LEN));
        } catch (e) {
          throw new SmafError('EINVAL', `HELLO: comm ${(e as Error).message}`);
        }
        this.pid = u32(p, 0);
        this.comm = [...comm].map((ch) => (ch < ' ' || ch === '\x7f' ? '?' : ch)).join('');
        return { result: 0 };
      }
      case Op.X_STATE:
        if (req.fd !== DEVICE_FD) throw new SmafError('EINVAL', 'X_STATE goes to the device (fd -1)');
        return { result: 0, payload: enc.encode(JSON.stringify(this.ctx.state())) };
      case Op.X_CHECK: {
        if (req.fd !== DEVICE_FD) throw new SmafError('EINVAL', 'X_CHECK goes to the device (fd -1)');
        const report = this.ctx.selfCheck();
        return { result: report.ok ? 0 : -Errno.EIO, payload: enc.encode(JSON.stringify(report)) };
      }
      case Op.X_EVENTS:
      case Op.X_TRACE:
        return operatorOp(this.ctx, req);
      case Op.X_EXPLAIN: {
        const buf = req.fd === DEVICE_FD ? this.ctx.smaf.buffer(u32(p, 0)) : this.entry(req.fd).buffer;
        return { result: 0, payload: enc.encode(JSON.stringify(explain(buf))) };
      }
    }
    const entry = this.entry(req.fd);
    const buf = entry.buffer;
    switch (req.op) {
      case Op.CLOSE:
        this.closeFd(entry);
        return { result: 0 };
      case Op.DUP:
        buf.get();
        return { result: this.install(buf, () => buf.put()) };
      case Op.ATTACH: {
        let name: string;
        try {
          name = decodeName(p);
        } catch (e) {
          throw new SmafError('EINVAL', `device name: ${(e as Error).message}`);
        }
        this.ctx.limits.checkAttachments(this, entry.attachments.size);
        const att = buf.attach(this.ctx.platform.device(name));
        entry.attachments.set(att.id, att);
        return { result: att.id };
      }
      case Op.DETACH: {
        const att = this.attachment(entry, u32(p, 0));
        buf.detach(att);
        entry.attachments.delete(att.id);
        return { result: 0 };
      }
      case Op.MAP: {
        const att = this.attachment(entry, u32(p, 0));
        const dir = u32(p, 4);
        if (dir > 2) throw new SmafError('EINVAL', `invalid direction ${dir} (0 bidirectional, 1 to device, 2 from device)`);
        const segs = buf.map(att, dir as DmaDirection);
        const out = new Uint8Array(segs.length * 16);
        const v = new DataView(out.buffer);
        segs.forEach((s, i) => {
          v.setBigUint64(i * 16, BigInt(s.dma), true);
          v.setBigUint64(i * 16 + 8, BigInt(s.length), true);
        });
        return { result: segs.length, payload: out };
      }
      case Op.UNMAP:
        buf.unmap(this.attachment(entry, u32(p, 0)));
        return { result: 0 };
      case Op.MMAP: {
        const offset = u64(p, 0);
        const length = u64(p, 8);
        const prot = u32(p, 16);
        if (length === 0n || offset + length > BigInt(buf.length)) {
          throw new SmafError('EINVAL', `cannot map ${offset}+${length} of a ${buf.length}-byte buffer`);
        }
        this.ctx.limits.checkMappings(this, entry.mappings.size);
        const m = buf.mmap(Number(offset), Number(length), prot);
        entry.mappings.set(m.id, m);
        return { result: m.id };
      }
      case Op.MUNMAP: {
        const m = this.mapping(entry, u32(p, 0));
        buf.munmap(m);
        entry.mappings.delete(m.id);
        return { result: 0 };
      }
      case Op.READ: {
        this.notSecure(buf, 'READ');
        const m = this.mapping(entry, u32(p, 0));
        const offset = safe(u64(p, 4), 'offset');
        const length = u32(p, 12);
        if (length > this.ctx.limits.maxIo) throw new SmafError('EINVAL', `READ of ${length} bytes is over the ${this.ctx.limits.maxIo}-byte limit of one request`);
        const bytes = m.read(offset, length);
        return { result: bytes.length, payload: bytes };
      }
      case Op.WRITE: {
        if (p.length < 12) throw new SmafError('EINVAL', `WRITE needs at least 12 payload bytes, got ${p.length}`);
        this.notSecure(buf, 'WRITE');
        const m = this.mapping(entry, u32(p, 0));
        const offset = safe(u64(p, 4), 'offset');
        return { result: m.write(offset, p.subarray(12)) };
      }
      case Op.EXPORT:
        return { result: 0, payload: this.ctx.tokens.export(buf) };
      case Op.STAT: {
        const out = new Uint8Array(80);
        const v = new DataView(out.buffer);
        v.setBigUint64(0, BigInt(buf.length), true);
        v.setUint32(8, buf.allocated ? 1 : 0, true);
        v.setUint32(12, buf.secure ? 1 : 0, true);
        if (buf.backing) out.set(encodeName(buf.backing.allocator, SMAF_NAME_LEN), 16);
        return { result: 0, payload: out };
      }
      case Op.DMA_COPY: {
        const dst = this.attachment(entry, u32(p, 0));
        const srcEntry = this.entry(s32(p, 4));
        const src = this.attachment(srcEntry, u32(p, 8));
        const transform = u32(p, 12);
        const srcOffset = safe(u64(p, 16), 'src_offset');
        const dstOffset = safe(u64(p, 24), 'dst_offset');
        const length = safe(u64(p, 32), 'length');
        return { result: dmaCopy(dst, dstOffset, src, srcOffset, length, transform) };
      }
      case Op.DMA_CRC: {
        const att = this.attachment(entry, u32(p, 0));
        if (u32(p, 4) !== 0) throw new SmafError('EINVAL', 'DMA_CRC reserved field must be 0');
        const crc = dmaCrc(att, safe(u64(p, 8), 'offset'), safe(u64(p, 16), 'length'));
        const out = new Uint8Array(4);
        new DataView(out.buffer).setUint32(0, crc, true);
        return { result: 0, payload: out };
      }
      default:
        throw new SmafError('ENOTTY', `op ${def.name} is not valid on a buffer fd`);
    }
  }

  // ---- ioctls ------------------------------------------------------------------------------

  private ioctl(req: Request): { result: number; payload?: Uint8Array } {
    const def = findIoctl(req.op);
    if (!def) throw new SmafError('ENOTTY', `unknown ioctl 0x${req.op.toString(16)}`);
    const size = iocSize(req.op);
    if (req.payload.length !== size) throw new SmafError('EINVAL', `ioctl 0x${req.op.toString(16)} carries ${size} bytes (_IOC_SIZE), payload has ${req.payload.length}`);
    if (def.target === 'device' && req.fd !== DEVICE_FD) {
      this.entry(req.fd); // EBADF first for a bad fd, as the kernel would
      throw new SmafError('ENOTTY', `${def.name} is an ioctl of /dev/smaf (fd -1), not of a buffer fd`);
    }
    const data = fitStruct(def.struct, req.payload);
    const reserved = nonZeroReserved(def.struct, data);
    if (reserved.length) throw new SmafError('EINVAL', `${def.name}: reserved field${reserved.length > 1 ? 's' : ''} ${reserved.join(', ')} must be zero`);
    const v = decodeStruct(def.struct, data);
    if ('version' in v && v.version !== 0n) throw new SmafError('EINVAL', `${def.name}: unknown version ${v.version} (only 0)`);
    const out = this.ioctlAct(def, req, v);
    if (out === null) return { result: 0 };
    // copy out what the caller's struct holds; its extra bytes come back untouched
    const reply = new Uint8Array(size);
    reply.set(req.payload);
    reply.set(out.subarray(0, Math.min(size, out.length)));
    return { result: 0, payload: reply };
  }

  private ioctlAct(def: IoctlDef, req: Request, v: Record<string, bigint | number | Uint8Array>): Uint8Array | null {
    const smaf = this.ctx.smaf;
    switch (def.name) {
      case 'SMAF_IOC_CREATE': {
        if (v.fd !== 0) throw new SmafError('EINVAL', `SMAF_IOC_CREATE: fd must be 0 on input, got ${v.fd}`);
        let name: string;
        try {
          name = decodeName(v.name as Uint8Array);
        } catch (e) {
          throw new SmafError('EINVAL', `SMAF_IOC_CREATE: name ${(e as Error).message}`);
        }
        const length = v.length as bigint;
        this.ctx.limits.checkCreate(this, length);
        const buf = smaf.create(length, { flags: v.flags as number, ...(name ? { name } : {}) });
        const fd = this.install(buf, () => buf.put());
        if (this.ctx.verbose) this.ctx.log.debug({ client: this.id, fd, buffer: buf.id, length: buf.length }, 'created');
        return encodeStruct(def.struct, { ...v, fd });
      }
      case 'SMAF_IOC_GET_SECURE_FLAG':
      case 'SMAF_IOC_SET_SECURE_FLAG': {
        const entry = this.entry(v.fd as number);
        if (def.name === 'SMAF_IOC_GET_SECURE_FLAG') return encodeStruct(def.struct, { ...v, secure: entry.buffer.secure ? 1 : 0 });
        if (v.secure !== 0 && v.secure !== 1) throw new SmafError('EINVAL', `SMAF_IOC_SET_SECURE_FLAG: secure must be 0 or 1, got ${v.secure}`);
        entry.buffer.setSecure(v.secure === 1);
        return encodeStruct(def.struct, v);
      }
      case 'SMAF_IOC_GET_INFO': {
        const list = smaf.registry.allocators;
        const index = v.index as number;
        if (index >= list.length) throw new SmafError('EINVAL', `SMAF_IOC_GET_INFO: index ${index} out of range (${list.length} allocators)`);
        return encodeStruct(def.struct, { ...v, count: list.length, name: encodeName(list[index]!.name, SMAF_NAME_LEN) });
      }
      case 'DMA_BUF_IOCTL_SYNC': {
        const entry = this.entry(req.fd);
        const flags = v.flags as bigint;
        if ((flags & ~DMA_BUF_SYNC_VALID) !== 0n || (flags & (DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE)) === 0n) {
          throw new SmafError('EINVAL', `DMA_BUF_IOCTL_SYNC: invalid flags 0x${flags.toString(16)} (READ 1 and/or WRITE 2, START 0 or END 4)`);
        }
        const mode = (flags & 3n) === 3n ? 'read-write' : (flags & 1n) === 1n ? 'read' : 'write';
        if ((flags & DMA_BUF_SYNC_END) !== 0n) {
          if (entry.syncDepth === 0) throw new SmafError('EINVAL', 'DMA_BUF_IOCTL_SYNC END without START on this fd');
          entry.buffer.endCpuAccess(mode);
          entry.syncDepth--;
        } else {
          entry.buffer.beginCpuAccess(mode);
          entry.syncDepth++;
        }
        return null;
      }
    }
    throw new SmafError('ENOTTY', `ioctl ${def.name} is not implemented`);
  }

  /** The normal world never reads or writes secure bytes, whatever it holds. */
  private notSecure(buf: SmafBuffer, what: string): void {
    if (buf.secure) throw new SmafError('EPERM', `${what} refused: buffer ${buf.id} is secure and never CPU-accessible`);
  }

  // ---- fd table ----------------------------------------------------------------------------

  private entry(fd: number): FdEntry {
    const e = this.fds.get(fd);
    if (!e) throw new SmafError('EBADF', fd === DEVICE_FD ? 'this op needs a buffer fd, not the device (fd -1)' : `fd ${fd} is not open in this client`);
    return e;
  }

  private attachment(entry: FdEntry, id: number): Attachment {
    const a = entry.attachments.get(id);
    if (!a) throw new SmafError('EINVAL', `no attachment ${id} on fd ${entry.fd}`);
    return a;
  }

  private mapping(entry: FdEntry, id: number): CpuMapping {
    const m = entry.mappings.get(id);
    if (!m) throw new SmafError('EINVAL', `no mapping ${id} on fd ${entry.fd}`);
    return m;
  }

  /**
   * Put a buffer reference into the lowest free fd. If that fails (fd table full), the reference is
   * dropped once, through `undo`, and never again (the double free of ION's fd-install failure).
   */
  private install(buf: SmafBuffer, undo: () => void): number {
    let fd = FIRST_FD;
    while (this.fds.has(fd)) fd++;
    try {
      this.ctx.limits.checkFds(this, this.fds.size);
    } catch (e) {
      undo();
      throw e;
    }
    this.fds.set(fd, { fd, buffer: buf, attachments: new Map(), mappings: new Map(), syncDepth: 0 });
    this.ctx.noteHolder(buf, this);
    return fd;
  }

  private closeFd(entry: FdEntry): void {
    this.fds.delete(entry.fd);
    const buf = entry.buffer;
    if (!buf.released) {
      for (const m of entry.mappings.values()) if (!m.closed) buf.munmap(m);
      for (const a of entry.attachments.values()) {
        if (a.detached) continue;
        if (a.mapped) buf.unmap(a);
        buf.detach(a);
      }
      for (; entry.syncDepth > 0; entry.syncDepth--) buf.endCpuAccess('read-write');
    }
    entry.mappings.clear();
    entry.attachments.clear();
    if (![...this.fds.values()].some((e) => e.buffer === buf)) this.ctx.dropHolder(buf, this);
    if (!buf.released) buf.put();
  }

  /** The client is gone: close every fd it held, as a process exit does. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.ctx.journal.actAs(this, () => this.closeAll());
    this.closed = true;
  }

  private closeAll(): void {
    for (const entry of [...this.fds.values()]) {
      try {
        this.closeFd(entry);
      } catch (e) {
        this.ctx.log.error({ client: this.id, fd: entry.fd, err: (e as Error).message }, 'cleanup of an fd failed');
      }
    }
  }

  /** Usage of this client, for limits and `smaf info`. */
  usage(): { fds: number; buffers: number; bytes: number } {
    const bufs = new Set([...this.fds.values()].map((e) => e.buffer));
    let bytes = 0;
    for (const b of bufs) bytes += b.length;
    return { fds: this.fds.size, buffers: bufs.size, bytes };
  }

  get openFds(): readonly number[] {
    return [...this.fds.keys()];
  }

  /** The buffers behind this client's fds (for the daemon's self-check). */
  heldBuffers(): SmafBuffer[] {
    return [...this.fds.values()].map((e) => e.buffer);
  }
}
