/**
 * smafd's addon (native/addon/): its functions, typed, and how smafd gets it. Without it (no C
 * compiler, no Node headers, or `--no-zero-copy`), smafd serves Node clients exactly the same and C
 * programs through the copying path (docs/c-programs.md); `smaf doctor` says which.
 */
import { createRequire } from 'node:module';
import { SmafError } from '../common/errors.ts';
import { ensureAddon } from './build.ts';

declare const handle: unique symbol;
/** A connection of the native socket (an opaque handle). */
export type NativeConn = { readonly [handle]: 'conn' };
/** The native socket's listener (an opaque handle). */
export type NativeListener = { readonly [handle]: 'listener' };

export interface NativeSocketCallbacks {
  /** A new peer: its handle, the id the other callbacks use, and its kernel-verified credentials. */
  onConnection(conn: NativeConn, id: number, pid: number, uid: number, gid: number): void;
  /** Bytes read, and the descriptors that came with them (now open in smafd: close them). */
  onData(id: number, data: Buffer, fds: number[] | null): void;
  /** Everything queued has been written. */
  onDrain(id: number): void;
  /** The connection is gone (errno 0: closed by the peer or by destroy). */
  onClose(id: number, errno: number): void;
}

export interface SmafAddon {
  /** Listen on a Unix socket created with `mode` (never wider, even for a moment). */
  listen(
    path: string, mode: number, backlog: number, onConnection: NativeSocketCallbacks['onConnection'], onData: NativeSocketCallbacks['onData'],
    onDrain: NativeSocketCallbacks['onDrain'], onClose: NativeSocketCallbacks['onClose'],
  ): NativeListener;
  closeListener(l: NativeListener): void;
  /**
   * Bytes still queued after this write; `fd` >= 0 rides on the first byte and is the addon's from
   * now on (closed once sent, or with the connection); if the write throws, it stays the caller's.
   */
  write(conn: NativeConn, bytes: Uint8Array, fd: number): number;
  queued(conn: NativeConn): number;
  pause(conn: NativeConn): void;
  resume(conn: NativeConn): void;
  destroy(conn: NativeConn): void;
  /** A sealed memfd (cannot grow, shrink, or take new seals; `sealWritesLater`: one more seal, `sealWrites`). */
  memfd(name: string, size: number, sealWritesLater?: boolean): number;
  /** F_SEAL_FUTURE_WRITE and F_SEAL_SEAL: only the shared mappings that exist now can ever write the memfd. */
  sealWrites(fd: number): void;
  /** A shared view of a memfd in smafd. */
  map(fd: number, size: number): ArrayBuffer;
  /** The view's pages become private zero pages (the memfd is no longer reachable through it). */
  detach(view: ArrayBuffer): void;
  /**
   * Zero a view of a memfd: its whole pages are given back to the kernel (they read as zero, none
   * is written), the rest is memset (a write-sealed memfd's pages too).
   */
  discard(view: Uint8Array): void;
  /** A new open file of the same memfd, with the access mode O_RDONLY 0, O_WRONLY 1 or O_RDWR 2. */
  reopen(fd: number, access: 0 | 1 | 2): number;
  close(fd: number): void;
  /** Another descriptor of the same open file (close-on-exec). */
  dup(fd: number): number;
  /** [st_dev, st_ino, st_size, st_mode] */
  fstat(fd: number): [number, number, number, number];
  /**
   * A sync file: a pipe [read end, write end] (O_NONBLOCK, close-on-exec), readable once `signal`
   * wrote a byte into the write end. The program gets the read end; smafd keeps the write end.
   */
  syncFile(signalled: boolean): [number, number];
  /** Signal a sync file by its write end (never blocks; no reader left is fine). */
  signal(fd: number): void;
  /** Whether any read end of the sync file is still open anywhere (a pipe's write end polls POLLERR when none is). */
  held(fd: number): boolean;
  /** inotify: events arrive as [wd, mask, wd, mask, ...]. */
  watchStart(onEvents: (events: Int32Array) => void): void;
  watch(fd: number): number;
  /** The events queued now, read at once ([wd, mask, ...]; empty when none): what the poll would deliver later. */
  watchDrain(): Int32Array;
  unwatch(wd: number): void;
  /**
   * An OFD lock of one byte at `offset` on smafd's own open file (0 none, 1 read, 2 write): 0, or
   * -errno when another open file's lock is in the way (it stays as it was).
   */
  lock(fd: number, type: 0 | 1 | 2, offset: number): number;
  /**
   * Whether smafd's open file `fd` is the only open file of its memfd, as the kernel counts (a
   * write lease is granted only then): no other fd, mapping or fd in flight anywhere. Throws when
   * the kernel grants no leases here.
   */
  alone(fd: number): boolean;
  setDumpable(on: boolean): void;
  raiseFdLimit(): number;
}

/** inotify event bits the addon watches for. */
export const IN_CLOSE_WRITE = 0x8;
export const IN_CLOSE_NOWRITE = 0x10;
export const IN_OPEN = 0x20;

export type AddonLoad = { readonly addon: SmafAddon; readonly path: string } | { readonly addon: null; readonly reason: string };

/** Build (if needed) and load the addon; a failure is a reason, never an exception. */
export function loadAddon(onBuild?: (what: string) => void): AddonLoad {
  let path: string;
  try {
    path = ensureAddon(onBuild);
  } catch (e) {
    return { addon: null, reason: (e as Error).message };
  }
  try {
    const addon = createRequire(import.meta.url)(path) as SmafAddon;
    return { addon, path };
  } catch (e) {
    return { addon: null, reason: `cannot load ${path}: ${(e as Error).message}` };
  }
}

/**
 * The host's file descriptors ran out in smafd (EMFILE, ENFILE): the asking client gets EMFILE,
 * like a kernel's get_unused_fd, not an internal error.
 */
export function outOfFiles<T>(what: string, make: () => T): T {
  try {
    return make();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'EMFILE' || code === 'ENFILE') throw new SmafError('EMFILE', `smafd has no file descriptor left for ${what} (${(e as Error).message}): close some buffers or sync files, or raise smafd's open-file limit`);
    throw e;
  }
}
