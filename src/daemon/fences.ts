/**
 * Implicit fences of dma-bufs, as the kernel's dma_resv: device work in flight on a buffer (a DMA
 * copy or CRC that smafd runs in slices) is a fence; `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` gives a sync
 * file (an eventfd of smafd's, readable once signalled) that waits for the writes in flight (READ)
 * or for everything in flight (WRITE); `DMA_BUF_IOCTL_IMPORT_SYNC_FILE` adds a sync file of smafd's
 * to a buffer, and device work on that buffer waits for it.
 *
 * Without smafd's addon there are no eventfds: work is only counted (and still waits for nothing).
 */
import { SmafError } from '../common/errors.ts';
import type { SmafBuffer } from '../core/index.ts';
import type { SmafAddon } from '../native/addon.ts';

export type FenceAccess = 'read' | 'write';

/** A sync file smafd made: signalled when every piece of work it waits for is done. */
interface Fence {
  /** smafd's own descriptor of the eventfd while it is not signalled (-1 after). */
  fd: number;
  waiting: number;
  /** Sync files exported while this one was imported and pending: they wait for it too. */
  readonly then: Fence[];
}

interface InFlight {
  readonly access: FenceAccess;
  readonly waiters: Fence[];
}

interface BufferFences {
  readonly work: Set<InFlight>;
  /** Sync files imported into the buffer and not signalled yet. */
  readonly imported: Set<Fence>;
}

/** Sync files remembered for IMPORT (by inode), the oldest forgotten first. */
const MAX_KNOWN_FENCES = 4096;

const DMA_BUF_SYNC_READ = 1;
const DMA_BUF_SYNC_WRITE = 2;

export class Fences {
  private readonly buffers = new Map<number, BufferFences>();
  private readonly known = new Map<string, Fence>();

  constructor(private readonly addon: SmafAddon | null) {}

  private of(buf: SmafBuffer): BufferFences {
    let b = this.buffers.get(buf.id);
    if (!b) this.buffers.set(buf.id, (b = { work: new Set(), imported: new Set() }));
    return b;
  }

  /** Whether device work on the buffer must wait (an imported sync file is not signalled yet). */
  blocked(buf: SmafBuffer): boolean {
    const b = this.buffers.get(buf.id);
    return b !== undefined && b.imported.size > 0;
  }

  /**
   * Device work on buffers: it waits (yields) while any of them is blocked, then is in flight until
   * `steps` finishes, however it finishes.
   */
  *device<T>(uses: readonly (readonly [SmafBuffer, FenceAccess])[], steps: Generator<void, T>): Generator<void, T> {
    while (uses.some(([buf]) => this.blocked(buf))) yield;
    const started = uses.map(([buf, access]) => this.begin(buf, access));
    try {
      return yield* steps;
    } finally {
      for (const [buf, w] of started) this.end(buf, w);
    }
  }

  private begin(buf: SmafBuffer, access: FenceAccess): [SmafBuffer, InFlight] {
    const b = this.of(buf);
    const w: InFlight = { access, waiters: [] };
    b.work.add(w);
    return [buf, w];
  }

  private end(buf: SmafBuffer, w: InFlight): void {
    const b = this.buffers.get(buf.id);
    if (!b) return;
    b.work.delete(w);
    for (const f of w.waiters) this.done(f);
    this.tidy(buf.id, b);
  }

  private done(f: Fence): void {
    if (--f.waiting > 0) return;
    if (this.addon && f.fd >= 0) {
      this.addon.signal(f.fd, true);
      this.addon.close(f.fd);
    }
    f.fd = -1;
    for (const next of f.then.splice(0)) this.done(next);
    for (const [id, b] of this.buffers) if (b.imported.delete(f)) this.tidy(id, b);
  }

  private tidy(id: number, b: BufferFences): void {
    if (b.work.size === 0 && b.imported.size === 0) this.buffers.delete(id);
  }

  private need(what: string): SmafAddon {
    if (!this.addon) throw new SmafError('EOPNOTSUPP', `${what} needs smafd's addon (sync files are eventfds)`);
    return this.addon;
  }

  /**
   * DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a sync file for the writes in flight (READ), or for all the
   * work in flight (WRITE), as dma_resv_usage_rw; signalled at once when there is none. A
   * descriptor to send and close (smafd keeps its own until it signals it).
   */
  exportFence(buf: SmafBuffer, flags: number): number {
    checkFlags('EXPORT_SYNC_FILE', flags);
    const addon = this.need('EXPORT_SYNC_FILE');
    const b = this.buffers.get(buf.id);
    const all = (flags & DMA_BUF_SYNC_WRITE) !== 0;
    const pending = b ? [...b.work].filter((w) => all || w.access === 'write') : [];
    const imported = b ? [...b.imported] : [];
    const waiting = pending.length + imported.length;
    const fd = addon.eventfd(waiting === 0);
    const fence: Fence = { fd, waiting, then: [] };
    for (const w of pending) w.waiters.push(fence);
    for (const other of imported) other.then.push(fence);
    const [dev, ino] = addon.fstat(fd);
    this.known.set(`${dev}:${ino}`, fence);
    if (this.known.size > MAX_KNOWN_FENCES) this.known.delete(this.known.keys().next().value!);
    const out = addon.dup(fd);
    if (waiting === 0) {
      addon.close(fd);
      fence.fd = -1;
    }
    return out;
  }

  /**
   * DMA_BUF_IOCTL_IMPORT_SYNC_FILE: `fd` (received) must be a sync file smafd made (EINVAL, as the
   * kernel's sync_file_get_fence, for anything else). Device work on the buffer waits for it.
   */
  importFence(buf: SmafBuffer, flags: number, fd: number): void {
    checkFlags('IMPORT_SYNC_FILE', flags);
    const addon = this.need('IMPORT_SYNC_FILE');
    const [dev, ino] = addon.fstat(fd);
    const f = this.known.get(`${dev}:${ino}`);
    if (!f) throw new SmafError('EINVAL', 'IMPORT_SYNC_FILE: the fd is not a sync file (only sync files smafd made are known here)');
    if (f.waiting <= 0) return; // signalled: nothing to wait for
    this.of(buf).imported.add(f);
  }

  /** Device work in flight on a buffer (for the dashboard and tests). */
  inFlight(buf: SmafBuffer): number {
    return this.buffers.get(buf.id)?.work.size ?? 0;
  }

  released(bufferId: number): void {
    this.buffers.delete(bufferId);
  }
}

function checkFlags(what: string, flags: number): void {
  if ((flags & ~(DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE)) !== 0 || (flags & (DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE)) === 0) {
    throw new SmafError('EINVAL', `${what}: invalid flags 0x${flags.toString(16)} (DMA_BUF_SYNC_READ 1 and/or DMA_BUF_SYNC_WRITE 2)`);
  }
}
