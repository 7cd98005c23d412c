/**
 * Physical memory backed by real bytes, sparsely: a chunk is created on its first write, so a 1 GiB
 * platform costs only what is touched. Unbacked chunks read as zero. This is the raw storage; the
 * checked path for devices and the CPU is the `MemoryBus`.
 *
 * A range of pages may instead live in a **store** the host shares with someone else: the memfd a
 * C program maps (`attachStores`). Devices then read and write the program's pages themselves, with
 * no copy in between. A shared page is still a page of this memory for everything else (reads,
 * writes, copies, zeroing, `isZero`); `detachStores` ends the sharing and the page reads as zero
 * again, and `move` (migration) carries a shared page to its new address without copying it.
 *
 * Shared pages are kept as extents (a run of pages and the view of its store), sorted by address:
 * sharing, scrubbing and forgetting a 256 MiB buffer cost its segments, not its 65,536 pages. A
 * store may say how to zero its bytes (`zero`: a memfd's pages are given back to the kernel,
 * which reads them as zero, where a memset would write every page).
 */

import { startingAtOrBefore } from '../common/sorted.ts';

export const CHUNK_SIZE = 64 * 1024;

/** Up to this many ranges, the extent table is changed range by range (splices), beyond in one pass. */
const FEW = 64;

export interface AddressRange {
  readonly base: number;
  readonly size: number;
}

/** Host bytes shared as emulated pages, and how to zero them (default: a fill). */
export interface Store {
  readonly bytes: Uint8Array;
  zero?(view: Uint8Array): void;
}

/** A physical range (a segment's shape). */
interface Segment {
  readonly phys: number;
  readonly length: number;
}

/** One range to share: `length` bytes at `phys` become `store.bytes[offset..offset+length)`. */
export interface StoreRange extends Segment {
  readonly offset: number;
}

/** A run of shared pages: [base, end) is `bytes` (exactly end - base long). */
interface Extent {
  readonly base: number;
  readonly end: number;
  readonly bytes: Uint8Array;
  readonly store: Store;
}

/** Where an address's bytes are: `bytes[off..off+n)` (null bytes: unbacked, reads as zero). */
interface Span {
  bytes: Uint8Array | null;
  off: number;
  n: number;
  /** The extent the bytes belong to (null: a private chunk, or none). */
  ext: Extent | null;
}

export class PhysicalMemory {
  private readonly chunks = new Map<number, Uint8Array>();
  private readonly ranges: AddressRange[];
  /** Shared pages as extents, sorted by address, disjoint. */
  private extents: Extent[] = [];
  private shared = 0;
  private readonly span: Span = { bytes: null, off: 0, n: 0, ext: null };
  private readonly span2: Span = { bytes: null, off: 0, n: 0, ext: null };

  constructor(ranges: readonly AddressRange[], readonly pageSize = 4096) {
    if (CHUNK_SIZE % pageSize !== 0) throw new RangeError(`page size ${pageSize} does not divide the ${CHUNK_SIZE}-byte chunk`);
    this.ranges = ranges.map((r) => ({ base: r.base, size: r.size }));
  }

  /** Whether [addr, addr+len) lies entirely inside one populated range. */
  contains(addr: number, len: number): boolean {
    for (const r of this.ranges) if (addr >= r.base && addr + len <= r.base + r.size) return true;
    return false;
  }

  private check(addr: number, len: number): void {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || len < 0 || !this.contains(addr, len)) {
      throw new RangeError(`physical range 0x${addr.toString(16)}+0x${len.toString(16)} is not backed by memory`);
    }
  }

  /** The index of the last extent that starts at or before `addr` (-1: none). */
  private extentBefore(addr: number): number {
    return startingAtOrBefore(this.extents, addr) - 1;
  }

  /**
   * The storage of `addr` and how many bytes it covers from there (to the end of its extent, or of
   * its chunk, or up to the next extent). `create`: give an unbacked chunk its bytes.
   */
  private locate(addr: number, create: boolean, out: Span): Span {
    const idx = Math.floor(addr / CHUNK_SIZE);
    const off = addr - idx * CHUNK_SIZE;
    let end = CHUNK_SIZE;
    if (this.extents.length !== 0) {
      const i = this.extentBefore(addr);
      const e = i >= 0 ? this.extents[i]! : null;
      if (e && addr < e.end) {
        out.bytes = e.bytes;
        out.off = addr - e.base;
        out.n = e.end - addr;
        out.ext = e;
        return out;
      }
      const next = this.extents[i + 1];
      if (next && next.base - idx * CHUNK_SIZE < end) end = next.base - idx * CHUNK_SIZE;
    }
    let chunk = this.chunks.get(idx) ?? null;
    if (!chunk && create) this.chunks.set(idx, (chunk = new Uint8Array(CHUNK_SIZE)));
    out.bytes = chunk;
    out.off = off;
    out.n = end - off;
    out.ext = null;
    return out;
  }

  read(addr: number, dst: Uint8Array): void {
    this.check(addr, dst.length);
    for (let done = 0; done < dst.length; ) {
      const s = this.locate(addr + done, false, this.span);
      const n = Math.min(s.n, dst.length - done);
      if (s.bytes) dst.set(s.bytes.subarray(s.off, s.off + n), done);
      else dst.fill(0, done, done + n);
      done += n;
    }
  }

  write(addr: number, src: Uint8Array): void {
    this.check(addr, src.length);
    for (let done = 0; done < src.length; ) {
      const s = this.locate(addr + done, true, this.span);
      const n = Math.min(s.n, src.length - done);
      s.bytes!.set(src.subarray(done, done + n), s.off);
      done += n;
    }
  }

  /**
   * Zero a range: whole private chunks are dropped (they read as zero), shared pages are zeroed the
   * way their store says, the rest is cleared.
   */
  zero(addr: number, len: number): void {
    this.check(addr, len);
    for (let done = 0; done < len; ) {
      const s = this.locate(addr + done, false, this.span);
      const n = Math.min(s.n, len - done);
      if (s.ext) zeroStore(s.ext.store, s.bytes!.subarray(s.off, s.off + n));
      else if (s.bytes) {
        if (n === CHUNK_SIZE) this.chunks.delete(Math.floor((addr + done) / CHUNK_SIZE));
        else s.bytes.fill(0, s.off, s.off + n);
      }
      done += n;
    }
  }

  /**
   * Copy between two physical ranges (device copies), storage to storage: one memcpy per piece, no
   * bytes staged in between. Unbacked source pieces copy as zeros.
   */
  copy(dst: number, src: number, len: number): void {
    this.check(src, len);
    this.check(dst, len);
    for (let done = 0; done < len; ) {
      const from = this.locate(src + done, false, this.span);
      const to = this.locate(dst + done, from.bytes !== null, this.span2);
      const n = Math.min(from.n, to.n, len - done);
      if (from.bytes) to.bytes!.set(from.bytes.subarray(from.off, from.off + n), to.off);
      else if (to.bytes) to.bytes.fill(0, to.off, to.off + n);
      done += n;
    }
  }

  /** Whether every byte of the range is zero (scrub checks in tests and self-checks). */
  isZero(addr: number, len: number): boolean {
    this.check(addr, len);
    for (let done = 0; done < len; ) {
      const s = this.locate(addr + done, false, this.span);
      const n = Math.min(s.n, len - done);
      if (s.bytes) for (let i = s.off; i < s.off + n; i++) if (s.bytes[i] !== 0) return false;
      done += n;
    }
    return true;
  }

  // ---- pages shared with the host ---------------------------------------------------------------

  private wholePages(addr: number, len: number, what: string): void {
    this.check(addr, len);
    if (addr % this.pageSize !== 0 || len % this.pageSize !== 0) throw new RangeError(`${what}: 0x${addr.toString(16)}+0x${len.toString(16)} is not whole pages`);
  }

  /** The first shared address in [addr, addr+len), or -1. */
  private firstShared(addr: number, len: number): number {
    if (this.extents.length === 0 || len <= 0) return -1;
    const i = this.extentBefore(addr);
    const e = i >= 0 ? this.extents[i]! : null;
    if (e && addr < e.end) return addr;
    const next = this.extents[i + 1];
    return next && next.base < addr + len ? next.base : -1;
  }

  /**
   * Put extents in (disjoint from each other and from the table): a few by binary search and
   * splice (a native move of the table), many by one merge of two sorted lists.
   */
  private insert(added: Extent[]): void {
    if (added.length === 0) return;
    if (added.length <= FEW) {
      for (const e of added) this.extents.splice(this.extentBefore(e.base) + 1, 0, e);
    } else {
      added.sort((x, y) => x.base - y.base);
      const old = this.extents;
      const merged = new Array<Extent>(old.length + added.length);
      let i = 0;
      let j = 0;
      for (let k = 0; k < merged.length; k++) merged[k] = j >= added.length || (i < old.length && old[i]!.base < added[j]!.base) ? old[i++]! : added[j++]!;
      this.extents = merged;
    }
    for (const e of added) this.shared += e.end - e.base;
  }

  /**
   * Take the shared parts of [addr, addr+len) out of the table (an extent cut by the range's edge
   * keeps its outside part), into `taken` in address order: a binary search and one splice.
   */
  private cut(addr: number, len: number, taken: Extent[]): void {
    if (this.firstShared(addr, len) < 0) return;
    const end = addr + len;
    let i = this.extentBefore(addr);
    if (i < 0 || this.extents[i]!.end <= addr) i++;
    let j = i;
    while (j < this.extents.length && this.extents[j]!.base < end) j++;
    const kept: Extent[] = [];
    for (let k = i; k < j; k++) {
      const e = this.extents[k]!;
      if (e.base < addr) kept.push(piece(e, e.base, addr));
      taken.push(piece(e, Math.max(e.base, addr), Math.min(e.end, end)));
      if (e.end > end) kept.push(piece(e, end, e.end));
      this.shared -= Math.min(e.end, end) - Math.max(e.base, addr);
    }
    this.extents.splice(i, j - i, ...kept);
  }

  /** `cut` for many ranges: range by range for a few, else one pass over the table (a buffer of thousands of segments). */
  private cutAll(ranges: readonly Segment[]): Extent[] {
    const taken: Extent[] = [];
    if (this.extents.length === 0) return taken;
    if (ranges.length <= FEW) {
      for (const r of ranges) this.cut(r.phys, r.length, taken);
      return taken;
    }
    const rs = ranges.filter((r) => this.firstShared(r.phys, r.length) >= 0).sort((x, y) => x.phys - y.phys);
    const kept: Extent[] = [];
    let r = 0;
    for (const e of this.extents) {
      let at = e.base;
      while (r < rs.length && rs[r]!.phys + rs[r]!.length <= at) r++;
      for (let q = r; q < rs.length && rs[q]!.phys < e.end && at < e.end; q++) {
        const from = Math.max(at, rs[q]!.phys);
        const to = Math.min(e.end, rs[q]!.phys + rs[q]!.length);
        if (to <= from) continue;
        if (from > at) kept.push(piece(e, at, from));
        taken.push(piece(e, from, to));
        this.shared -= to - from;
        at = to;
      }
      if (at === e.base) kept.push(e);
      else if (at < e.end) kept.push(piece(e, at, e.end));
    }
    this.extents = kept;
    return taken;
  }

  /**
   * From now on each range's pages are its part of the store (`offset` into `store.bytes`). `keep`
   * says whose bytes survive: `'memory'` puts the pages' current bytes into the store first (where
   * the memory never held any, the store is zeroed its own way); `'store'` keeps what the store
   * holds. Either way the private bytes underneath are cleared, so that the pages read as zero once
   * the store is detached. A page already shared, or given twice, is a RangeError (a bug), and
   * nothing changes.
   */
  attachStores(ranges: readonly StoreRange[], store: Store, keep: 'memory' | 'store'): void {
    for (const r of ranges) {
      this.wholePages(r.phys, r.length, 'attachStore');
      if (r.offset < 0 || r.offset % this.pageSize !== 0 || r.offset + r.length > store.bytes.length) {
        throw new RangeError(`attachStore: ${r.length} bytes at ${r.offset} leave a ${store.bytes.length}-byte store`);
      }
      const at = this.firstShared(r.phys, r.length);
      if (at >= 0) throw new RangeError(`attachStore: page 0x${at.toString(16)} is already shared`);
    }
    const added: Extent[] = [];
    for (const r of ranges) if (r.length > 0) added.push({ base: r.phys, end: r.phys + r.length, bytes: store.bytes.subarray(r.offset, r.offset + r.length), store });
    added.sort((x, y) => x.base - y.base);
    for (let i = 1; i < added.length; i++) {
      if (added[i]!.base < added[i - 1]!.end) throw new RangeError(`attachStore: page 0x${added[i]!.base.toString(16)} is given twice`);
    }
    const unheld: Uint8Array[] = [];
    for (const e of added) {
      if (keep === 'memory') this.moveOut(e.base, e.bytes, unheld);
      this.zero(e.base, e.end - e.base);
    }
    zeroViews(store, unheld);
    this.insert(added);
  }

  /** One range of a plain array (zeroed by a fill): see `attachStores`. */
  attachStore(addr: number, len: number, store: Uint8Array, offset: number, keep: 'memory' | 'store'): void {
    this.attachStores([{ phys: addr, length: len, offset }], { bytes: store }, keep);
  }

  /** The private bytes at `addr` go into `view`; the runs the memory never held go to `unheld`. */
  private moveOut(addr: number, view: Uint8Array, unheld: Uint8Array[]): void {
    let from = -1; // where a run the memory never held began
    for (let done = 0; done < view.length; ) {
      const s = this.locate(addr + done, false, this.span);
      const n = Math.min(s.n, view.length - done);
      if (s.bytes) {
        if (from >= 0) unheld.push(view.subarray(from, done));
        from = -1;
        view.set(s.bytes.subarray(s.off, s.off + n), done);
      } else if (from < 0) from = done;
      done += n;
    }
    if (from >= 0) unheld.push(view.subarray(from));
  }

  /** The pages of these ranges stop being shared (those that were); they read as zero. */
  detachStores(ranges: readonly Segment[]): void {
    if (this.extents.length === 0) return;
    for (const r of ranges) this.wholePages(r.phys, r.length, 'detachStore');
    this.cutAll(ranges);
  }

  detachStore(addr: number, len: number): void {
    this.detachStores([{ phys: addr, length: len }]);
  }

  /**
   * Zero the ranges and end their sharing (a scrub): the shared parts are zeroed in their stores,
   * runs that are contiguous in one store at once (a buffer's pages are its memfd's, in order), then
   * forgotten; the private parts are zeroed as `zero` does.
   */
  zeroAndDetach(ranges: readonly Segment[]): void {
    for (const r of ranges) this.check(r.phys, r.length);
    if (this.extents.length !== 0) {
      for (const r of ranges) this.wholePages(r.phys, r.length, 'zeroAndDetach');
      const byStore = new Map<Store, Uint8Array[]>();
      for (const t of this.cutAll(ranges)) {
        const views = byStore.get(t.store);
        if (views) views.push(t.bytes);
        else byStore.set(t.store, [t.bytes]);
      }
      for (const [store, views] of byStore) zeroViews(store, views);
    }
    for (const r of ranges) this.zero(r.phys, r.length);
  }

  /**
   * Move the bytes of [src, src+len) to [dst, dst+len) (whole pages; a migration): afterwards dst
   * holds them and src reads as zero. A shared page is not copied: its store moves with it, so
   * whoever maps the store keeps seeing the same bytes. A shared page at dst is a RangeError, and
   * nothing moves.
   */
  move(dst: number, src: number, len: number): void {
    this.wholePages(src, len, 'move');
    this.wholePages(dst, len, 'move');
    const busy = this.firstShared(dst, len);
    if (busy >= 0) throw new RangeError(`move: page 0x${busy.toString(16)} is shared`);
    const taken: Extent[] = [];
    this.cut(src, len, taken);
    let at = src;
    const privately = (to: number): void => {
      if (to <= at) return;
      this.copy(dst + (at - src), at, to - at);
      this.zero(at, to - at);
    };
    const moved: Extent[] = [];
    for (const e of taken) {
      privately(e.base);
      const base = dst + (e.base - src);
      this.zero(base, e.end - e.base);
      moved.push({ base, end: base + (e.end - e.base), bytes: e.bytes, store: e.store });
      at = e.end;
    }
    privately(src + len);
    this.insert(moved);
  }

  /** Whether any page of the range is shared with the host. */
  isShared(addr: number, len: number): boolean {
    return this.firstShared(addr, len) >= 0;
  }

  /** Bytes of host memory the emulation holds right now in its own chunks (shared pages excluded). */
  get residentBytes(): number {
    return this.chunks.size * CHUNK_SIZE;
  }

  /** Bytes of pages shared with the host now. */
  get sharedBytes(): number {
    return this.shared;
  }
}

function piece(e: Extent, base: number, end: number): Extent {
  return { base, end, store: e.store, bytes: e.bytes.subarray(base - e.base, end - e.base) };
}

/** Zero views of one store, at once where they follow each other in it (one call for a whole buffer). */
function zeroViews(store: Store, views: Uint8Array[]): void {
  views.sort((x, y) => x.byteOffset - y.byteOffset);
  for (let i = 0; i < views.length; ) {
    const first = views[i]!;
    let end = first.byteOffset + first.length;
    let j = i + 1;
    while (j < views.length && views[j]!.byteOffset <= end) end = Math.max(end, views[j]!.byteOffset + views[j++]!.length);
    zeroStore(store, new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset));
    i = j;
  }
}

function zeroStore(store: Store, view: Uint8Array): void {
  if (store.zero) store.zero(view);
  else view.fill(0);
}
