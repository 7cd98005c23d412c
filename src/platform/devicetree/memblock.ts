/**
 * Early boot memory placement as the kernel's memblock does it: DRAM banks minus reserved ranges,
 * allocations top-down (the arm64 default) from the highest free range under a limit, aligned down,
 * never in the first page.
 */
import { startingAtOrBefore } from '../../common/sorted.ts';

export interface Range {
  readonly base: number;
  readonly size: number;
}

export class Memblock {
  private readonly memory: Range[];
  private readonly reserved: { base: number; end: number }[] = [];

  constructor(memory: readonly Range[], private readonly pageSize: number) {
    this.memory = [...memory].sort((a, b) => a.base - b.base);
  }

  /** Reserve [base, base + size): inserted where it belongs, the list stays sorted without a sort per insert. */
  reserve(base: number, size: number): void {
    this.reserved.splice(startingAtOrBefore(this.reserved, base), 0, { base, end: base + size });
  }

  /** Free ranges (memory minus reserved) inside [start, end), highest first. */
  private freeRanges(start: number, end: number): { base: number; end: number }[] {
    const out: { base: number; end: number }[] = [];
    for (const m of this.memory) {
      let lo = Math.max(m.base, start);
      const hi = Math.min(m.base + m.size, end);
      if (lo >= hi) continue;
      for (const r of this.reserved) {
        if (r.end <= lo || r.base >= hi) continue;
        if (r.base > lo) out.push({ base: lo, end: r.base });
        lo = Math.max(lo, r.end);
        if (lo >= hi) break;
      }
      if (lo < hi) out.push({ base: lo, end: hi });
    }
    return out.sort((a, b) => b.base - a.base);
  }

  /**
   * memblock_phys_alloc_range(size, align, start, end), top-down: the highest aligned base in a
   * free range below `end` (exclusive; 0 = anywhere). Reserves and returns it, or null.
   */
  allocate(size: number, align: number, start: number, end: number): number | null {
    const a = Math.max(align, this.pageSize);
    const lo = Math.max(start, this.pageSize);
    const hi = end === 0 ? Number.MAX_SAFE_INTEGER : end;
    for (const r of this.freeRanges(lo, hi)) {
      if (r.end - r.base < size) continue;
      const cand = Math.floor((r.end - size) / a) * a;
      if (cand >= r.base) {
        this.reserve(cand, size);
        return cand;
      }
    }
    return null;
  }
}
