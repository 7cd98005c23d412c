/**
 * The physical pieces of one access (a slice of DMA), in order: parallel arrays that one caller
 * fills, reads and clears again for its next access, so that walking thousands of pages allocates
 * nothing per page (a physical address above 1 GiB is not a small integer to V8: held in an object,
 * each would be a heap number of its own).
 */
export class PhysPieces {
  private addrs = new Float64Array(64);
  private lens = new Float64Array(64);
  count = 0;
  /** Bytes in all pieces. */
  total = 0;
  /** `push`, bound once: a visitor to hand to walks that call back per piece. */
  readonly sink = (addr: number, n: number): void => this.push(addr, n);

  clear(): this {
    this.count = 0;
    this.total = 0;
    return this;
  }

  /** Append n bytes at addr (merged into the last piece when they continue it). */
  push(addr: number, n: number): void {
    if (n <= 0) return;
    this.total += n;
    const k = this.count;
    if (k > 0 && this.addrs[k - 1]! + this.lens[k - 1]! === addr) {
      this.lens[k - 1]! += n;
      return;
    }
    if (k === this.addrs.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.addrs = grow(this.addrs);
      this.lens = grow(this.lens);
    }
    this.addrs[k] = addr;
    this.lens[k] = n;
    this.count = k + 1;
  }

  addr(i: number): number {
    return this.addrs[i]!;
  }

  length(i: number): number {
    return this.lens[i]!;
  }
}
