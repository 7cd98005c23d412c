/**
 * A buffer as a file C programs hold: one sealed memfd per buffer that a program of `smaf exec`
 * has asked for (the FILE op), whose pages ARE the buffer's emulated memory once it has memory
 * (zero-copy: `PhysicalMemory.attachStore`). Secure buffers get a memfd too (a program needs an
 * fd), but it is never attached: secure memory never leaves smafd.
 *
 * Lifetime, as the kernel's: a dma-buf lives while any process holds an fd of it, a mapping, or an
 * fd in flight in an SCM_RIGHTS message, i.e. while its file is open. smafd hands out new open
 * files of the memfd (never its own) and watches the memfd with inotify: IN_OPEN when someone
 * opens another file of it (through /proc/PID/fd), IN_CLOSE_* when one of them is released for
 * good (its last fd, mapping and in-flight message gone). While any is open, the files hold one
 * reference of the buffer; the C programs' own fds on smafd are handles that hold none.
 */
import { SmafError } from '../common/errors.ts';
import { SMAF_RDWR, type Smaf, type SmafBuffer } from '../core/index.ts';
import { IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_OPEN, outOfFiles, type SmafAddon } from '../native/addon.ts';
import { fileWatcher, type FileWatcher } from '../native/watch.ts';
import type { StoreRange } from '../platform/index.ts';
import { BUSY_LOCK_OFFSET, MEMFD_BUFFER } from '../uapi/index.ts';
import type { Busy } from './fences.ts';


interface BufferFile {
  readonly buf: SmafBuffer;
  /** smafd's own open file of the memfd: never handed out, closed at release. */
  readonly fd: number;
  readonly key: string;
  readonly wd: number;
  /** smafd's shared view of the memfd (a read-only buffer's from the start: see `create`). */
  view: ArrayBuffer | null;
  /** Whether the buffer's memory is the memfd's pages now. */
  attached: boolean;
  /** Open files of the memfd outside smafd (counted from inotify, and at once for those smafd makes). */
  open: number;
  /** Files smafd opened whose IN_OPEN has not arrived yet (each is counted already). */
  ownOpens: number;
  /** Whether the files hold a reference of the buffer now. */
  holdsRef: boolean;
  /** The next time the kernel is asked again whether the last file is gone (see `closed`). */
  recheck: ReturnType<typeof setTimeout> | null;
}

/**
 * The kernel queues a file's IN_CLOSE before it stops counting that file as a reader or writer
 * (fs/file_table.c __fput: fsnotify_close, then the file's locks are removed, then
 * put_file_access), so right after the event the lease may still be refused because of the very
 * file that closed. smafd asks again after these delays (ms), then waits for the next close.
 */
const RECHECK_MS = [1, 4, 16, 64, 256, 1024, 4096];

export interface BufferFileStats {
  readonly buffers: number;
  readonly open: number;
  readonly sharedBytes: number;
}

export class BufferFiles {
  private readonly byBuffer = new Map<number, BufferFile>();
  private readonly byKey = new Map<string, BufferFile>();
  private readonly watcher: FileWatcher;
  /** The inotify queue overflowed once: the events' counts are unknown from then on. */
  private overflowed = false;
  /** Whether the kernel says when a buffer's last file is gone (`alone`); until it refuses a lease. */
  private leases = true;

  constructor(
    private readonly addon: SmafAddon,
    private readonly smaf: Smaf,
    /** The inotify queue overflowed (`recounted`: the kernel was asked instead; otherwise buffers are kept). */
    onOverflow: (recounted: boolean) => void,
    /** What device work a buffer is busy with now (fences.ts). */
    private readonly busyOf: (buf: SmafBuffer) => Busy = () => 0,
    /** The files' reference of a buffer is about to go (its last open file was closed): the recording. */
    private readonly onClosed: (buf: SmafBuffer) => void = () => undefined,
    /** The kernel grants no write lease here: the events' counts decide, and why. */
    private readonly onNoLeases: (why: string) => void = () => undefined,
  ) {
    this.watcher = fileWatcher(addon);
    this.watcher.onOverflow(() => {
      if (this.leases || !this.overflowed) onOverflow(this.leases); // the hopeless case is said once
      this.overflowed = true;
      if (this.leases) this.resync();
    });
    smaf.platform.events.subscribe((e) => {
      if (e.kind === 'release' && e.buffer !== undefined) this.released(e.buffer);
    });
  }

  /**
   * A new open file of the buffer (access O_RDONLY 0, O_WRONLY 1, O_RDWR 2) for a C program; the
   * caller sends it and closes its descriptor. From now on the files hold a reference.
   */
  handOut(buf: SmafBuffer, access: 0 | 1 | 2): number {
    const f = this.byBuffer.get(buf.id) ?? this.create(buf);
    this.share(buf);
    const fd = outOfFiles(`a file of buffer ${buf.id}`, () => this.addon.reopen(f.fd, access));
    f.open++;
    f.ownOpens++;
    if (!f.holdsRef) {
      buf.get();
      f.holdsRef = true;
    }
    return fd;
  }

  /**
   * A read-only buffer's memfd can never be written but through smafd's own view: a program could
   * otherwise reopen its O_RDONLY file through /proc/self/fd with O_RDWR (a memfd's inode allows it,
   * where a kernel's dma-buf cannot be reopened) and write a buffer its exporter made read-only.
   * smafd maps it first, then seals it against every new writable mapping and write().
   */
  private create(buf: SmafBuffer): BufferFile {
    const readOnly = (buf.flags & SMAF_RDWR) === 0 && !buf.secure;
    const fd = outOfFiles(`buffer ${buf.id}'s file`, () => this.addon.memfd(MEMFD_BUFFER, buf.length, readOnly)); // the name the preload library recognises
    let view: ArrayBuffer | null = null;
    if (readOnly) {
      try {
        view = this.addon.map(fd, buf.length);
        this.addon.sealWrites(fd);
      } catch (e) {
        if (view) this.addon.detach(view);
        this.addon.close(fd);
        throw e;
      }
    }
    let wd: number;
    let f: BufferFile | null = null;
    try {
      wd = this.watcher.watch(fd, (mask) => {
        if (f) this.onEvent(f, mask);
      });
    } catch (e) {
      if (view) this.addon.detach(view);
      this.addon.close(fd);
      throw new SmafError('ENOSPC', `cannot follow the files of buffer ${buf.id}: ${(e as Error).message} (raise fs.inotify.max_user_watches)`);
    }
    const [dev, ino] = this.addon.fstat(fd);
    f = { buf, fd, key: `${dev}:${ino}`, wd, view, open: 0, ownOpens: 0, holdsRef: false, attached: false, recheck: null };
    this.byBuffer.set(buf.id, f);
    this.byKey.set(f.key, f);
    const busy = this.busyOf(buf);
    if (busy !== 0) this.busy(buf.id, busy);
    return f;
  }

  /**
   * What device work the buffer is busy with, as the lock smafd's own open file holds on the byte
   * at BUSY_LOCK_OFFSET: a program's SYNC looks at it (F_OFD_GETLK) and asks smafd only when it is
   * in the way. A program asks for a write lock, which any lock is in the way of: a lock a
   * program took itself on that byte (which makes smafd's fail) sends its peers' SYNCs to smafd,
   * which is slower, never wrong.
   */
  busy(bufferId: number, busy: Busy): void {
    const f = this.byBuffer.get(bufferId);
    if (f) this.addon.lock(f.fd, busy, BUSY_LOCK_OFFSET);
  }

  /**
   * Once the buffer has memory and a file, the memory IS the file's pages (its current bytes move
   * into the memfd). Never for a secure buffer. Idempotent.
   */
  share(buf: SmafBuffer): void {
    const f = this.byBuffer.get(buf.id);
    const backing = buf.backing;
    if (!f || f.attached || !backing || buf.secure) return;
    const view = f.view ?? this.addon.map(f.fd, buf.length);
    const ranges: StoreRange[] = [];
    let off = 0;
    for (const s of backing.segments) {
      if (off >= buf.length) break;
      const n = Math.min(s.length, buf.length - off);
      ranges.push({ phys: s.phys, length: n, offset: off });
      off += n;
    }
    // the store zeroes by giving its pages back: a fresh memfd is never written where the memory
    // held nothing, and a scrub frees the pages instead of writing them
    this.smaf.platform.memory.attachStores(ranges, { bytes: new Uint8Array(view), zero: (v) => this.addon.discard(v) }, 'memory');
    f.view = view;
    f.attached = true;
  }

  /** The buffer a file of this host is (smafd's descriptor of it), or null when it is none of ours. */
  identify(fd: number): { readonly buf: SmafBuffer; readonly open: number } | null {
    const [dev, ino] = this.addon.fstat(fd);
    const f = this.byKey.get(`${dev}:${ino}`);
    return f && !f.buf.released ? f : null;
  }

  /**
   * Take in every open and close of the files that the kernel has queued by now, before a request
   * runs. A program's close() queues its IN_CLOSE before it returns, so a request sent after it
   * sees the buffer gone, as with a kernel's dma-buf (a heap ALLOC right after the last close of a
   * buffer that filled the pool succeeds). The loop's poll usually delivers the close first (epoll
   * reports the inotify fd ready before the socket), but nothing promises that order; this does.
   */
  settle(): void {
    if (this.byBuffer.size > 0) this.watcher.drain();
  }

  /** Whether the files of a buffer hold a reference of it now (the daemon's self-check). */
  holdsReference(buf: SmafBuffer): boolean {
    return this.byBuffer.get(buf.id)?.holdsRef ?? false;
  }

  /** Open files of a buffer outside smafd (fdinfo's count), 0 when it has no file. */
  openFiles(buf: SmafBuffer): number {
    return this.byBuffer.get(buf.id)?.open ?? 0;
  }

  /** The buffer is gone (scrubbed, its store detached by the core): its memfd goes too. */
  private released(bufferId: number): void {
    const f = this.byBuffer.get(bufferId);
    if (!f) return;
    this.byBuffer.delete(bufferId);
    this.byKey.delete(f.key);
    this.watcher.unwatch(f.wd);
    if (f.recheck) clearTimeout(f.recheck);
    f.recheck = null;
    if (f.view) this.addon.detach(f.view);
    f.view = null;
    this.addon.close(f.fd);
  }

  /**
   * The events only say that something happened: the kernel merges an event with the one queued
   * before it when they are the same (two opens, or two closes, in a row), and drops them all when
   * the queue overflows. So the counts are what `count:` shows, and whether the last file is gone
   * is asked of the kernel at each close (`alone`: exact whatever was merged or lost).
   */
  private onEvent(f: BufferFile, mask: number): void {
    if (mask & IN_OPEN) {
      if (f.ownOpens > 0) f.ownOpens--;
      else f.open++;
    }
    if (mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)) {
      f.open--;
      if (f.holdsRef) this.closed(f);
    }
  }

  /** A file of the buffer was closed: the files' reference goes if none is left anywhere. */
  private closed(f: BufferFile): boolean {
    if (!this.alone(f)) {
      if (f.open <= 0 && f.ownOpens === 0) f.open = 1; // an open merged into another: at least one is there
      if (this.leases) this.askAgain(f, 0);
      return false;
    }
    if (f.recheck) clearTimeout(f.recheck);
    f.recheck = null;
    f.open = 0;
    f.ownOpens = 0;
    f.holdsRef = false;
    this.onClosed(f.buf);
    f.buf.put(); // may release it: then released() forgets f
    return true;
  }

  /** Ask the kernel again a moment later (the closing file may still have been counted). */
  private askAgain(f: BufferFile, attempt: number): void {
    if (f.recheck) clearTimeout(f.recheck);
    f.recheck = null;
    if (attempt >= RECHECK_MS.length) return;
    f.recheck = setTimeout(() => {
      f.recheck = null;
      if (!f.holdsRef || this.byBuffer.get(f.buf.id) !== f) return;
      if (this.alone(f)) this.closed(f);
      else this.askAgain(f, attempt + 1);
    }, RECHECK_MS[attempt]);
    f.recheck.unref?.();
  }

  /**
   * Whether smafd's file is the last one of the buffer: the kernel's count (a write lease), or,
   * where the kernel grants no leases, the events' count (exact until two events merge or the
   * queue overflows; then the buffer is kept rather than freed under someone).
   */
  private alone(f: BufferFile): boolean {
    if (this.leases) {
      try {
        return this.addon.alone(f.fd);
      } catch (e) {
        this.leases = false;
        this.onNoLeases((e as Error).message);
      }
    }
    return f.open <= 0 && f.ownOpens === 0 && !this.overflowed;
  }

  /**
   * Every buffer's files counted again by the kernel: those whose last file is gone are let go
   * (after lost events, and at each self-check); how many of them smafd had missed (not those
   * whose close it saw and was about to ask about again).
   */
  resync(): number {
    let missed = 0;
    for (const f of [...this.byBuffer.values()]) {
      if (!f.holdsRef || !this.alone(f)) continue;
      const asking = f.recheck !== null; // its close was seen: it was about to be asked again
      if (this.closed(f) && !asking) missed++;
    }
    return missed;
  }

  stats(): BufferFileStats {
    let open = 0;
    for (const f of this.byBuffer.values()) open += f.open;
    return { buffers: this.byBuffer.size, open, sharedBytes: this.smaf.platform.memory.sharedBytes };
  }

  /** Whether smafd knows exactly when a buffer's last file goes (the kernel's leases, or events never lost). */
  get exact(): boolean {
    return this.leases || !this.overflowed;
  }
}
