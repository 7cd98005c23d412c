/**
 * One client of smafd: its fd table, and each request dispatched through the uapi tables to its
 * handler (op-handlers.ts, ioctl-handlers.ts). Pure logic (request in, response out), no sockets,
 * so that tests and the fuzzer drive it directly.
 * A client that goes away is `close()`d: every fd it held is closed, exactly as a process exit.
 */
import { isInternalError, SmafError, toSmafError } from '../common/errors.ts';
import type { Attachment, CpuMapping, SmafBuffer } from '../core/index.ts';
import { DEVICE_FD, opRow, type Request, type Response } from '../uapi/index.ts';
import type { DaemonContext } from './context.ts';
import { HeldBuffers } from './held-buffers.ts';
import { runIoctl } from './ioctl-handlers.ts';
import { runOp } from './op-handlers.ts';
import { isSliced, type FdEntry, type HandlerSession, type Outcome, type Work } from './op-types.ts';
import { TeeClient } from './tee-client.ts';

const FIRST_FD = 3;

const enc = new TextEncoder();

/**
 * A request whose work is sliced (large DMA, READ, WRITE): the daemon calls `step()` until it
 * returns the response, and serves other clients in between.
 */
export interface SlicedRequest {
  readonly request: Request;
  step(): Response | null;
}

export interface SessionOptions {
  /** Connected on the operator's admin socket: may see every client's buffers. */
  readonly admin?: boolean;
}

export class ClientSession implements HandlerSession {
  private readonly fds = new Map<number, FdEntry>();
  private readonly held = new HeldBuffers();
  /** DMA_BUF_IOCTL_SYNC STARTs not yet ENDed, per dma-buf (not per fd, as in the kernel). */
  readonly cpuAccess = new Map<SmafBuffer, number>();
  private closed = false;
  readonly admin: boolean;
  readonly connectedAt = Date.now();
  requests = 0;

  /** What the client announced with HELLO (self-declared, not verified). */
  pid: number | null = null;
  comm: string | null = null;
  /** Its TEE contexts, sessions and shared memory (what its /dev/tee0 holds). */
  readonly tee: TeeClient;

  constructor(readonly id: number, readonly ctx: DaemonContext, options: SessionOptions = {}) {
    this.admin = options.admin ?? false;
    this.tee = new TeeClient({ id, label: `client ${id}`, principal: `client ${id}`, platform: ctx.platform, events: ctx.platform.events });
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
    let work: Work<Outcome>;
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
    return { id: req.id, result: o.result, payload: o.payload };
  }

  private failure(req: Request, e: unknown): Response {
    const err = toSmafError(e);
    if (isInternalError(e)) this.ctx.internalError(e, { client: this.id, op: req.op });
    if (this.ctx.verbose) this.ctx.log.debug({ client: this.id, op: req.op, fd: req.fd, errno: err.code }, err.message);
    return { id: req.id, result: -err.errno, payload: enc.encode(err.message) };
  }

  /** An ioctl number goes to the ioctl table, anything else to its row of the op table. */
  private dispatch(req: Request): Work<Outcome> {
    if (this.closed) throw new SmafError('EBADF', 'session is closed');
    if (req.op >= 0x100) return runIoctl(this, req);
    const row = opRow(req.op);
    if (!row) throw new SmafError('ENOTTY', `unknown op ${req.op}`);
    return runOp(this, row, req);
  }

  /**
   * Work that writes into a buffer moves its write generation before and after (a CPU copy taken
   * while the slices run is stale too), even when it fails part-way.
   */
  *bumping<T>(buf: SmafBuffer, steps: Generator<void, T>): Generator<void, T> {
    this.ctx.generations.bump(buf);
    try {
      return yield* steps;
    } finally {
      this.ctx.generations.bump(buf);
    }
  }

  /** Introspection of everything is the operator's (the admin socket). */
  operatorOnly(what: string): void {
    if (!this.admin) throw new SmafError('EPERM', `${what} shows every client's buffers: it is only answered on the operator's admin socket`);
  }

  /** A buffer by id, if this client may see it: one it holds an fd or TEE shared memory of, or any for the operator. */
  visibleBuffer(id: number): SmafBuffer {
    if (this.admin) return this.ctx.smaf.buffer(id);
    for (const e of this.fds.values()) if (e.buffer.id === id) return e.buffer;
    for (const b of this.tee.heldBuffers()) if (b.id === id) return b;
    throw new SmafError('ENOENT', `no buffer ${id} among those this client holds (the operator's admin socket explains any buffer)`);
  }

  /** Secure buffers this client has mapped for some device (each holds a region of the SDP table). */
  secureBuffersMapped(): Set<SmafBuffer> {
    const out = new Set<SmafBuffer>();
    for (const e of this.fds.values()) {
      if (!e.buffer.secure) continue;
      for (const a of e.attachments.values()) if (a.mapped) out.add(e.buffer);
    }
    return out;
  }

  /** Whether this client holds an fd of the buffer, or TEE shared memory of it. */
  holds(bufferId: number): boolean {
    for (const e of this.fds.values()) if (e.buffer.id === bufferId) return true;
    return this.tee.holds(bufferId);
  }

  /** The normal world never reads or writes secure bytes, whatever it holds. */
  notSecure(buf: SmafBuffer, what: string): void {
    if (buf.secure) throw new SmafError('EPERM', `${what} refused: buffer ${buf.id} is secure and never CPU-accessible`);
  }

  // ---- fd table ----------------------------------------------------------------------------

  entry(fd: number): FdEntry {
    const e = this.fds.get(fd);
    if (!e) throw new SmafError('EBADF', fd === DEVICE_FD ? 'this op needs a buffer fd, not the device (fd -1)' : `fd ${fd} is not open in this client`);
    return e;
  }

  attachment(entry: FdEntry, id: number): Attachment {
    const a = entry.attachments.get(id);
    if (!a) throw new SmafError('EINVAL', `no attachment ${id} on fd ${entry.fd}`);
    return a;
  }

  mapping(entry: FdEntry, id: number): CpuMapping {
    const m = entry.mappings.get(id);
    if (!m) throw new SmafError('EINVAL', `no mapping ${id} on fd ${entry.fd}`);
    return m;
  }

  /**
   * Put a buffer reference into the lowest free fd. If that fails (fd table full), the reference is
   * dropped once, through `undo`, and never again (the double free of ION's fd-install failure).
   */
  install(buf: SmafBuffer, undo: () => void): number {
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

  closeFd(entry: FdEntry): void {
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
    try {
      this.tee.releaseAll();
    } catch (e) {
      this.ctx.log.error({ client: this.id, err: (e as Error).message }, 'release of the TEE state failed');
    }
    for (const entry of [...this.fds.values()]) {
      try {
        this.closeFd(entry);
      } catch (e) {
        this.ctx.log.error({ client: this.id, fd: entry.fd, err: (e as Error).message }, 'cleanup of an fd failed');
      }
    }
  }

  /** Usage of this client, for limits and `smaf info`: buffers held through fds or TEE shared memory. */
  usage(): { fds: number; buffers: number; bytes: number } {
    let { buffers, bytes } = this.held;
    const teeOnly = new Set(this.tee.heldBuffers().filter((b) => !this.held.has(b)));
    for (const b of teeOnly) bytes += b.length;
    buffers += teeOnly.size;
    return { fds: this.fds.size, buffers, bytes };
  }

  get openFds(): readonly number[] {
    return [...this.fds.keys()];
  }

  holdings(): { fd: number; buffer: SmafBuffer; mappings: number; attachments: number }[] {
    return [...this.fds.values()].map((e) => ({ fd: e.fd, buffer: e.buffer, mappings: e.mappings.size, attachments: e.attachments.size }));
  }

  /** The buffers behind this client's fds and TEE shared memory, one entry per reference (for the self-check). */
  heldBuffers(): SmafBuffer[] {
    return [...[...this.fds.values()].map((e) => e.buffer), ...this.tee.heldBuffers()];
  }
}
