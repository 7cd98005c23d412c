/**
 * smafd: serves the /dev/smaf uapi on a Unix stream socket (and the operator's admin socket). One
 * ClientSession per connection; a connection that closes (or dies) has all its fds closed. A
 * malformed frame closes only that connection.
 *
 * Fairness and bounds (docs/protocol.md, "Limits"): requests are answered one at a time, in order
 * per connection; the connection that has had least of smafd's time runs next (scheduler.ts), one
 * unit of work at a time, and large work (DMA, READ, WRITE, the journal) in slices, so one client
 * cannot hold the others up for more than a slice. Memory a client makes smafd hold is bounded per
 * connection and for all of them together:
 * - answers: a large READ is streamed, each slice written as it is read (never built whole), and
 *   only while the client takes what was sent; a connection whose queued answers pass
 *   `maxClientBacklog` is not served until they drain; past `maxTotalBacklog` for all connections
 *   together (counted as answers are written) the connection with most unread is closed;
 * - requests: received and not yet done (half-sent, waiting their turn, in progress) count against
 *   `maxPendingBytes` for all connections together (past it the largest holder is closed); a
 *   connection is not read while it has two frames' worth waiting; a request left half-sent for
 *   `readTimeoutMs` closes its connection.
 * A connection that goes releases all of it at once.
 *
 * With smafd's addon, a third socket, the native socket, serves the C programs of `smaf exec`
 * (native-socket.ts): the same frames, plus files that travel with messages (SCM_RIGHTS).
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import type { Logger } from 'pino';
import { Errno, SmafError } from '../common/errors.ts';
import type { Smaf } from '../core/index.ts';
import {
  FrameError, FrameReader, MAX_FRAME, parseRequest, REQUEST_HEADER, RESPONSE_HEADER, type Request,
} from '../uapi/index.ts';
import type { SmafAddon } from '../native/addon.ts';
import { DaemonContext, DEFAULT_LIMITS, type LimitSettings } from './context.ts';
import { listenNative, NativeSocket } from './native-socket.ts';
import { FairScheduler, type Lane } from './scheduler.ts';
import { ClientSession, type SlicedRequest } from './session.ts';

export { adminSocketFor, defaultSocketPath, nativeSocketFor } from '../uapi/socket-path.ts';

export interface DaemonOptions {
  readonly socketPath: string;
  /** The operator's socket (mode 0600): its clients see every buffer. null: none. */
  readonly adminSocketPath?: string | null;
  readonly smaf: Smaf;
  readonly log: Logger;
  readonly limits?: LimitSettings;
  /** Operations the recording for replay keeps (default DEFAULT_RECORDED_OPS; 0: no recording). */
  readonly recordedOps?: number;
  /** File mode of the socket, like a device node (default 0660). */
  readonly mode?: number;
  /** smafd's addon: the native socket for C programs, zero-copy files, sync files. */
  readonly addon?: SmafAddon | null;
  /** The native socket (same mode as the socket); needs the addon. null: none. */
  readonly nativeSocketPath?: string | null;
}

/** A client connection as the server uses it: a net.Socket, or a NativeSocket of the addon. */
interface ClientStream {
  readonly destroyed: boolean;
  readonly writableLength: number;
  write(b: Uint8Array): boolean;
  cork(): void;
  uncork(): void;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
  end(b: Uint8Array): unknown;
  on(event: 'data', l: (b: Buffer) => void): unknown;
  on(event: 'drain' | 'close', l: () => void): unknown;
  on(event: 'error', l: (e: Error) => void): unknown;
}

/** Requests parsed but not started, per connection, before smafd stops reading it. */
const MAX_QUEUED_REQUESTS = 256;
/** Bytes of received requests a connection may hold (waiting or in progress) before smafd stops reading it. */
const MAX_HELD_REQUEST_BYTES = 2 * MAX_FRAME;
/**
 * Answer bytes a streamed answer may have queued, not yet taken by its client, before its next
 * slice is read: a client that does not read holds this much, not its whole answer.
 */
const STREAM_AHEAD = 1024 * 1024;
/** Milliseconds of work in one turn of the scheduler before it lets I/O in. */
const TURN_MS = 1;
/** Milliseconds of closing a departed client's fds in one unit of its teardown... */
const TEARDOWN_SLICE_MS = 0.5;
/** ...and fds closed in a unit whatever the time they took (about 0.2 ms). */
const TEARDOWN_MIN_STEPS = 64;
/** Departures wake this far ahead of the scheduler's clock: before requests read in the same turn of the event loop. */
const TEARDOWN_CREDIT_MS = 2;

/** Whether something answers on a Unix socket path. */
function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** A response frame's 12-byte header for `length` payload bytes (written before them, uncopied). */
function responseHeader(id: number, result: number, length: number): Buffer {
  const head = Buffer.allocUnsafe(4 + RESPONSE_HEADER);
  head.writeUInt32LE(RESPONSE_HEADER + length, 0);
  head.writeUInt32LE(id >>> 0, 4);
  head.writeInt32LE(result, 8);
  return head;
}

/** One client connection: its socket, its session, the requests it sent that wait for their turn. */
class Connection implements Lane {
  readonly queue: Request[] = [];
  current: SlicedRequest | null = null;
  /** Payload bytes of a streamed answer still to be sent (its head went out already). */
  streamLeft = 0;
  readonly reader = new FrameReader(REQUEST_HEADER);
  /** Payload bytes of the requests received whole and not done yet (queued or in progress). */
  heldRequestBytes = 0;
  /** Bytes of requests counted in the daemon-wide total (half-sent, held). */
  pendingCounted = 0;
  partialTimer: NodeJS.Timeout | null = null;
  reading = true;
  closed = false;

  constructor(readonly sock: ClientStream, readonly session: ClientSession, private readonly limits: () => LimitSettings, private readonly serve: (c: Connection) => void) {}

  get hasWork(): boolean {
    return this.current !== null || this.queue.length > 0;
  }

  /** Whether a unit of its work may run: it has some, and its client takes its answers. */
  get runnable(): boolean {
    if (this.closed || !this.hasWork) return false;
    return this.sock.writableLength < (this.streamLeft > 0 ? STREAM_AHEAD : this.limits().maxClientBacklog);
  }

  unit(): void {
    this.serve(this);
  }
}

/**
 * Clients that left, their fds being closed: one lane of the scheduler for all of them, one slice
 * of closing (up to TEARDOWN_SLICE_MS) per unit, oldest departure first. So a client that leaves
 * with thousands of fds does not hold the others up, and sixteen that leave at once get the share
 * of one lane, not sixteen. A session counts among smafd's clients until its last fd is closed.
 */
class Departures implements Lane {
  private readonly queue: { readonly session: ClientSession; readonly steps: Generator<void, void> }[] = [];

  constructor(private readonly gone: (s: ClientSession) => void) {}

  get runnable(): boolean {
    return this.queue.length > 0;
  }

  add(session: ClientSession): void {
    this.queue.push({ session, steps: session.closing() });
  }

  unit(): void {
    const end = performance.now() + TEARDOWN_SLICE_MS;
    for (let steps = 1; this.queue.length > 0; steps++) {
      const head = this.queue[0]!;
      if (head.steps.next().done) {
        this.queue.shift();
        this.gone(head.session);
      }
      // at least TEARDOWN_MIN_STEPS fds per unit, however long they took (a garbage collection,
      // the machine taking the CPU): a client with few fds is never seen half closed
      if (steps >= TEARDOWN_MIN_STEPS && performance.now() >= end) return;
    }
  }

  /** The daemon stops: the rest at once. */
  finish(): void {
    for (const d of this.queue.splice(0)) {
      while (!d.steps.next().done);
      this.gone(d.session);
    }
  }
}

export class SmafDaemon {
  readonly context: DaemonContext;
  private readonly servers: Server[] = [];
  private nativeListener: ReturnType<typeof listenNative> | null = null;
  private readonly connections = new Set<Connection>();
  /** Serves the connections that have work, and the teardowns of those gone, least-served first, one unit of work at a time. */
  private readonly scheduler = new FairScheduler<Connection | Departures>();
  private readonly departures = new Departures((s) => {
    this.context.sessions.delete(s);
    this.context.log.debug({ client: s.id }, 'client gone: its fds are closed');
  });
  private turnScheduled = false;
  private nextClient = 1;
  /** Answer bytes queued in all sockets: exact at each turn's start, then counted up as written. */
  private answerBytes = 0;

  constructor(private readonly options: DaemonOptions) {
    this.context = new DaemonContext(options.smaf, options.log, options.limits ?? DEFAULT_LIMITS, options.addon ?? null, options.recordedOps);
  }

  /** The native socket, when smafd has its addon and serves one. */
  get nativeSocketPath(): string | null {
    return this.options.addon ? this.options.nativeSocketPath ?? null : null;
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  get adminSocketPath(): string | null {
    return this.options.adminSocketPath ?? null;
  }

  private get limits(): LimitSettings {
    return this.context.limits.settings;
  }

  /** Listen. Refuses to start over a live socket; removes a stale one. */
  async start(): Promise<void> {
    await this.listen(this.options.socketPath, this.options.mode ?? 0o660, false);
    if (this.options.adminSocketPath) await this.listen(this.options.adminSocketPath, 0o600, true);
    const addon = this.options.addon;
    const native = this.nativeSocketPath;
    if (addon && native) {
      await this.clearPath(native);
      // the addon binds under a umask that leaves exactly this mode, as listen() below does
      this.nativeListener = listenNative(addon, native, this.options.mode ?? 0o660, (sock) => this.accept(sock, false));
    }
    this.context.native = native;
    this.options.log.info({ path: this.options.socketPath, admin: this.options.adminSocketPath, platform: this.options.smaf.platform.name }, 'smafd listening');
  }

  /** Refuse a live socket or a file that is not a socket at `path`; remove a stale socket. */
  private async clearPath(path: string): Promise<void> {
    if (!existsSync(path)) return;
    if (!lstatSync(path).isSocket()) throw new SmafError('EEXIST', `${path} exists and is not a socket; not touching it`);
    if (await socketIsLive(path)) throw new SmafError('EBUSY', `another smafd is already serving ${path}`);
    this.options.log.info({ path }, 'removing stale socket');
    unlinkSync(path);
  }

  private async listen(path: string, mode: number, admin: boolean): Promise<void> {
    await this.clearPath(path);
    const server = createServer((sock) => this.accept(sock, admin));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // the socket is born with its mode: bind() runs inside listen(), synchronously, under a umask
      // that leaves exactly `mode`, so there is no moment (as there was between listen and a chmod)
      // when anybody else could connect, whatever the umask smafd was started with
      const umask = process.umask(0o777 & ~mode);
      try {
        server.listen({ path, backlog: 1024 }, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(umask);
      }
    });
    this.servers.push(server);
  }

  private accept(sock: ClientStream, admin: boolean): void {
    const ctx = this.context;
    if (ctx.sessions.size >= this.limits.maxClients) {
      // a clear refusal, as an unsolicited answer (request id 0), then the door closes
      const message = Buffer.from(`smafd serves ${ctx.sessions.size} clients, its limit (max_clients); try again later`);
      sock.on('error', () => undefined);
      sock.end(Buffer.concat([responseHeader(0, -Errno.EAGAIN, message.length), message]));
      setTimeout(() => sock.destroy(), 1000).unref();
      ctx.warn('client refused: max_clients reached', { clients: ctx.sessions.size });
      return;
    }
    // a native connection's peer is the kernel's word: its session is charged to its process
    const native = sock instanceof NativeSocket ? { files: sock, peer: sock.peer } : undefined;
    const session = new ClientSession(this.nextClient++, ctx, { admin, ...(native ? { native } : {}) });
    const conn = new Connection(sock, session, () => this.limits, (c) => this.unit(c));
    ctx.sessions.add(session);
    this.connections.add(conn);
    this.scheduler.add(conn);
    ctx.log.debug({ client: session.id, admin }, 'client connected');
    sock.on('data', (chunk) => this.receive(conn, chunk));
    sock.on('drain', () => {
      this.updateReading(conn);
      this.scheduler.wake(conn);
      this.schedule();
    });
    sock.on('error', (e) => ctx.log.debug({ client: session.id, err: e.message }, 'socket error'));
    sock.on('close', () => this.drop(conn));
  }

  private receive(conn: Connection, chunk: Buffer): void {
    const ctx = this.context;
    let frames: Uint8Array[];
    try {
      frames = conn.reader.push(chunk);
    } catch (e) {
      if (!(e instanceof FrameError)) ctx.internalError(e, { client: conn.session.id, where: 'frame reader' });
      ctx.warn('malformed frame: closing this connection', { client: conn.session.id, reason: (e as Error).message });
      conn.sock.destroy();
      return;
    }
    for (const f of frames) {
      const req = parseRequest(f);
      conn.queue.push(req);
      conn.heldRequestBytes += req.payload.length;
    }
    // requests held (half-sent or whole): a daemon-wide budget (the largest holders go first), a timeout per frame
    this.countRequests(conn);
    this.enforcePendingBudget();
    if (conn.closed || conn.sock.destroyed) return;
    this.armPartialTimer(conn);
    this.updateReading(conn);
    if (frames.length > 0) {
      this.scheduler.wake(conn);
      this.schedule();
    }
  }

  /** A connection's request bytes in the daemon-wide total: what is half-sent, and what waits or runs. */
  private countRequests(conn: Connection): void {
    const held = conn.closed ? 0 : conn.reader.pending + conn.heldRequestBytes;
    this.context.pendingBytes += held - conn.pendingCounted;
    conn.pendingCounted = held;
  }

  /**
   * While all connections together hold more than `maxPendingBytes` of requests not done yet
   * (half-sent, waiting their turn, in progress), close the one holding most: whoever fills the
   * budget pays for it, not the client that comes next.
   */
  private enforcePendingBudget(): void {
    const ctx = this.context;
    while (ctx.pendingBytes > this.limits.maxPendingBytes) {
      let worst: Connection | null = null;
      for (const c of this.connections) if (!c.closed && (!worst || c.pendingCounted > worst.pendingCounted)) worst = c;
      if (!worst) return;
      ctx.warn('too many bytes held for requests not done yet (max_pending_bytes): closing the connection that holds most', { client: worst.session.id, pending: worst.pendingCounted, total: ctx.pendingBytes });
      worst.sock.destroy();
      this.drop(worst);
    }
  }

  /**
   * Close a connection that leaves a request half-sent for longer than the read timeout. The clock
   * starts with the frame and is not reset by a trickle of bytes; only while smafd itself is not
   * reading the connection (its answers are not drained) does it stop.
   */
  private armPartialTimer(conn: Connection): void {
    if (conn.reader.pending === 0 || !conn.reading || conn.closed) {
      if (conn.partialTimer) clearTimeout(conn.partialTimer);
      conn.partialTimer = null;
      return;
    }
    if (conn.partialTimer) return; // already counting for this frame
    conn.partialTimer = setTimeout(() => {
      this.context.warn(`request left half-sent for ${this.limits.readTimeoutMs} ms (read_timeout): closing this connection`, { client: conn.session.id, pending: conn.reader.pending });
      conn.sock.destroy();
    }, this.limits.readTimeoutMs);
    conn.partialTimer.unref();
  }

  /** Read from a connection only while its answers drain and few of its requests wait. */
  private updateReading(conn: Connection): void {
    if (conn.closed) return;
    const want = conn.sock.writableLength < this.limits.maxClientBacklog && conn.queue.length < MAX_QUEUED_REQUESTS && conn.heldRequestBytes < MAX_HELD_REQUEST_BYTES;
    if (want && !conn.reading) {
      conn.reading = true;
      conn.sock.resume();
      this.armPartialTimer(conn);
    } else if (!want && conn.reading) {
      conn.reading = false;
      conn.sock.pause();
      this.armPartialTimer(conn);
    }
  }

  private schedule(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(() => this.turn());
  }

  /** One turn: serve connections, least-served first, for at most TURN_MS; then let I/O in. */
  private turn(): void {
    this.turnScheduled = false;
    this.enforceBacklogBudget();
    if (this.scheduler.run(TURN_MS)) this.schedule();
  }

  /**
   * Answers queued for clients that do not read them: at most `maxTotalBacklog` bytes for all
   * connections together; past it, the connection with most unread answers is closed.
   */
  private enforceBacklogBudget(): void {
    let total = 0;
    for (const c of this.connections) total += c.sock.writableLength;
    while (total > this.limits.maxTotalBacklog) {
      let worst: Connection | null = null;
      for (const c of this.connections) if (!c.closed && (!worst || c.sock.writableLength > worst.sock.writableLength)) worst = c;
      if (!worst) break;
      total -= worst.sock.writableLength;
      this.context.warn('too many unread answers queued in all (max_total_backlog): closing the connection with most', { client: worst.session.id, queued: worst.sock.writableLength, total });
      worst.sock.destroy();
      this.drop(worst);
    }
    this.answerBytes = total;
  }

  /** One unit of a connection's work: start its next request, or run one step of the current one. */
  private unit(conn: Connection): void {
    if (!conn.current) {
      const req = conn.queue.shift()!;
      const started = conn.session.begin(req);
      if ('id' in started) {
        this.done(conn, req);
        this.send(conn, responseHeader(started.id, started.result, started.payload.length), started.payload, started.file);
      } else conn.current = started;
    }
    const current = conn.current;
    if (current) {
      const out = current.step();
      if (out instanceof Uint8Array) this.streamChunk(conn, current, out);
      else if (out && 'length' in out) {
        conn.streamLeft = out.length;
        this.send(conn, responseHeader(out.id, out.result, out.length));
        if (out.length === 0) this.done(conn, current.request);
      } else if (out && conn.streamLeft > 0) this.cutShort(conn, `the answer to request ${out.id} failed part-way: ${new TextDecoder().decode(out.payload)}`);
      else if (out) {
        this.done(conn, current.request);
        this.send(conn, responseHeader(out.id, out.result, out.payload.length), out.payload, out.file);
      }
    }
    this.updateReading(conn);
  }

  /** One chunk of a streamed answer; the request is done with its last byte. */
  private streamChunk(conn: Connection, current: SlicedRequest, chunk: Uint8Array): void {
    if (chunk.length > conn.streamLeft) {
      this.context.internalError(new Error(`a streamed answer sent ${chunk.length - conn.streamLeft} bytes more than its head announced`), { client: conn.session.id, op: current.request.op });
      this.cutShort(conn, 'a streamed answer overran its length');
      return;
    }
    conn.streamLeft -= chunk.length;
    this.send(conn, null, chunk);
    if (conn.streamLeft === 0) this.done(conn, current.request);
  }

  /** An answer whose head is sent cannot be finished: the client cannot resynchronise, so it goes. */
  private cutShort(conn: Connection, why: string): void {
    this.context.warn('an answer could not be finished: closing this connection', { client: conn.session.id, reason: why });
    conn.sock.destroy();
    this.drop(conn);
  }

  /** A request is done: its bytes leave the budget. */
  private done(conn: Connection, req: Request): void {
    if (conn.closed) return;
    conn.current = null;
    conn.streamLeft = 0;
    conn.heldRequestBytes -= req.payload.length;
    this.countRequests(conn);
  }

  /**
   * Write a header and/or payload bytes (a Buffer view: Node's socket writes Buffers much faster).
   * A file of the answer (smafd's descriptor; only native connections get them) rides on the
   * header's first byte: the connection takes it over (closed once passed, or with the connection).
   */
  private send(conn: Connection, head: Buffer | null, payload?: Uint8Array, file?: number): void {
    if (file !== undefined) {
      // the native connection takes the file over: passed with the head, or closed with it
      const sock = conn.sock as NativeSocket;
      if (head) this.write(conn, () => sock.write(head, file), payload);
      else sock.closeFile(file);
      return;
    }
    if (conn.sock.destroyed) return;
    this.write(conn, head ? () => conn.sock.write(head) : null, payload);
  }

  private write(conn: Connection, head: (() => void) | null, payload?: Uint8Array): void {
    const bytes = (payload?.length ?? 0) + (head ? 4 + RESPONSE_HEADER : 0);
    conn.sock.cork();
    if (head) head();
    if (payload && payload.length > 0) conn.sock.write(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    conn.sock.uncork();
    this.answerBytes += bytes;
    if (this.answerBytes > this.limits.maxTotalBacklog) this.enforceBacklogBudget();
  }

  private drop(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    const ctx = this.context;
    if (conn.partialTimer) clearTimeout(conn.partialTimer);
    ctx.pendingBytes -= conn.pendingCounted;
    conn.pendingCounted = 0;
    conn.heldRequestBytes = 0;
    conn.queue.length = 0;
    conn.current?.abandon(); // device work it started ends now: its fences signal, its buffers go idle
    conn.current = null;
    this.connections.delete(conn);
    this.scheduler.remove(conn);
    // its fds are closed in slices, before the requests read in the same turn of the event loop
    this.departures.add(conn.session);
    this.scheduler.add(this.departures, TEARDOWN_CREDIT_MS);
    this.schedule();
  }

  /** Stop listening, drop every client (closing their fds) and remove the sockets. */
  async stop(): Promise<void> {
    const servers = this.servers.splice(0);
    for (const c of [...this.connections]) {
      c.sock.destroy();
      this.drop(c);
    }
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (this.nativeListener) this.options.addon?.closeListener(this.nativeListener);
    this.nativeListener = null;
    this.departures.finish();
    this.context.warnings.flush();
    for (const s of [...this.context.sessions]) (s as ClientSession).close();
    this.context.sessions.clear();
    for (const path of [this.options.socketPath, this.options.adminSocketPath, this.nativeSocketPath]) {
      try {
        if (path && existsSync(path)) unlinkSync(path);
      } catch {
        // already gone
      }
    }
  }
}
