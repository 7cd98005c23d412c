/**
 * Physical memory backed by real bytes, sparsely: a chunk is created on its first write, so a 1 GiB
 * platform costs only what is touched. Unbacked chunks read as zero. This is the raw storage; the
 * checked path for devices and the CPU is the `MemoryBus`.
 *
 * A page may instead live in a **store** the host shares with someone else: the memfd a C program
 * maps (`attachStore`). Devices then read and write the program's pages themselves, with no copy in
 * between. A shared page is still a page of this memory for everything else (reads, writes, copies,
 * zeroing, `isZero`); `detachStore` ends the sharing and the page reads as zero again, and `move`
 * (migration) carries a shared page to its new address without copying it.
 */

export const CHUNK_SIZE = 64 * 1024;

export interface AddressRange {
  readonly base: number;
  readonly size: number;
}

/** Where an address's bytes are: `bytes[off..off+n)` (null bytes: unbacked, reads as zero). */
interface Span {
  bytes: Uint8Array | null;
  off: number;
  n: number;
}

export class PhysicalMemory {
  private readonly chunks = new Map<number, Uint8Array>();
  private readonly ranges: AddressRange[];
  /** Shared pages: page index -> a view of exactly one page of its store. */
  private readonly shared = new Map<number, Uint8Array>();
  /** Chunks holding at least one shared page -> how many (the fast path skips all others). */
  private readonly sharedInChunk = new Map<number, number>();
  private readonly span: Span = { bytes: null, off: 0, n: 0 };
  private readonly span2: Span = { bytes: null, off: 0, n: 0 };

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

  /**
   * The storage of `addr` and how many bytes it covers from there (to the end of its chunk, or of
   * its page in a chunk that holds shared pages). `create`: give an unbacked chunk its bytes.
   */
  private locate(addr: number, create: boolean, out: Span): Span {
    const idx = Math.floor(addr / CHUNK_SIZE);
    const off = addr - idx * CHUNK_SIZE;
    let end = CHUNK_SIZE;
    if (this.sharedInChunk.size !== 0 && this.sharedInChunk.has(idx)) {
      const page = Math.floor(addr / this.pageSize);
      const inPage = addr - page * this.pageSize;
      const view = this.shared.get(page);
      if (view) {
        out.bytes = view;
        out.off = inPage;
        out.n = this.pageSize - inPage;
        return out;
      }
      end = off - inPage + this.pageSize;
    }
    let chunk = this.chunks.get(idx) ?? null;
    if (!chunk && create) this.chunks.set(idx, (chunk = new Uint8Array(CHUNK_SIZE)));
    out.bytes = chunk;
    out.off = off;
    out.n = end - off;
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

  /** Zero a range: whole private chunks are dropped (they read as zero), the rest is cleared. */
  zero(addr: number, len: number): void {
    this.check(addr, len);
    for (let done = 0; done < len; ) {
      const s = this.locate(addr + done, false, this.span);
      const n = Math.min(s.n, len - done);
      if (s.bytes) {
        if (n === CHUNK_SIZE && s.bytes.length === CHUNK_SIZE) this.chunks.delete(Math.floor((addr + done) / CHUNK_SIZE));
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

  private pagesOf(addr: number, len: number, what: string): { first: number; count: number } {
    this.check(addr, len);
    if (addr % this.pageSize !== 0 || len % this.pageSize !== 0) throw new RangeError(`${what}: 0x${addr.toString(16)}+0x${len.toString(16)} is not whole pages`);
    return { first: addr / this.pageSize, count: len / this.pageSize };
  }

  private share(page: number, view: Uint8Array): void {
    this.shared.set(page, view);
    const idx = Math.floor((page * this.pageSize) / CHUNK_SIZE);
    this.sharedInChunk.set(idx, (this.sharedInChunk.get(idx) ?? 0) + 1);
  }

  private unshare(page: number): Uint8Array {
    const view = this.shared.get(page)!;
    this.shared.delete(page);
    const idx = Math.floor((page * this.pageSize) / CHUNK_SIZE);
    const left = this.sharedInChunk.get(idx)! - 1;
    if (left === 0) this.sharedInChunk.delete(idx);
    else this.sharedInChunk.set(idx, left);
    return view;
  }

  /**
   * From now on the pages [addr, addr+len) are `store[offset..offset+len)`. `keep` says whose bytes
   * survive: `'memory'` copies the pages' current bytes into the store first; `'store'` keeps what
   * the store holds. Either way the private bytes underneath are cleared, so that the pages read as
   * zero once the store is detached. A page that is already shared is a RangeError (a bug).
   */
  attachStore(addr: number, len: number, store: Uint8Array, offset: number, keep: 'memory' | 'store'): void {
    const { first, count } = this.pagesOf(addr, len, 'attachStore');
    if (offset < 0 || offset % this.pageSize !== 0 || offset + len > store.length) throw new RangeError(`attachStore: ${len} bytes at ${offset} leave a ${store.length}-byte store`);
    for (let i = 0; i < count; i++) if (this.shared.has(first + i)) throw new RangeError(`attachStore: page 0x${((first + i) * this.pageSize).toString(16)} is already shared`);
    for (let i = 0; i < count; i++) {
      const view = store.subarray(offset + i * this.pageSize, offset + (i + 1) * this.pageSize);
      const a = (first + i) * this.pageSize;
      if (keep === 'memory') this.read(a, view);
      this.zero(a, this.pageSize);
      this.share(first + i, view);
    }
  }

  /** The pages [addr, addr+len) stop being shared (those that were); they read as zero. */
  detachStore(addr: number, len: number): void {
    if (this.shared.size === 0) return;
    const { first, count } = this.pagesOf(addr, len, 'detachStore');
    for (let i = 0; i < count; i++) if (this.shared.has(first + i)) this.unshare(first + i);
  }

  /**
   * Move the bytes of [src, src+len) to [dst, dst+len) (whole pages; a migration): afterwards dst
   * holds them and src reads as zero. A shared page is not copied: its store moves with it, so
   * whoever maps the store keeps seeing the same bytes.
   */
  move(dst: number, src: number, len: number): void {
    const s = this.pagesOf(src, len, 'move');
    const d = this.pagesOf(dst, len, 'move');
    if (!this.isShared(src, len) && !this.isShared(dst, len)) {
      this.copy(dst, src, len);
      this.zero(src, len);
      return;
    }
    for (let i = 0; i < s.count; i++) {
      const from = (s.first + i) * this.pageSize;
      const to = (d.first + i) * this.pageSize;
      if (this.shared.has(d.first + i)) throw new RangeError(`move: page 0x${to.toString(16)} is shared`);
      if (this.shared.has(s.first + i)) {
        this.zero(to, this.pageSize);
        this.share(d.first + i, this.unshare(s.first + i));
      } else {
        this.copy(to, from, this.pageSize);
        this.zero(from, this.pageSize);
      }
    }
  }

  /** Whether any page of the range is shared with the host. */
  isShared(addr: number, len: number): boolean {
    if (this.shared.size === 0) return false;
    const first = Math.floor(addr / this.pageSize);
    const last = Math.floor((addr + len - 1) / this.pageSize);
    for (let p = first; p <= last; p++) if (this.shared.has(p)) return true;
    return false;
  }

  /** Bytes of host memory the emulation holds right now in its own chunks (shared pages excluded). */
  get residentBytes(): number {
    return this.chunks.size * CHUNK_SIZE;
  }

  /** Bytes of pages shared with the host now. */
  get sharedBytes(): number {
    return this.shared.size * this.pageSize;
  }
}
