/**
 * A page bitmap (1 = in use) with word-at-a-time search, after Linux's
 * bitmap_find_next_zero_area(): find the next zero bit, check the candidate window for a set bit
 * 32 pages at a time (from its end), and jump past it. Full and empty words are skipped whole.
 */
export class Bitmap {
  readonly bits: number;
  private readonly words: Uint32Array;
  private used = 0;

  constructor(bits: number) {
    if (!Number.isSafeInteger(bits) || bits < 0) throw new RangeError(`bad bitmap size ${bits}`);
    this.bits = bits;
    this.words = new Uint32Array(Math.ceil(bits / 32));
  }

  get setCount(): number {
    return this.used;
  }

  test(i: number): boolean {
    return ((this.words[i >>> 5] as number) >>> (i & 31) & 1) === 1;
  }

  /** Set [start, start+n); every bit must be clear (throws otherwise: a double allocation). */
  set(start: number, n: number): void {
    this.assertRange(start, n);
    if (this.nextSet(start, start + n) !== -1) throw new Error(`bitmap: range ${start}+${n} is already in use`);
    this.fill(start, n, true);
    this.used += n;
  }

  /** Clear [start, start+n); every bit must be set (throws otherwise: a double free). */
  clear(start: number, n: number): void {
    this.assertRange(start, n);
    if (this.nextClear(start, start + n) !== -1) throw new Error(`bitmap: range ${start}+${n} is not fully in use (double free?)`);
    this.fill(start, n, false);
    this.used -= n;
  }

  private assertRange(start: number, n: number): void {
    if (!Number.isInteger(start) || !Number.isInteger(n) || start < 0 || n <= 0 || start + n > this.bits) {
      throw new RangeError(`bitmap range ${start}+${n} outside 0..${this.bits}`);
    }
  }

  private fill(start: number, n: number, value: boolean): void {
    let i = start;
    const end = start + n;
    while (i < end) {
      const w = i >>> 5;
      const bit = i & 31;
      const take = Math.min(32 - bit, end - i);
      const mask = take === 32 ? 0xffffffff : ((1 << take) - 1) << bit;
      if (value) this.words[w] = (this.words[w] as number) | mask;
      else this.words[w] = (this.words[w] as number) & ~mask;
      i += take;
    }
  }

  /** First set bit in [from, to), or -1. */
  nextSet(from: number, to: number): number {
    let i = from;
    while (i < to) {
      const w = i >>> 5;
      const word = ((this.words[w] as number) >>> (i & 31)) << (i & 31) >>> 0;
      if (word !== 0) {
        const r = (w << 5) + (31 - Math.clz32(word & -word));
        return r < to ? r : -1;
      }
      i = (w + 1) << 5;
    }
    return -1;
  }

  /** Last set bit in [from, to), or -1, scanning words backwards. */
  prevSet(from: number, to: number): number {
    let i = to - 1;
    while (i >= from) {
      const w = i >>> 5;
      const keep = i & 31;
      const word = keep === 31 ? (this.words[w] as number) >>> 0 : ((this.words[w] as number) & ((1 << (keep + 1)) - 1)) >>> 0;
      if (word !== 0) {
        const r = (w << 5) + (31 - Math.clz32(word));
        return r >= from ? r : -1;
      }
      i = (w << 5) - 1;
    }
    return -1;
  }

  /** First clear bit in [from, to), or -1. */
  nextClear(from: number, to: number): number {
    let i = from;
    while (i < to) {
      const w = i >>> 5;
      const inv = ~(this.words[w] as number) >>> 0;
      const word = (inv >>> (i & 31)) << (i & 31) >>> 0;
      if (word !== 0) {
        const r = (w << 5) + (31 - Math.clz32(word & -word));
        return r < to ? r : -1;
      }
      i = (w + 1) << 5;
    }
    return -1;
  }

  /**
   * First run of `n` clear bits inside [from, limit) whose start `s` has (s + alignOffset) a
   * multiple of `align`, or -1 (bitmap_find_next_zero_area_off).
   */
  findZeroArea(n: number, align = 1, from = 0, limit = this.bits, alignOffset = 0): number {
    if (n <= 0 || align <= 0) throw new RangeError(`bad area request n=${n} align=${align}`);
    let pos = from;
    for (;;) {
      const zero = this.nextClear(pos, limit);
      if (zero < 0) return -1;
      const start = Math.ceil((zero + alignOffset) / align) * align - alignOffset;
      const end = start + n;
      if (end > limit) return -1;
      // every window starting at or before the *last* set bit of this one contains that bit:
      // jump past it (a Boyer-Moore-like skip; Linux jumps past the first one)
      const hit = this.prevSet(start, end);
      if (hit < 0) return start;
      pos = hit + 1;
    }
  }

  /** The reference first fit, bit by bit: what a naive allocator does (baseline and test oracle). */
  findZeroAreaNaive(n: number, align = 1, from = 0, limit = this.bits): number {
    for (let start = Math.ceil(from / align) * align; start + n <= limit; start += align) {
      let ok = true;
      for (let i = start; i < start + n; i++) {
        if (this.test(i)) { ok = false; break; }
      }
      if (ok) return start;
    }
    return -1;
  }

  /** Length of the longest run of clear bits in [from, to). */
  largestClearRun(from = 0, to = this.bits): number {
    let best = 0;
    let pos = from;
    while (pos < to) {
      const z = this.nextClear(pos, to);
      if (z < 0) break;
      const s = this.nextSet(z, to);
      const end = s < 0 ? to : s;
      best = Math.max(best, end - z);
      pos = end;
    }
    return best;
  }
}
