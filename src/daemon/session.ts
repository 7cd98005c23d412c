/**
 * One client of smafd: its fd table and the handling of every op of the wire protocol. Pure
 * logic (request in, response out), no sockets, so that tests and the fuzzer drive it directly.
 * A client that goes away is `close()`d: every fd it held is closed, exactly as a process exit.
 */
import { Errno, isInternalError, SmafError, toSmafError } from '../common/errors.ts';
import {
  DMA_SLICE, dmaCopySteps, dmaCrcSteps, explain, PROT_READ, PROT_WRITE, type Attachment, type CpuMapping, type DmaDirection, type SmafBuffer,
} from '../core/index.ts';
import {
  decodeName, decodeStruct, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_VALID, DMA_BUF_SYNC_WRITE, DEVICE_FD, encodeName,
  encodeStruct, findIoctl, fitStruct, COMM_LEN, DMA_BUF_NAME_LEN, iocSize, nonZeroReserved, Op, opDef, SMAF_NAME_LEN, type IoctlDef, type Request, type Response,
} from '../uapi/index.ts';
import type { DaemonContext } from './context.ts';
import { heaps } from './heaps.ts';
import { HeldBuffers } from './held-buffers.ts';
import { processes } from './processes.ts';
import { operatorOp } from './operator-ops.ts';

export const FIRST_FD = 3;

interface FdEntry {
  readonly fd: number;
  readonly buffer: SmafBuffer;
  readonly attachments: Map<number, Attachment>;
  readonly mappings: Map<number, CpuMapping>;
}

/** What an op answers: a result and its payload. */
interface Outcome {
  result: number;
  payload?: Uint8Array;
}

/** An op's work: done at once, or sliced (a generator that yields between slices). */
type Work = Outcome | Generator<void, Outcome>;

function isSliced(w: Work): w is Generator<void, Outcome> {
  return typeof (w as Generator<void, Outcome>).next === 'function';
}

/**
 * A request whose work is sliced (large DMA, READ, WRITE): the daemon calls `step()` until it
 * returns the response, and serves other clients in between.
 */
export interface SlicedRequest {
  readonly request: Request;
  step(): Response | null;
}

/** Reads [offset, offset+length) of a CPU mapping, one slice at a time. */
function* readSteps(m: CpuMapping, offset: number, length: number): Generator<void, Outcome> {
  const out = new Uint8Array(length);
  for (let done = 0; done < length; done += DMA_SLICE) {
    if (done > 0) yield;
    out.set(m.read(offset + done, Math.min(DMA_SLICE, length - done)), done);
  }
  return { result: length, payload: out };
}

function* writeSteps(m: CpuMapping, offset: number, data: Uint8Array): Generator<void, Outcome> {
  for (let done = 0; done < data.length; done += DMA_SLICE) {
    if (done > 0) yield;
    m.write(offset + done, data.subarray(done, done + DMA_SLICE));
  }
  return { result: data.length };
}

function* mapOutcome<T>(steps: Generator<void, T>, f: (v: T) => Outcome): Generator<void, Outcome> {
  return f(yield* steps);
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

export interface SessionOptions {
  /** Connected on the operator's admin socket: may see every client's buffers. */
  readonly admin?: boolean;
}

export class ClientSession {
  private readonly fds = new Map<number, FdEntry>();
  private readonly held = new HeldBuffers();
  /** DMA_BUF_IOCTL_SYNC STARTs not yet ENDed, per dma-buf (not per fd, as in the kernel). */
  private readonly cpuAccess = new Map<SmafBuffer, number>();
  private closed = false;
  readonly admin: boolean;
  readonly connectedAt = Date.now();
  requests = 0;

  /** What the client announced with HELLO (self-declared, not verified). */
  pid: number | null = null;
  comm: string | null = null;

  constructor(readonly id: number, private readonly ctx: DaemonContext, options: SessionOptions = {}) {
    this.admin = options.admin ?? false;
  }

  /** Whose data this client's DMA writes into secure memory (see platform/provenance.ts). */
  get principal(): string {
    return `client ${this.id}`;
  }

  /** `client 7`, or `client 7 (gst-launch-1.0, pid 4242)` once it said hello. */
  get label(): string {
    return this.comm === null ? `client ${this.id}` : `client ${this.id} (${this.comm}, pid ${this.pid})`;
  }

  /** Handle one request to its end; never throws: errors become `-errno` with a message. */
  handle(req: Request): Response {
    const r = this.begin(req);
    if ('id' in r) return r;
    for (;;) {
      const done = r.step();
      if (done) return done;
    }
  }

  /**
   * Start a request: the response, or a sliced request to `step()` until it answers. Never throws.
   * A bug in the handling (anything not raised as a SmafError) becomes EIO for this request only,
   * logged with its stack and counted (`smaf doctor`, the dashboard).
   */
  begin(req: Request): Response | SlicedRequest {
    this.requests++;
    let work: Work;
    // the journal records this client as the one acting, through every slice of its work
    const journal = this.ctx.journal;
    try {
      work = journal.actAs(this, () => this.dispatch(req));
    } catch (e) {
      return this.failure(req, e);
    }
    if (!isSliced(work)) return this.reply(req, work);
    const steps = work;
    return {
      request: req,
      step: () => {
        try {
          const r = journal.actAs(this, () => steps.next());
          return r.done ? this.reply(req, r.value) : null;
        } catch (e) {
          return this.failure(req, e);
        }
      },
    };
  }

  private reply(req: Request, o: Outcome): Response {
    return { id: req.id, result: o.result, payload: o.payload ?? new Uint8Array(0) };
  }

  private failure(req: Request, e: unknown): Response {
    const err = toSmafError(e);
    if (isInternalError(e)) this.ctx.internalError(e, { client: this.id, op: req.op });
    if (this.ctx.verbose) this.ctx.log.debug({ client: this.id, op: req.op, fd: req.fd, errno: err.code }, err.message);
    return { id: req.id, result: -err.errno, payload: enc.encode(err.message) };
  }

  private dispatch(req: Request): Work {
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
      case Op.X_STATE: {
        if (req.fd !== DEVICE_FD) throw new SmafError('EINVAL', 'X_STATE goes to the device (fd -1)');
        if (p.length !== 0 && p.length !== 8) throw new SmafError('EINVAL', `X_STATE takes 0 or 8 payload bytes (u32 offset, u32 limit), got ${p.length}`);
        const page = p.length === 8 ? { offset: u32(p, 0), limit: u32(p, 4) } : {};
        const state = this.ctx.state({ ...page, viewer: this.admin ? null : this });
        return { result: 0, payload: enc.encode(JSON.stringify(state)) };
      }
      case Op.X_PS:
        if (req.fd !== DEVICE_FD) throw new SmafError('EINVAL', 'X_PS goes to the device (fd -1)');
        this.operatorOnly('X_PS (smaf ps)');
        return { result: 0, payload: enc.encode(JSON.stringify(processes(this.ctx))) };
      case Op.X_HEAPS:
        if (req.fd !== DEVICE_FD) throw new SmafError('EINVAL', 'X_HEAPS goes to the device (fd -1)');
        return { result: 0, payload: enc.encode(JSON.stringify(heaps(this.ctx.smaf))) };
      case Op.X_CHECK: {
        if (req.fd !== DEVICE_FD) throw new SmafError('EINVAL', 'X_CHECK goes to the device (fd -1)');
        this.operatorOnly('X_CHECK (smaf doctor)');
        const report = this.ctx.selfCheck();
        return { result: report.ok ? 0 : -Errno.EIO, payload: enc.encode(JSON.stringify(report)) };
      }
      case Op.X_EVENTS:
      case Op.X_TRACE:
        if (req.op === Op.X_TRACE) this.operatorOnly('X_TRACE (smaf trace export)');
        // a client sees the events of the buffers it holds; the operator sees all
        return operatorOp(this.ctx, req, this.admin ? null : (bufferId) => this.holds(bufferId));
      case Op.X_EXPLAIN: {
        const buf = req.fd === DEVICE_FD ? this.visibleBuffer(u32(p, 0)) : this.entry(req.fd).buffer;
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
        if (buf.secure) this.ctx.limits.checkSecureMaps(this, this.secureBuffersMapped(), this.secureBuffersMapped().has(buf));
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
        m.check(offset, length, PROT_READ); // before any work
        return readSteps(m, offset, length);
      }
      case Op.WRITE: {
        if (p.length < 12) throw new SmafError('EINVAL', `WRITE needs at least 12 payload bytes, got ${p.length}`);
        this.notSecure(buf, 'WRITE');
        const m = this.mapping(entry, u32(p, 0));
        const offset = safe(u64(p, 4), 'offset');
        m.check(offset, p.length - 12, PROT_WRITE);
        return this.bumping(buf, writeSteps(m, offset, p.subarray(12)));
      }
      case Op.SET_NAME: {
        let name: string;
        try {
          name = decodeName(p);
        } catch (e) {
          throw new SmafError('EINVAL', `SET_NAME: ${(e as Error).message} (at most ${DMA_BUF_NAME_LEN - 1} bytes)`);
        }
        buf.setLabel([...name].map((ch) => (ch < ' ' || ch === '\x7f' ? '?' : ch)).join(''));
        return { result: 0 };
      }
      case Op.GENERATION:
        return { result: this.ctx.generations.get(buf) };
      case Op.EXPORT:
        buf.markShared();
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
        const steps = dmaCopySteps(dst, dstOffset, src, srcOffset, length, transform, this.principal);
        return this.bumping(buf, mapOutcome(steps, (n) => ({ result: n })));
      }
      case Op.DMA_CRC: {
        const att = this.attachment(entry, u32(p, 0));
        if (u32(p, 4) !== 0) throw new SmafError('EINVAL', 'DMA_CRC reserved field must be 0');
        const steps = dmaCrcSteps(att, safe(u64(p, 8), 'offset'), safe(u64(p, 16), 'length'), this.principal);
        return mapOutcome(steps, (crc) => {
          const out = new Uint8Array(4);
          new DataView(out.buffer).setUint32(0, crc, true);
          return { result: 0, payload: out };
        });
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
        // CPU access is tracked per dma-buf, as the kernel does: END may come on any fd of it
        const depth = this.cpuAccess.get(entry.buffer) ?? 0;
        if ((flags & DMA_BUF_SYNC_END) !== 0n) {
          if (depth === 0) throw new SmafError('EINVAL', `DMA_BUF_IOCTL_SYNC END without START on buffer ${entry.buffer.id} (through any of this client's fds)`);
          entry.buffer.endCpuAccess(mode);
          if (depth === 1) this.cpuAccess.delete(entry.buffer);
          else this.cpuAccess.set(entry.buffer, depth - 1);
        } else {
          entry.buffer.beginCpuAccess(mode);
          this.cpuAccess.set(entry.buffer, depth + 1);
        }
        return null;
      }
    }
    throw new SmafError('ENOTTY', `ioctl ${def.name} is not implemented`);
  }

  /**
   * Work that writes into a buffer moves its write generation before and after (a CPU copy taken
   * while the slices run is stale too), even when it fails part-way.
   */
  private *bumping(buf: SmafBuffer, steps: Generator<void, Outcome>): Generator<void, Outcome> {
    this.ctx.generations.bump(buf);
    try {
      return yield* steps;
    } finally {
      this.ctx.generations.bump(buf);
    }
  }

  /** Introspection of everything is the operator's (the admin socket). */
  private operatorOnly(what: string): void {
    if (!this.admin) throw new SmafError('EPERM', `${what} shows every client's buffers: it is only answered on the operator's admin socket`);
  }

  /** A buffer by id, if this client may see it: one it holds an fd of, or any for the operator. */
  private visibleBuffer(id: number): SmafBuffer {
    if (this.admin) return this.ctx.smaf.buffer(id);
    for (const e of this.fds.values()) if (e.buffer.id === id) return e.buffer;
    throw new SmafError('ENOENT', `no buffer ${id} among those this client holds (the operator's admin socket explains any buffer)`);
  }

  /** Secure buffers this client has mapped for some device (each holds a region of the SDP table). */
  private secureBuffersMapped(): Set<SmafBuffer> {
    const out = new Set<SmafBuffer>();
    for (const e of this.fds.values()) {
      if (!e.buffer.secure) continue;
      for (const a of e.attachments.values()) if (a.mapped) out.add(e.buffer);
    }
    return out;
  }

  /** Whether this client holds an fd of the buffer. */
  holds(bufferId: number): boolean {
    for (const e of this.fds.values()) if (e.buffer.id === bufferId) return true;
    return false;
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
    this.fds.set(fd, { fd, buffer: buf, attachments: new Map(), mappings: new Map() });
    this.held.add(buf);
    this.ctx.limits.totalFds++;
    this.ctx.noteHolder(buf, this);
    return fd;
  }

  private closeFd(entry: FdEntry): void {
    this.fds.delete(entry.fd);
    this.ctx.limits.totalFds--;
    const buf = entry.buffer;
    if (!buf.released) {
      for (const m of entry.mappings.values()) if (!m.closed) buf.munmap(m);
      for (const a of entry.attachments.values()) {
        if (a.detached) continue;
        if (a.mapped) buf.unmap(a);
        buf.detach(a);
      }
    }
    entry.mappings.clear();
    entry.attachments.clear();
    if (this.held.remove(buf)) {
      // the client's last fd of this dma-buf: CPU accesses it left open end with it
      if (!buf.released) for (let n = this.cpuAccess.get(buf) ?? 0; n > 0; n--) buf.endCpuAccess('read-write');
      this.cpuAccess.delete(buf);
      this.ctx.dropHolder(buf, this);
    }
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
    return { fds: this.fds.size, buffers: this.held.buffers, bytes: this.held.bytes };
  }

  get openFds(): readonly number[] {
    return [...this.fds.keys()];
  }

  holdings(): { fd: number; buffer: SmafBuffer; mappings: number; attachments: number }[] {
    return [...this.fds.values()].map((e) => ({ fd: e.fd, buffer: e.buffer, mappings: e.mappings.size, attachments: e.attachments.size }));
  }

  /** The buffers behind this client's fds (for the daemon's self-check). */
  heldBuffers(): SmafBuffer[] {
    return [...this.fds.values()].map((e) => e.buffer);
  }
}
