/**
 * The native socket: where the C programs of `smaf exec` talk to smafd when smafd has its addon.
 * The same frames as the main socket, plus files: a reply may carry one (a dma-buf's memfd, a sync
 * file) and a request may carry one (a file a program wants identified), as SCM_RIGHTS. Each peer
 * comes with its kernel-verified pid, uid and gid (SO_PEERCRED).
 *
 * `NativeSocket` is a connection with the part of net.Socket's interface the server uses, so one
 * server drives both kinds of connection.
 */
import { EventEmitter } from 'node:events';
import type { NativeConn, NativeListener, SmafAddon } from '../native/addon.ts';

/** Files a connection may have passed and not yet had taken by a request; more closes it. */
const MAX_QUEUED_FILES = 8;

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

export class NativeSocket extends EventEmitter {
  destroyed = false;
  private corked = 0;
  private held: { bytes: Uint8Array; file: number }[] = [];
  /** Files received and not taken yet, oldest first (smafd's descriptors). */
  private readonly files: number[] = [];

  constructor(
    private readonly addon: SmafAddon,
    private readonly conn: NativeConn,
    readonly peer: PeerCredentials,
  ) {
    super();
  }

  get writableLength(): number {
    return this.destroyed ? 0 : this.addon.queued(this.conn);
  }

  /**
   * Write bytes; `file` (smafd's descriptor, >= 0) rides on their first byte and is this
   * connection's from now on: passed and closed, or closed with the connection. Passing it needs no
   * new descriptor, so an answer's file never fails for want of one.
   */
  write(bytes: Uint8Array, file = -1): boolean {
    if (this.destroyed) {
      this.closeFile(file);
      return false;
    }
    if (this.corked > 0) {
      this.held.push({ bytes, file });
      return true;
    }
    return this.send(bytes, file);
  }

  /**
   * The addon's write (which takes the file over). A peer that has hung up (EPIPE, ECONNRESET: the
   * answer to a request it gave up on) only ends this connection, whose close arrives as for any
   * other.
   */
  private send(bytes: Uint8Array, file: number): boolean {
    try {
      return this.addon.write(this.conn, bytes, file) === 0;
    } catch (e) {
      this.closeFile(file); // a write that throws leaves the file ours
      const code = (e as { code?: unknown }).code;
      if (code !== 'EPIPE' && code !== 'ECONNRESET' && code !== 'ENOTCONN') throw e;
      this.destroy();
      return false;
    }
  }

  cork(): void {
    this.corked++;
  }

  /** The held bytes go in as few writes as the files they carry allow (each file on its own bytes' first). */
  uncork(): void {
    if (this.corked === 0 || --this.corked > 0) return;
    const held = this.held;
    this.held = [];
    let run: { bytes: Uint8Array; file: number }[] = [];
    const flush = (): void => {
      if (run.length === 0) return;
      const all = new Uint8Array(run.reduce((n, h) => n + h.bytes.length, 0));
      let off = 0;
      for (const h of run) {
        all.set(h.bytes, off);
        off += h.bytes.length;
      }
      const file = run[0]!.file;
      run = [];
      if (this.destroyed) this.closeFile(file);
      else this.send(all, file);
    };
    for (const h of held) {
      if (h.file >= 0) flush();
      run.push(h);
    }
    flush();
  }

  pause(): this {
    if (!this.destroyed) this.addon.pause(this.conn);
    return this;
  }

  resume(): this {
    if (!this.destroyed) this.addon.resume(this.conn);
    return this;
  }

  end(bytes?: Uint8Array): this {
    if (bytes) this.write(bytes);
    this.destroy();
    return this;
  }

  destroy(): this {
    if (!this.destroyed) this.addon.destroy(this.conn);
    this.destroyed = true;
    for (const h of this.held.splice(0)) this.closeFile(h.file);
    return this;
  }

  /** The oldest file this connection passed and no request took yet, or null. */
  takeFile(): number | null {
    return this.files.shift() ?? null;
  }

  /** Close a file of smafd's (received, or made for a reply; -1: none). */
  closeFile(fd: number): void {
    if (fd < 0) return;
    this.addon.close(fd);
  }

  /** @internal the listener's callbacks */
  received(data: Buffer, fds: number[] | null): void {
    let overflow = false;
    for (const fd of fds ?? []) {
      if (this.files.length < MAX_QUEUED_FILES && !this.destroyed) this.files.push(fd);
      else {
        this.addon.close(fd);
        overflow = true;
      }
    }
    if (overflow) {
      this.emit('error', new Error(`more than ${MAX_QUEUED_FILES} files passed and not taken by any request: closing this connection`));
      this.destroy();
      return;
    }
    this.emit('data', data);
  }

  /** @internal */
  closed(errno: number): void {
    this.destroyed = true;
    for (const fd of this.files.splice(0)) this.addon.close(fd);
    if (errno !== 0) this.emit('error', new Error(`native socket error ${errno}`));
    this.emit('close');
  }
}

/** Listen on the native socket (created with its final mode); each connection goes to `accept`. */
export function listenNative(addon: SmafAddon, path: string, mode: number, accept: (s: NativeSocket) => void): NativeListener {
  const live = new Map<number, NativeSocket>();
  return addon.listen(
    path, mode, 1024,
    (conn, id, pid, uid, gid) => {
      const s = new NativeSocket(addon, conn, { pid, uid, gid });
      live.set(id, s);
      accept(s);
    },
    (id, data, fds) => {
      const s = live.get(id);
      if (s) s.received(data, fds);
      else for (const fd of fds ?? []) addon.close(fd);
    },
    (id) => live.get(id)?.emit('drain'),
    (id, errno) => {
      const s = live.get(id);
      live.delete(id);
      s?.closed(errno);
    },
  );
}
