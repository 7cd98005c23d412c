/**
 * smafd: serves the /dev/smaf uapi on a Unix stream socket (and the operator's admin socket). One
 * ClientSession per connection; a connection that closes (or dies) has all its fds closed. A
 * malformed frame closes only that connection.
 *
 * Fairness and bounds (docs/protocol.md, "Limits"): requests are answered one at a time, in order
 * per connection, round robin across connections, and large work (DMA, READ, WRITE) in slices, so
 * one client cannot hold the others up for more than a slice. A connection whose queued answers
 * pass `maxClientBacklog` bytes is not read from (nor served) until they drain; a request left
 * half-sent for `readTimeoutMs` closes its connection, and all connections together may hold at
 * most `maxPendingBytes` of half-sent requests.
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Errno, SmafError } from '../common/errors.ts';
import type { Smaf } from '../core/index.ts';
import {
  FrameError, FrameReader, parseRequest, REQUEST_HEADER, RESPONSE_HEADER, type Request, type Response,
} from '../uapi/index.ts';
import { DaemonContext, DEFAULT_LIMITS, type LimitSettings } from './context.ts';
import { ClientSession, type SlicedRequest } from './session.ts';

export { adminSocketFor, defaultSocketPath } from '../uapi/socket-path.ts';

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
}

/** Requests parsed but not started, per connection, before smafd stops reading it. */
const MAX_QUEUED_REQUESTS = 256;
/** Milliseconds of work in one turn of the scheduler before it lets I/O in. */
const TURN_MS = 2;

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

/** A response frame's 12-byte header (the payload is written after it, uncopied). */
function responseHeader(r: Response): Buffer {
  const head = Buffer.allocUnsafe(4 + RESPONSE_HEADER);
  head.writeUInt32LE(RESPONSE_HEADER + r.payload.length, 0);
  head.writeUInt32LE(r.id >>> 0, 4);
  head.writeInt32LE(r.result, 8);
  return head;
}

/** One client connection: its socket, its session, the requests it sent that wait for their turn. */
class Connection {
  readonly queue: Request[] = [];
  current: SlicedRequest | null = null;
  readonly reader = new FrameReader(REQUEST_HEADER);
  /** Bytes of half-sent requests counted in the daemon-wide total. */
  pendingCounted = 0;
  partialTimer: NodeJS.Timeout | null = null;
  reading = true;
  closed = false;

  constructor(readonly sock: Socket, readonly session: ClientSession) {}

  get hasWork(): boolean {
    return this.current !== null || this.queue.length > 0;
  }
}

export class SmafDaemon {
  readonly context: DaemonContext;
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Connection>();
  /** Connections in round-robin order; the scheduler serves them one unit of work at a time. */
  private ring: Connection[] = [];
  private turnScheduled = false;
  private nextClient = 1;

  constructor(private readonly options: DaemonOptions) {
    this.context = new DaemonContext(options.smaf, options.log, options.limits ?? DEFAULT_LIMITS, options.recordedOps);
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
    this.options.log.info({ path: this.options.socketPath, admin: this.options.adminSocketPath, platform: this.options.smaf.platform.name }, 'smafd listening');
  }

  private async listen(path: string, mode: number, admin: boolean): Promise<void> {
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new SmafError('EEXIST', `${path} exists and is not a socket; not touching it`);
      if (await socketIsLive(path)) throw new SmafError('EBUSY', `another smafd is already serving ${path}`);
      this.options.log.info({ path }, 'removing stale socket');
      unlinkSync(path);
    }
    const server = createServer((sock) => this.accept(sock, admin));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path, backlog: 1024 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, mode);
    this.servers.push(server);
  }

  private accept(sock: Socket, admin: boolean): void {
    const ctx = this.context;
    if (ctx.sessions.size >= this.limits.maxClients) {
      // a clear refusal, as an unsolicited answer (request id 0), then the door closes
      const message = Buffer.from(`smafd serves ${ctx.sessions.size} clients, its limit (max_clients); try again later`);
      const r: Response = { id: 0, result: -Errno.EAGAIN, payload: message };
      sock.on('error', () => undefined);
      sock.end(Buffer.concat([responseHeader(r), message]));
      setTimeout(() => sock.destroy(), 1000).unref();
      ctx.log.warn({ clients: ctx.sessions.size }, 'client refused: max_clients reached');
      return;
    }
    const session = new ClientSession(this.nextClient++, ctx, { admin });
    const conn = new Connection(sock, session);
    ctx.sessions.add(session);
    this.connections.add(conn);
    this.ring.push(conn);
    ctx.log.debug({ client: session.id, admin }, 'client connected');
    sock.on('data', (chunk) => this.receive(conn, chunk));
    sock.on('drain', () => {
      this.updateReading(conn);
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
      ctx.log.warn({ client: conn.session.id, reason: (e as Error).message }, 'malformed frame: closing this connection');
      conn.sock.destroy();
      return;
    }
    // half-sent requests: a daemon-wide budget (the largest holders go first), a timeout per frame
    const pending = conn.reader.pending;
    ctx.pendingBytes += pending - conn.pendingCounted;
    conn.pendingCounted = pending;
    this.enforcePendingBudget();
    if (conn.closed || conn.sock.destroyed) return;
    this.armPartialTimer(conn);
    for (const f of frames) conn.queue.push(parseRequest(f));
    this.updateReading(conn);
    if (frames.length > 0) this.schedule();
  }

  /**
   * While all connections together hold more than `maxPendingBytes` for half-sent requests, close
   * the one holding most: whoever fills the budget pays for it, not the client that comes next.
   */
  private enforcePendingBudget(): void {
    const ctx = this.context;
    while (ctx.pendingBytes > this.limits.maxPendingBytes) {
      let worst: Connection | null = null;
      for (const c of this.connections) if (!c.closed && (!worst || c.pendingCounted > worst.pendingCounted)) worst = c;
      if (!worst) return;
      ctx.log.warn({ client: worst.session.id, pending: worst.pendingCounted, total: ctx.pendingBytes }, 'too many bytes held for half-sent requests (max_pending_bytes): closing the connection that holds most');
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
      this.context.log.warn({ client: conn.session.id, pending: conn.reader.pending }, `request left half-sent for ${this.limits.readTimeoutMs} ms (read_timeout): closing this connection`);
      conn.sock.destroy();
    }, this.limits.readTimeoutMs);
    conn.partialTimer.unref();
  }

  /** Read from a connection only while its answers drain and its queue is short. */
  private updateReading(conn: Connection): void {
    if (conn.closed) return;
    const want = conn.sock.writableLength < this.limits.maxClientBacklog && conn.queue.length < MAX_QUEUED_REQUESTS;
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

  /**
   * One turn: serve runnable connections round robin, one unit each (a request, or a slice of a
   * sliced one), for at most TURN_MS, then let I/O in. A connection whose answers pass the backlog
   * cap is skipped until they drain.
   */
  private turn(): void {
    this.turnScheduled = false;
    this.enforceBacklogBudget();
    const deadline = performance.now() + TURN_MS;
    let more: boolean;
    do {
      more = false;
      const ring = this.ring;
      for (let i = 0; i < ring.length; i++) {
        const conn = ring[i]!;
        if (conn.closed || !conn.hasWork || conn.sock.writableLength >= this.limits.maxClientBacklog) continue;
        this.unit(conn);
        if (conn.hasWork) more = true;
        if (performance.now() >= deadline) {
          // the next turn starts after this connection
          this.ring = [...ring.slice(i + 1), ...ring.slice(0, i + 1)].filter((c) => !c.closed);
          if (more || this.ring.some((c) => c.hasWork)) this.schedule();
          return;
        }
      }
    } while (more);
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
      if (!worst) return;
      total -= worst.sock.writableLength;
      this.context.log.warn({ client: worst.session.id, queued: worst.sock.writableLength, total }, 'too many unread answers queued in all (max_total_backlog): closing the connection with most');
      worst.sock.destroy();
      this.drop(worst);
    }
  }

  private unit(conn: Connection): void {
    let r: Response | null;
    if (conn.current) {
      r = conn.current.step();
    } else {
      const req = conn.queue.shift()!;
      const started = conn.session.begin(req);
      if ('id' in started) r = started;
      else {
        conn.current = started;
        r = started.step();
      }
    }
    if (r) {
      conn.current = null;
      this.send(conn, r);
    }
    this.updateReading(conn);
  }

  private send(conn: Connection, r: Response): void {
    if (conn.sock.destroyed) return;
    conn.sock.cork();
    conn.sock.write(responseHeader(r));
    // a Buffer view, not a bare Uint8Array: Node's socket write path is much cheaper for Buffers
    if (r.payload.length > 0) conn.sock.write(Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength));
    conn.sock.uncork();
  }

  private drop(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    const ctx = this.context;
    if (conn.partialTimer) clearTimeout(conn.partialTimer);
    ctx.pendingBytes -= conn.pendingCounted;
    conn.pendingCounted = 0;
    conn.queue.length = 0;
    conn.current = null;
    conn.session.close();
    ctx.sessions.delete(conn.session);
    this.connections.delete(conn);
    this.ring = this.ring.filter((c) => c !== conn);
    ctx.log.debug({ client: conn.session.id }, 'client gone: its fds are closed');
  }

  /** Stop listening, drop every client (closing their fds) and remove the sockets. */
  async stop(): Promise<void> {
    const servers = this.servers.splice(0);
    for (const c of [...this.connections]) {
      c.sock.destroy();
      this.drop(c);
    }
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const s of [...this.context.sessions]) (s as ClientSession).close();
    this.context.sessions.clear();
    for (const path of [this.options.socketPath, this.options.adminSocketPath]) {
      try {
        if (path && existsSync(path)) unlinkSync(path);
      } catch {
        // already gone
      }
    }
  }
}
