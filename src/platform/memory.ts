/**
 * Physical memory backed by real bytes, sparsely: a chunk is created on its first write, so a 1 GiB
 * platform costs only what is touched. Unbacked chunks read as zero. This is the raw storage; the
 * checked path for devices and the CPU is the `MemoryBus`.
 */

export const CHUNK_SIZE = 64 * 1024;

export interface AddressRange {
  readonly base: number;
  readonly size: number;
}

export class PhysicalMemory {
  private readonly chunks = new Map<number, Uint8Array>();
  private readonly ranges: AddressRange[];

  constructor(ranges: readonly AddressRange[]) {
    this.ranges = ranges.map((r) => ({ base: r.base, size: r.size }));
  }

  /** Whether [addr, addr+len) lies entirely inside one populated range. */
  contains(addr: number, len: number): boolean {
    return this.ranges.some((r) => addr >= r.base && addr + len <= r.base + r.size);
  }

  private check(addr: number, len: number): void {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(len) || len < 0 || !this.contains(addr, len)) {
      throw new RangeError(`physical range 0x${addr.toString(16)}+0x${len.toString(16)} is not backed by memory`);
    }
  }

  /** Visit [addr, addr+len) chunk by chunk: chunk index, offset in it, bytes, bytes done so far. */
  private walk(addr: number, len: number, visit: (idx: number, off: number, n: number, done: number) => boolean | void): void {
    this.check(addr, len);
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const idx = Math.floor(a / CHUNK_SIZE);
      const off = a - idx * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - off, len - done);
      if (visit(idx, off, n, done) === false) return;
      done += n;
    }
  }

  read(addr: number, dst: Uint8Array): void {
    this.walk(addr, dst.length, (idx, off, n, done) => {
      const chunk = this.chunks.get(idx);
      if (chunk) dst.set(chunk.subarray(off, off + n), done);
      else dst.fill(0, done, done + n);
    });
  }

  write(addr: number, src: Uint8Array): void {
    this.walk(addr, src.length, (idx, off, n, done) => {
      let chunk = this.chunks.get(idx);
      if (!chunk) {
        chunk = new Uint8Array(CHUNK_SIZE);
        this.chunks.set(idx, chunk);
      }
      chunk.set(src.subarray(done, done + n), off);
    });
  }

  /** Zero a range: whole chunks are dropped (they read as zero), partial ones are cleared. */
  zero(addr: number, len: number): void {
    this.walk(addr, len, (idx, off, n) => {
      const chunk = this.chunks.get(idx);
      if (!chunk) return;
      if (n === CHUNK_SIZE) this.chunks.delete(idx);
      else chunk.fill(0, off, off + n);
    });
  }

  /**
   * Copy between two physical ranges (migration, device copies), chunk to chunk: one memcpy per
   * piece, no bytes staged in between. Unbacked source chunks copy as zeros.
   */
  copy(dst: number, src: number, len: number): void {
    this.check(src, len);
    this.check(dst, len);
    let done = 0;
    while (done < len) {
      const s = src + done;
      const d = dst + done;
      const sIdx = Math.floor(s / CHUNK_SIZE);
      const dIdx = Math.floor(d / CHUNK_SIZE);
      const sOff = s - sIdx * CHUNK_SIZE;
      const dOff = d - dIdx * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - sOff, CHUNK_SIZE - dOff, len - done);
      const from = this.chunks.get(sIdx);
      let to = this.chunks.get(dIdx);
      if (from) {
        if (!to) this.chunks.set(dIdx, (to = new Uint8Array(CHUNK_SIZE)));
        to.set(from.subarray(sOff, sOff + n), dOff);
      } else if (to) to.fill(0, dOff, dOff + n);
      done += n;
    }
  }

  /** Whether every byte of the range is zero (scrub checks in tests and self-checks). */
  isZero(addr: number, len: number): boolean {
    let zero = true;
    this.walk(addr, len, (idx, off, n) => {
      const chunk = this.chunks.get(idx);
      if (chunk) for (let i = off; i < off + n; i++) if (chunk[i] !== 0) return (zero = false);
      return true;
    });
    return zero;
  }

  /** Bytes of host memory the emulation holds right now. */
  get residentBytes(): number {
    return this.chunks.size * CHUNK_SIZE;
  }
}
