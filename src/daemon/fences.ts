/**
 * Implicit fences of dma-bufs, as the kernel's dma_resv: device work in flight on a buffer (a DMA
 * copy or CRC that smafd runs in slices) is a fence; `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` gives a sync
 * file (a pipe of smafd's: the program gets its read end, readable once smafd signals it by writing
 * into the write end only smafd holds) that waits for the writes in flight (READ)
 * or for everything in flight (WRITE); `DMA_BUF_IOCTL_IMPORT_SYNC_FILE` adds a sync file of smafd's
 * to a buffer as a write (WRITE) or a read (READ) fence, and device work waits for it as the
 * kernel's dma_resv_usage_rw says: a reader for the write fences, a writer for all of them. A CPU
 * access (DMA_BUF_IOCTL_SYNC START) waits the same way, as dma_buf_begin_cpu_access does.
 *
 * What a buffer is busy with (nothing, reads, a write) is told to `onBusy` as it changes: smafd
 * shows it to C programs as a lock on the buffer's file (buffer-files.ts), so that their SYNC asks
 * the kernel, not smafd, when nothing is in flight.
 *
 * Without smafd's addon there are no sync files: work is only counted (and still waits for nothing).
 */
import { SmafError } from '../common/errors.ts';
import type { SmafBuffer } from '../core/index.ts';
import { outOfFiles, type SmafAddon } from '../native/addon.ts';

export type FenceAccess = 'read' | 'write';

/** What a buffer is busy with: 0 nothing, 1 reads only, 2 a write (or a write fence waited for). */
export type Busy = 0 | 1 | 2;

/** A sync file smafd made: signalled when every piece of work it waits for is done. */
interface Fence {
  /**
   * smafd's write end of the pipe, kept while the fence is pending or known (-1 after): while it is
   * open the pipe lives, so its inode names it and nothing else.
   */
  fd: number;
  /** Still in `known` (IMPORT, INFO and MERGE find it), under this key (dev:ino). */
  known: boolean;
  readonly key: string;
  /** The client (account) whose EXPORT or MERGE made it: what it counts against. */
  readonly owner: object;
  waiting: number;
  /** Sync files exported while this one was imported and pending, and merges of it: they wait for it too. */
  readonly then: Fence[];
  /** A number of its own (SYNC_IOC_FILE_INFO's names, FENCE_MERGE's ids). */
  readonly id: number;
  /** Its name (sync_file_get_name): given at a merge, else the driver, timeline and number. */
  readonly name: string;
  /** The timeline of an exported one: the buffer it waits on. */
  readonly timeline: string;
  /** A merge's fences (exported ones, flattened as dma_fence_unwrap does); empty for an exported one. */
  readonly parts: readonly Fence[];
  /** When it signalled (CLOCK_MONOTONIC, ns), 0n while active. */
  signalledNs: bigint;
}

/** What SYNC_IOC_FILE_INFO shows of a sync file and of each of its fences. */
export interface FenceState {
  readonly status: 0 | 1;
  readonly id: number;
  readonly timestampNs: bigint;
  readonly name: string;
}

interface InFlight {
  readonly access: FenceAccess;
  readonly waiters: Fence[];
}

interface BufferFences {
  readonly work: Set<InFlight>;
  /** Sync files imported into the buffer and not signalled yet, each a read or a write fence. */
  readonly imported: Map<Fence, FenceAccess>;
  busy: Busy;
}

/**
 * Sync files smafd knows (IMPORT, INFO and MERGE find them), each with a pipe end of smafd's: a
 * client's own beyond MAX_KNOWN_PER_CLIENT forget its oldest; beyond MAX_KNOWN_FENCES in all, those
 * nobody holds any more are forgotten, and if every one is held, EXPORT and MERGE are ENOMEM.
 */
export const MAX_KNOWN_PER_CLIENT = 1024;
export const MAX_KNOWN_FENCES = 8192;
/** Sync files not signalled yet: beyond, EXPORT and MERGE are ENOMEM. */
const MAX_PENDING_FENCES = 4096;
/** Fences one merged sync file may hold. */
export const MAX_MERGED_FENCES = 256;

const S_IFMT = 0o170000;
const S_IFIFO = 0o010000;
const DMA_BUF_SYNC_READ = 1;
const DMA_BUF_SYNC_WRITE = 2;

/** Whether a fence of `held` access is in the way of `wanted` (dma_resv_usage_rw). */
const inTheWay = (held: FenceAccess, wanted: FenceAccess): boolean => wanted === 'write' || held === 'write';

export class Fences {
  private readonly buffers = new Map<number, BufferFences>();
  /** By the pipe's dev:ino, oldest first. */
  private readonly known = new Map<string, Fence>();
  /** Each client's known sync files, oldest first. */
  private readonly owned = new Map<object, Set<Fence>>();
  private nextId = 1;
  /** Fences made and not signalled yet. */
  private pending = 0;
  /** How many sync files smafd knows, and how many wait for device work (each a descriptor of smafd's). */
  get counts(): { readonly known: number; readonly pending: number } {
    return { known: this.known.size, pending: this.pending };
  }

  /** Told when what a buffer is busy with changes (by buffer id). */
  onBusy: ((bufferId: number, busy: Busy) => void) | null = null;

  constructor(private readonly addon: SmafAddon | null) {}

  private of(buf: SmafBuffer): BufferFences {
    let b = this.buffers.get(buf.id);
    if (!b) this.buffers.set(buf.id, (b = { work: new Set(), imported: new Map(), busy: 0 }));
    return b;
  }

  /** What the buffer is busy with now. */
  busy(buf: SmafBuffer): Busy {
    return this.buffers.get(buf.id)?.busy ?? 0;
  }

  /** Whether an access must wait for the sync files imported into the buffer. */
  private blocked(buf: SmafBuffer, access: FenceAccess): boolean {
    const b = this.buffers.get(buf.id);
    if (!b) return false;
    for (const held of b.imported.values()) if (inTheWay(held, access)) return true;
    return false;
  }

  /** Whether a CPU access must wait: for everything in flight (write), or for the writes (read). */
  cpuMustWait(buf: SmafBuffer, access: FenceAccess): boolean {
    const busy = this.busy(buf);
    return access === 'write' ? busy !== 0 : busy === 2;
  }

  /**
   * Device work on buffers: it waits (yields) while a sync file imported into any of them is in its
   * way, then is in flight until `steps` finishes, however it finishes.
   */
  *device<T>(uses: readonly (readonly [SmafBuffer, FenceAccess])[], steps: Generator<void, T>): Generator<void, T> {
    while (uses.some(([buf, access]) => this.blocked(buf, access))) yield;
    const started = uses.map(([buf, access]) => this.begin(buf, access));
    try {
      return yield* steps;
    } finally {
      for (const [buf, w] of started) this.end(buf, w);
    }
  }

  /** A CPU access (DMA_BUF_IOCTL_SYNC START) waits (yields) for the device work in its way. */
  *cpuAccess(buf: SmafBuffer, access: FenceAccess): Generator<void, void> {
    while (this.cpuMustWait(buf, access)) yield;
  }

  private begin(buf: SmafBuffer, access: FenceAccess): [SmafBuffer, InFlight] {
    const b = this.of(buf);
    const w: InFlight = { access, waiters: [] };
    b.work.add(w);
    this.changed(buf.id, b);
    return [buf, w];
  }

  private end(buf: SmafBuffer, w: InFlight): void {
    const b = this.buffers.get(buf.id);
    b?.work.delete(w);
    for (const f of w.waiters) this.done(f); // even when the buffer is gone: its sync files still signal
    if (b) this.changed(buf.id, b);
  }

  private done(f: Fence): void {
    if (--f.waiting !== 0) return; // still waiting (or signalled already)
    if (this.addon && f.fd >= 0) {
      this.addon.signal(f.fd);
      this.pending--;
      if (!f.known) this.forget(f);
    }
    f.signalledNs = process.hrtime.bigint();
    for (const next of f.then.splice(0)) this.done(next);
    for (const [id, b] of this.buffers) if (b.imported.delete(f)) this.changed(id, b);
  }

  /** Recompute what the buffer is busy with; tell `onBusy` when it changed; forget an idle buffer. */
  private changed(id: number, b: BufferFences): void {
    let busy: Busy = [...b.imported.values()].some((a) => a === 'write') ? 2 : b.imported.size > 0 ? 1 : 0;
    for (const w of b.work) busy = w.access === 'write' ? 2 : busy === 2 ? 2 : 1;
    if (b.work.size === 0 && b.imported.size === 0) this.buffers.delete(id);
    if (busy === b.busy) return;
    b.busy = busy;
    this.onBusy?.(id, busy);
  }

  private need(what: string): SmafAddon {
    if (!this.addon) throw new SmafError('EOPNOTSUPP', `${what} needs smafd's addon (sync files are pipes it makes)`);
    return this.addon;
  }

  /**
   * DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a sync file for the writes in flight (READ), or for all the
   * work in flight (WRITE), as dma_resv_usage_rw; signalled at once when there is none. A
   * descriptor to send and close (smafd keeps its own until it signals it).
   */
  exportFence(buf: SmafBuffer, flags: number, owner: object = this): number {
    checkFlags('EXPORT_SYNC_FILE', flags);
    const addon = this.need('EXPORT_SYNC_FILE');
    const b = this.buffers.get(buf.id);
    const all = (flags & DMA_BUF_SYNC_WRITE) !== 0;
    const wanted: FenceAccess = all ? 'write' : 'read';
    const pending = b ? [...b.work].filter((w) => inTheWay(w.access, wanted)) : [];
    const imported = b ? [...b.imported].filter(([, held]) => inTheWay(held, wanted)).map(([f]) => f) : [];
    const id = this.nextId++;
    const [fence, out] = this.make(addon, owner, pending.length + imported.length, { id, name: `smafd-buffer${buf.id}-${id}`, timeline: `buffer${buf.id}`, parts: [] });
    for (const w of pending) w.waiters.push(fence);
    for (const other of imported) other.then.push(fence);
    return out;
  }

  /**
   * A new fence and its sync file (readable at once when it waits for nothing), known from now on:
   * the fence, and the read end to send and close.
   */
  private make(addon: SmafAddon, owner: object, waiting: number, what: Pick<Fence, 'id' | 'name' | 'timeline' | 'parts'>): [Fence, number] {
    if (waiting > 0 && this.pending >= MAX_PENDING_FENCES) throw new SmafError('ENOMEM', `${MAX_PENDING_FENCES} sync files are waiting for device work already: wait for some`);
    this.makeRoom(addon, owner);
    const [readEnd, writeEnd] = outOfFiles('a sync file', () => addon.syncFile(waiting === 0));
    const [dev, ino] = addon.fstat(writeEnd);
    const fence: Fence = { ...what, fd: writeEnd, known: true, key: `${dev}:${ino}`, owner, waiting, then: [], signalledNs: waiting === 0 ? process.hrtime.bigint() : 0n };
    if (waiting > 0) this.pending++;
    this.known.set(fence.key, fence);
    let mine = this.owned.get(owner);
    if (!mine) this.owned.set(owner, (mine = new Set()));
    mine.add(fence);
    return [fence, readEnd];
  }

  /** Room for one more known sync file of `owner` (see MAX_KNOWN_PER_CLIENT), or ENOMEM. */
  private makeRoom(addon: SmafAddon, owner: object): void {
    const mine = this.owned.get(owner);
    if (mine && mine.size >= MAX_KNOWN_PER_CLIENT) this.unknow(mine.values().next().value!);
    // a little reclaiming at each new one: the two oldest are looked at, and one still held goes to
    // the back (the order only drives this), so sync files closed everywhere do not keep descriptors
    for (let n = 0; n < 2 && this.known.size > 0; n++) {
      const f = this.known.values().next().value!;
      if (!addon.held(f.fd)) this.unknow(f);
      else {
        this.known.delete(f.key);
        this.known.set(f.key, f);
      }
    }
    if (this.known.size < MAX_KNOWN_FENCES) return;
    for (const f of [...this.known.values()]) if (!addon.held(f.fd)) this.unknow(f); // nobody holds it: nobody can pass it again
    if (this.known.size >= MAX_KNOWN_FENCES) throw new SmafError('ENOMEM', `${MAX_KNOWN_FENCES} sync files are held open: close some`);
  }

  /** smafd forgets a sync file (a pending one keeps its pipe end until it signals). */
  private unknow(f: Fence): void {
    this.known.delete(f.key);
    const mine = this.owned.get(f.owner);
    mine?.delete(f);
    if (mine?.size === 0) this.owned.delete(f.owner);
    f.known = false;
    if (f.waiting <= 0) this.forget(f);
  }

  /** smafd lets go of the fence's pipe end. */
  private forget(f: Fence): void {
    if (this.addon && f.fd >= 0) this.addon.close(f.fd);
    f.fd = -1;
  }

  /** The sync file `fd` is (received), or null when smafd did not make it (or forgot it). */
  private fenceOf(addon: SmafAddon, fd: number): Fence | null {
    const [dev, ino, , mode] = addon.fstat(fd);
    return (mode & S_IFMT) === S_IFIFO ? (this.known.get(`${dev}:${ino}`) ?? null) : null;
  }

  /**
   * SYNC_IOC_FILE_INFO: the sync file first (its state: signalled once all its fences are), then
   * each of its fences (an exported one is its own only fence). ENOTTY for a file smafd did not
   * make: SYNC_IOC_* on a file that is no sync file.
   */
  info(fd: number): FenceState[] {
    const addon = this.need('SYNC_IOC_FILE_INFO');
    const f = this.fenceOf(addon, fd);
    if (!f) throw new SmafError('ENOTTY', 'SYNC_IOC_FILE_INFO: the fd is not a sync file (only sync files smafd made are known here)');
    const state = (x: Fence, id: number, name: string): FenceState => ({ status: x.waiting <= 0 ? 1 : 0, id, timestampNs: x.signalledNs, name });
    const parts = f.parts.length > 0 ? f.parts : [f];
    return [state(f, f.id, f.name), ...parts.map((p) => state(p, 0, p.timeline))];
  }

  /** The sync file a FENCE_INFO gave this id, if smafd still knows it. */
  byId(id: number): Fence | null {
    for (const f of this.known.values()) if (f.id === id) return f;
    return null;
  }

  /**
   * SYNC_IOC_MERGE: a sync file signalled once every fence of `first` and of the sync file `fd` is
   * (ENOENT when `fd` is none, as sync_file_fdget). Merges are flattened: a merge of merges holds
   * their exported fences, each once.
   */
  merge(first: Fence, fd: number, name: string, owner: object = this): number {
    const addon = this.need('SYNC_IOC_MERGE');
    const second = this.fenceOf(addon, fd);
    if (!second) throw new SmafError('ENOENT', 'SYNC_IOC_MERGE: fd2 is not a sync file (only sync files smafd made are known here)');
    const parts = [...new Set([...(first.parts.length > 0 ? first.parts : [first]), ...(second.parts.length > 0 ? second.parts : [second])])];
    if (parts.length > MAX_MERGED_FENCES) throw new SmafError('ENOMEM', `SYNC_IOC_MERGE: a sync file holds at most ${MAX_MERGED_FENCES} fences here (this merge: ${parts.length})`);
    const pending = parts.filter((p) => p.waiting > 0);
    const id = this.nextId++;
    const [fence, out] = this.make(addon, owner, pending.length, { id, name: name || `smafd-merge-${id}`, timeline: '', parts });
    for (const p of pending) p.then.push(fence);
    return out;
  }

  /**
   * DMA_BUF_IOCTL_IMPORT_SYNC_FILE: `fd` (received) must be a sync file smafd made (EINVAL, as the
   * kernel's sync_file_get_fence, for anything else). It becomes a write fence of the buffer (WRITE
   * in the flags) or a read fence, and what is in its way waits for it.
   */
  importFence(buf: SmafBuffer, flags: number, fd: number): void {
    checkFlags('IMPORT_SYNC_FILE', flags);
    const addon = this.need('IMPORT_SYNC_FILE');
    const f = this.fenceOf(addon, fd);
    if (!f) throw new SmafError('EINVAL', 'IMPORT_SYNC_FILE: the fd is not a sync file (only sync files smafd made are known here)');
    if (f.waiting <= 0) return; // signalled: nothing to wait for
    const b = this.of(buf);
    const access: FenceAccess = (flags & DMA_BUF_SYNC_WRITE) !== 0 ? 'write' : 'read';
    if (b.imported.get(f) !== 'write') b.imported.set(f, access);
    this.changed(buf.id, b);
  }

  /** Device work in flight on a buffer (for the dashboard and tests). */
  inFlight(buf: SmafBuffer): number {
    return this.buffers.get(buf.id)?.work.size ?? 0;
  }

  released(bufferId: number): void {
    const b = this.buffers.get(bufferId);
    this.buffers.delete(bufferId);
    if (b && b.busy !== 0) this.onBusy?.(bufferId, 0);
  }
}

function checkFlags(what: string, flags: number): void {
  if ((flags & ~(DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE)) !== 0 || (flags & (DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE)) === 0) {
    throw new SmafError('EINVAL', `${what}: invalid flags 0x${flags.toString(16)} (DMA_BUF_SYNC_READ 1 and/or DMA_BUF_SYNC_WRITE 2)`);
  }
}
