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
import type { Account } from './accounts.ts';
import { HeldBuffers } from './held-buffers.ts';
import { runIoctl } from './ioctl-handlers.ts';
import { runOp } from './op-handlers.ts';
import { FdEntry, isSliced, isStreamed, type HandlerSession, type Outcome, type Streamed, type Work } from './op-types.ts';
import { sessionScope, type Scope } from './scope.ts';
import { TeeClient } from './tee-client.ts';

const FIRST_FD = 3;

const enc = new TextEncoder();

/** The head of a streamed answer (READ): its frame header says `length` payload bytes follow. */
export interface StreamHead {
  readonly id: number;
  readonly result: number;
  readonly length: number;
}

/**
 * A request whose work is sliced (large DMA, READ, WRITE, introspection over the whole journal):
 * the daemon calls `step()` and serves other clients in between. A step gives null (more work to
 * do) or the Response (done). A streamed answer gives its StreamHead first, then its payload, one
 * chunk per step, until `length` bytes have come: the request is done with its last byte. A
 * Response that comes before that is a failure met part-way: the answer cannot be finished.
 */
export interface SlicedRequest {
  readonly request: Request;
  step(): Response | StreamHead | Uint8Array | null;
  /**
   * The client is gone before the answer: the work stops where it is, and what it holds is let go
   * as if it had ended (its `finally` blocks run: device work in flight ends, its fences signal).
   */
  abandon(): void;
}

export interface SessionOptions {
  /** Connected on the operator's admin socket: may see every client's buffers. */
  readonly admin?: boolean;
  /**
   * Who is charged for what this session holds (accounts.ts): by default its own connection
   * (`connection:<id>`), or on the native socket the kernel-verified process (`pid:<pid>`).
   */
  readonly accountKey?: string;
  /** Connected on the native socket: files travel with messages; the peer's credentials are the kernel's. */
  readonly native?: {
    readonly files: { takeFile(): number | null; closeFile(fd: number): void };
    readonly peer: { readonly pid: number; readonly uid: number; readonly gid: number };
  };
}

export class ClientSession implements HandlerSession {
  private readonly fds = new Map<number, FdEntry>();
  private readonly held = new HeldBuffers();
  /** DMA_BUF_IOCTL_SYNC STARTs not yet ENDed, per dma-buf (not per fd, as in the kernel). */
  readonly cpuAccess = new Map<SmafBuffer, number>();
  readonly fenceIds = new Set<number>();
  private closed = false;
  readonly admin: boolean;
  readonly connectedAt = Date.now();
  requests = 0;

  /** What the client announced with HELLO (self-declared, not verified; the kernel's pid on the native socket). */
  pid: number | null = null;
  comm: string | null = null;
  /** Its TEE contexts, sessions and shared memory (what its /dev/tee0 holds). */
  readonly tee: TeeClient;
  private readonly nativeFiles: NonNullable<SessionOptions['native']>['files'] | null;
  /** The kernel-verified credentials of a native connection's peer (null on the main socket). */
  readonly peer: NonNullable<SessionOptions['native']>['peer'] | null;

  /** What this session may see (the operator's scope on the admin socket, else its own). */
  readonly scope: Scope;

  /** Who is charged for what it holds: the per-client limits count per account. */
  readonly account: Account;

  constructor(readonly id: number, readonly ctx: DaemonContext, options: SessionOptions = {}) {
    this.admin = options.admin ?? false;
    this.nativeFiles = options.native?.files ?? null;
    this.peer = options.native?.peer ?? null;
    if (this.peer) this.pid = this.peer.pid;
    this.scope = sessionScope(ctx, this);
    this.account = ctx.accounts.join(options.accountKey ?? (this.peer ? `pid:${this.peer.pid}` : `connection:${id}`));
    // a buffer held through TEE shared memory is held like one held through an fd
    const holding = { hold: (b: SmafBuffer) => this.hold(b), unhold: (b: SmafBuffer) => this.unhold(b) };
    this.tee = new TeeClient({ id, label: `client ${id}`, principal: `client ${id}`, platform: ctx.platform, events: ctx.platform.events, holding });
    ctx.recorder.connect(this);
  }

  get native(): boolean {
    return this.nativeFiles !== null;
  }

  takeFile(): number | null {
    return this.nativeFiles?.takeFile() ?? null;
  }

  closeFile(fd: number): void {
    this.nativeFiles?.closeFile(fd);
  }

  /** Whose data this client's DMA writes into secure memory (see platform/provenance.ts). */
  get principal(): string {
    return `client ${this.id}`;
  }

  /** `client 7`, or `client 7 (gst-launch-1.0, pid 4242)` once it said hello. */
  get label(): string {
    return this.comm === null ? `client ${this.id}` : `client ${this.id} (${this.comm}, pid ${this.pid})`;
  }

  /** Handle one request to its end (a streamed answer gathered whole); never throws. */
  handle(req: Request): Response {
    const r = this.begin(req);
    if ('id' in r) return r;
    let head: StreamHead | null = null;
    const chunks: Uint8Array[] = [];
    let got = 0;
    for (;;) {
      const out = r.step();
      if (out instanceof Uint8Array) {
        chunks.push(out);
        got += out.length;
      } else if (out && 'length' in out) head = out;
      else if (out) return out;
      if (head && got >= head.length) return { id: head.id, result: head.result, payload: Buffer.concat(chunks, got) };
    }
  }

  /**
   * Start a request: the response, or a sliced request to `step()` until it answers. Never throws.
   * A bug in the handling (anything not raised as a SmafError) becomes EIO for this request only,
   * logged with its stack and counted (`smaf doctor`, the dashboard).
   */
  begin(req: Request): Response | SlicedRequest {
    this.requests++;
    this.ctx.files?.settle(); // the closes programs made before this request was sent count before it
    const recorded = this.ctx.recorder.begin(this, req); // the recording for replay (recorder.ts)
    let work: Work<Outcome>;
    // the journal records this client as the one acting, through every slice of its work
    const journal = this.ctx.journal;
    try {
      work = journal.actAs(this, () => this.dispatch(req));
    } catch (e) {
      return recorded(this.failure(req, e));
    }
    if (isStreamed(work)) {
      recorded({ id: req.id, result: work.result, payload: new Uint8Array(0) }); // recorded by its result: the bytes never are
      return this.streaming(req, work);
    }
    if (!isSliced(work)) return recorded(this.reply(req, work));
    const steps = work;
    return {
      request: req,
      step: () => {
        try {
          const r = journal.actAs(this, () => steps.next());
          return r.done ? recorded(this.reply(req, r.value)) : null;
        } catch (e) {
          return recorded(this.failure(req, e));
        }
      },
      abandon: () => this.abandon(req, () => journal.actAs(this, () => steps.return(undefined as never))),
    };
  }

  /** Stop a sliced request's work (its client left): a failure there is a bug like any other. */
  private abandon(req: Request, stop: () => void): void {
    try {
      stop();
    } catch (e) {
      this.failure(req, e);
    }
  }

  /** A streamed answer: its head, then one chunk per step; a failure part-way is a Response. */
  private streaming(req: Request, s: Streamed): SlicedRequest {
    let started = false;
    return {
      request: req,
      step: () => {
        if (!started) {
          started = true;
          return { id: req.id, result: s.result, length: s.length };
        }
        try {
          const r = this.ctx.journal.actAs(this, () => s.chunks.next());
          if (r.done) throw new Error(`the answer to request ${req.id} ended before its ${s.length} bytes`);
          return r.value;
        } catch (e) {
          return this.failure(req, e);
        }
      },
      abandon: () => this.abandon(req, () => this.ctx.journal.actAs(this, () => s.chunks.return?.())),
    };
  }

  private reply(req: Request, o: Outcome): Response {
    return o.file === undefined ? { id: req.id, result: o.result, payload: o.payload } : { id: req.id, result: o.result, payload: o.payload, file: o.file };
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

  bufferOfFd(fd: number): SmafBuffer {
    return this.entry(fd).buffer;
  }

  heldBuffer(id: number): SmafBuffer | undefined {
    return this.held.get(id);
  }

  heldList(): SmafBuffer[] {
    return this.held.list();
  }

  /** The buffer behind an fd of this client, if it holds that fd (for the recording). */
  bufferIdOf(fd: number): number | undefined {
    return this.fds.get(fd)?.buffer.id;
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
      this.ctx.limits.checkFds(this);
    } catch (e) {
      undo();
      throw e;
    }
    this.fds.set(fd, new FdEntry(fd, buf));
    this.hold(buf);
    this.account.fds++;
    this.ctx.limits.totalFds++;
    return fd;
  }

  /** One more hold of `buf` (an fd, or TEE shared memory): counted, and the client is among its holders. */
  private hold(buf: SmafBuffer): void {
    this.held.add(buf);
    this.account.held.add(buf);
    this.ctx.noteHolder(buf, this);
  }

  /** One hold fewer; true when it was the client's last of that buffer. */
  private unhold(buf: SmafBuffer): boolean {
    this.account.held.remove(buf);
    if (!this.held.remove(buf)) return false;
    this.ctx.dropHolder(buf, this);
    return true;
  }

  toHandle(entry: FdEntry): void {
    if (entry.handle) return;
    entry.handle = true;
    entry.buffer.put(); // never the last: the buffer's files hold a reference now
  }

  handleFor(buf: SmafBuffer): number {
    for (const e of this.fds.values()) if (e.buffer === buf && e.handle) return e.fd;
    const fd = this.install(buf.get(), () => buf.put());
    this.toHandle(this.fds.get(fd)!);
    return fd;
  }

  /** The buffers whose references this client holds (fds that are not handles, TEE shared memory). */
  referencedBuffers(): SmafBuffer[] {
    return [...[...this.fds.values()].filter((e) => !e.handle).map((e) => e.buffer), ...this.tee.heldBuffers()];
  }

  forgetReleased(bufferId: number): void {
    for (const e of [...this.fds.values()]) if (e.buffer.id === bufferId) this.closeFd(e);
  }

  /** Close an fd: its mappings and attachments go, then its reference, whatever fails on the way. */
  closeFd(entry: FdEntry): void {
    this.fds.delete(entry.fd);
    this.ctx.limits.totalFds--;
    this.account.fds--;
    const buf = entry.buffer;
    try {
      if (!buf.released) {
        for (const m of entry.mappings.values()) if (!m.closed) buf.munmap(m);
        for (const a of entry.attachments.values()) {
          if (a.detached) continue;
          if (a.mapped) {
            if (buf.secure) this.account.noteSecureMap(buf, -1);
            buf.unmap(a);
          }
          buf.detach(a);
        }
      }
    } finally {
      entry.clear();
      if (this.unhold(buf)) {
        // the client's last fd of this dma-buf: CPU accesses it left open end with it
        if (!buf.released) for (let n = this.cpuAccess.get(buf) ?? 0; n > 0; n--) buf.endCpuAccess('read-write');
        this.cpuAccess.delete(buf);
      }
      // the reference goes last: releasing the buffer tears down whatever the steps above left (a
      // handle holds none: the buffer's files do)
      if (!buf.released && !entry.handle) buf.put();
    }
  }

  /** The client is gone: close every fd it held, as a process exit does. Idempotent. */
  close(): void {
    const steps = this.closing();
    while (!steps.next().done);
  }

  /**
   * The same, one fd per step (smafd runs the steps in its scheduler, so that a client that leaves
   * with thousands of fds does not hold the others up while they are closed). The session takes no
   * request from the first step on; its account is left when the last fd is closed. Idempotent: a
   * second call, or a call on a closed session, has nothing to do.
   */
  *closing(): Generator<void, void> {
    if (this.closed) return;
    this.closed = true;
    const journal = this.ctx.journal;
    journal.actAs(this, () => {
      try {
        this.tee.releaseAll();
      } catch (e) {
        this.ctx.warn('release of the TEE state failed', { client: this.id, err: (e as Error).message }, 'error');
      }
    });
    for (const entry of [...this.fds.values()]) {
      // a step of another session may have closed it meanwhile (a handle goes with its buffer)
      if (this.fds.get(entry.fd) !== entry) continue;
      yield;
      if (this.fds.get(entry.fd) !== entry) continue;
      journal.actAs(this, () => {
        try {
          this.closeFd(entry);
        } catch (e) {
          this.ctx.warn('cleanup of an fd failed', { client: this.id, fd: entry.fd, err: (e as Error).message }, 'error');
        }
      });
    }
    this.ctx.accounts.leave(this.account);
    this.ctx.recorder.disconnect(this);
  }

  /** Usage of this client, for limits and `smaf info`: buffers held through fds or TEE shared memory. */
  usage(): { fds: number; buffers: number; bytes: number } {
    return { fds: this.fds.size, buffers: this.held.buffers, bytes: this.held.bytes };
  }

  get openFds(): readonly number[] {
    return [...this.fds.keys()];
  }

  holdings(): { fd: number; buffer: SmafBuffer; mappings: number; attachments: number }[] {
    return [...this.fds.values()].map((e) => ({ fd: e.fd, buffer: e.buffer, mappings: e.mappings.size, attachments: e.attachments.size }));
  }

  /** The buffers behind this client's fds and TEE shared memory, one entry per hold (for the self-check). */
  heldBuffers(): SmafBuffer[] {
    return [...[...this.fds.values()].map((e) => e.buffer), ...this.tee.heldBuffers()];
  }
}
