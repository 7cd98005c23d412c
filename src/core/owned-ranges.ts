/**
 * Physical ranges owned by live buffers, kept sorted: the core's own record of who holds what, so
 * that a faulty allocator can never hand one buffer memory that another buffer holds.
 */
import type { SgSegment } from '../platform/index.ts';

export class OwnedRanges {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** The buffer holding each range. */
  private readonly owners: number[] = [];

  /** Index of the first range whose start is >= addr. */
  private lowerBound(addr: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! < addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether [phys, phys+length) overlaps an owned range. */
  overlaps(phys: number, length: number): boolean {
    const i = this.lowerBound(phys);
    if (i > 0 && this.ends[i - 1]! > phys) return true;
    return i < this.starts.length && this.starts[i]! < phys + length;
  }

  /** Whether any segment overlaps an owned range or another segment of the same list. */
  conflicts(segments: readonly SgSegment[]): boolean {
    const sorted = [...segments].sort((a, b) => a.phys - b.phys);
    for (let k = 0; k < sorted.length; k++) {
      const s = sorted[k]!;
      if (this.overlaps(s.phys, s.length)) return true;
      if (k > 0 && sorted[k - 1]!.phys + sorted[k - 1]!.length > s.phys) return true;
    }
    return false;
  }

  add(segments: readonly SgSegment[], owner: number): void {
    for (const s of segments) {
      const i = this.lowerBound(s.phys);
      this.starts.splice(i, 0, s.phys);
      this.ends.splice(i, 0, s.phys + s.length);
      this.owners.splice(i, 0, owner);
    }
  }

  /** Every owned range with its buffer, in address order (what the dashboard's memory map draws). */
  *ranges(): IterableIterator<{ base: number; length: number; owner: number }> {
    for (let i = 0; i < this.starts.length; i++) yield { base: this.starts[i]!, length: this.ends[i]! - this.starts[i]!, owner: this.owners[i]! };
  }

  remove(segments: readonly SgSegment[]): void {
    for (const s of segments) {
      const i = this.lowerBound(s.phys);
      if (this.starts[i] !== s.phys || this.ends[i] !== s.phys + s.length) throw new Error(`owned range 0x${s.phys.toString(16)}+${s.length} is not recorded`);
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
      this.owners.splice(i, 1);
    }
  }

  get size(): number {
    return this.starts.length;
  }
}
