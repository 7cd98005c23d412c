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

  read(addr: number, dst: Uint8Array): void {
    this.check(addr, dst.length);
    let done = 0;
    while (done < dst.length) {
      const a = addr + done;
      const idx = Math.floor(a / CHUNK_SIZE);
      const off = a - idx * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - off, dst.length - done);
      const chunk = this.chunks.get(idx);
      if (chunk) dst.set(chunk.subarray(off, off + n), done);
      else dst.fill(0, done, done + n);
      done += n;
    }
  }

  write(addr: number, src: Uint8Array): void {
    this.check(addr, src.length);
    let done = 0;
    while (done < src.length) {
      const a = addr + done;
      const idx = Math.floor(a / CHUNK_SIZE);
      const off = a - idx * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - off, src.length - done);
      let chunk = this.chunks.get(idx);
      if (!chunk) {
        chunk = new Uint8Array(CHUNK_SIZE);
        this.chunks.set(idx, chunk);
      }
      chunk.set(src.subarray(done, done + n), off);
      done += n;
    }
  }

  /** Zero a range: whole chunks are dropped (they read as zero), partial ones are cleared. */
  zero(addr: number, len: number): void {
    this.check(addr, len);
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const idx = Math.floor(a / CHUNK_SIZE);
      const off = a - idx * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - off, len - done);
      const chunk = this.chunks.get(idx);
      if (chunk) {
        if (n === CHUNK_SIZE) this.chunks.delete(idx);
        else chunk.fill(0, off, off + n);
      }
      done += n;
    }
  }

  /** Copy between two physical ranges (used to migrate a backing). */
  copy(dst: number, src: number, len: number): void {
    const step = CHUNK_SIZE;
    const tmp = new Uint8Array(Math.min(step, len));
    for (let done = 0; done < len; done += step) {
      const n = Math.min(step, len - done);
      const view = n === tmp.length ? tmp : tmp.subarray(0, n);
      this.read(src + done, view);
      this.write(dst + done, view);
    }
  }

  /** Whether any byte of the range is non-zero (for scrub checks in tests and self-checks). */
  isZero(addr: number, len: number): boolean {
    this.check(addr, len);
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const idx = Math.floor(a / CHUNK_SIZE);
      const off = a - idx * CHUNK_SIZE;
      const n = Math.min(CHUNK_SIZE - off, len - done);
      const chunk = this.chunks.get(idx);
      if (chunk) for (let i = off; i < off + n; i++) if (chunk[i] !== 0) return false;
      done += n;
    }
    return true;
  }

  /** Bytes of host memory the emulation holds right now. */
  get residentBytes(): number {
    return this.chunks.size * CHUNK_SIZE;
  }
}
