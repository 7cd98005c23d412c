/**
 * smafd: serves the /dev/smaf uapi on a Unix stream socket. One ClientSession per connection;
 * a connection that closes (or dies) has all its fds closed. A malformed frame closes only that
 * connection. Requests are handled in order; responses carry the request id.
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SmafError } from '../common/errors.ts';
import type { Smaf } from '../core/index.ts';
import { encodeResponse, FrameError, FrameReader, parseRequest, REQUEST_HEADER } from '../uapi/index.ts';
import { DaemonContext, DEFAULT_LIMITS, type LimitSettings } from './context.ts';
import { ClientSession } from './session.ts';

export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.XDG_RUNTIME_DIR && existsSync(env.XDG_RUNTIME_DIR) ? env.XDG_RUNTIME_DIR : tmpdir();
  return join(dir, env.XDG_RUNTIME_DIR ? 'smaf.sock' : `smaf-${process.getuid?.() ?? 0}.sock`);
}

export interface DaemonOptions {
  readonly socketPath: string;
  readonly smaf: Smaf;
  readonly log: Logger;
  readonly limits?: LimitSettings;
  /** File mode of the socket, like a device node (default 0660). */
  readonly mode?: number;
}

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

export class SmafDaemon {
  readonly context: DaemonContext;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private nextClient = 1;

  constructor(private readonly options: DaemonOptions) {
    this.context = new DaemonContext(options.smaf, options.log, options.limits ?? DEFAULT_LIMITS);
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  /** Listen. Refuses to start over a live socket; removes a stale one. */
  async start(): Promise<void> {
    const path = this.options.socketPath;
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new SmafError('EEXIST', `${path} exists and is not a socket; not touching it`);
      if (await socketIsLive(path)) throw new SmafError('EBUSY', `another smafd is already serving ${path}`);
      this.options.log.info({ path }, 'removing stale socket');
      unlinkSync(path);
    }
    const server = createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path, backlog: 1024 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, this.options.mode ?? 0o660);
    this.server = server;
    this.options.log.info({ path, platform: this.options.smaf.platform.name }, 'smafd listening');
  }

  private accept(sock: Socket): void {
    const ctx = this.context;
    const session = new ClientSession(this.nextClient++, ctx);
    ctx.sessions.add(session);
    this.sockets.add(sock);
    const reader = new FrameReader(REQUEST_HEADER);
    ctx.log.debug({ client: session.id }, 'client connected');
    sock.on('data', (chunk) => {
      let frames: Uint8Array[];
      try {
        frames = reader.push(chunk);
      } catch (e) {
        if (!(e instanceof FrameError)) throw e;
        ctx.log.warn({ client: session.id, reason: e.message }, 'malformed frame: closing this connection');
        sock.destroy();
        return;
      }
      if (frames.length === 0) return;
      const out = frames.map((f) => encodeResponse(session.handle(parseRequest(f))));
      if (sock.destroyed) return;
      // a Buffer view, not a bare Uint8Array: Node's socket write path is much cheaper for Buffers
      const bytes = out.length === 1 ? out[0]! : Buffer.concat(out);
      const ok = sock.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      if (!ok) {
        // a client that does not read its answers stops being read from
        sock.pause();
        sock.once('drain', () => sock.resume());
      }
    });
    sock.on('error', (e) => ctx.log.debug({ client: session.id, err: e.message }, 'socket error'));
    sock.on('close', () => {
      session.close();
      ctx.sessions.delete(session);
      this.sockets.delete(sock);
      ctx.log.debug({ client: session.id }, 'client gone: its fds are closed');
    });
  }

  /** Stop listening, drop every client (closing their fds) and remove the socket. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of [...this.context.sessions]) (s as ClientSession).close();
    this.context.sessions.clear();
    try {
      if (existsSync(this.options.socketPath)) unlinkSync(this.options.socketPath);
    } catch {
      // already gone
    }
  }
}
