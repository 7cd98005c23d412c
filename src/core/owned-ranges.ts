/**
 * Physical ranges owned by live buffers, kept sorted: the core's own record of who holds what, so
 * that a faulty allocator can never hand one buffer memory that another buffer holds.
 */
import type { SgSegment } from '../platform/index.ts';

/** Whether segments come in address order (an allocator's usually do: no sort needed). */
function isSorted(segments: readonly SgSegment[]): boolean {
  for (let i = 1; i < segments.length; i++) if (segments[i]!.phys < segments[i - 1]!.phys) return false;
  return true;
}

/** Segment counts from which a buffer's ranges are merged in one pass rather than spliced one by one. */
const MERGE_FROM = 16;

/** Index bits of a packed sort key: (phys / 4 KiB) * 2^INDEX_BITS + index stays an exact double. */
const INDEX_BITS = 21;
const PAGE = 4096;

/**
 * The segments in address order. A backing keeps its segments for its whole life, and the core
 * asks for its order three times (conflicts, add, remove): it is sorted once. Many segments sort
 * as packed numbers (a typed array sorts natively, several times faster than objects with a
 * comparator); addresses or counts too large to pack exactly fall back to the comparator.
 */
const sortedCache = new WeakMap<readonly SgSegment[], readonly SgSegment[]>();

function inOrder(segments: readonly SgSegment[]): readonly SgSegment[] {
  if (isSorted(segments)) return segments;
  let sorted = sortedCache.get(segments);
  if (sorted) return sorted;
  const n = segments.length;
  const packable = n < 2 ** INDEX_BITS && segments.every((s) => s.phys % PAGE === 0 && s.phys / PAGE < 2 ** (53 - INDEX_BITS));
  if (packable) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = (segments[i]!.phys / PAGE) * 2 ** INDEX_BITS + i;
    keys.sort();
    const out = new Array<SgSegment>(n);
    for (let i = 0; i < n; i++) out[i] = segments[keys[i]! % 2 ** INDEX_BITS]!;
    sorted = out;
  } else sorted = [...segments].sort((a, b) => a.phys - b.phys);
  sortedCache.set(segments, sorted);
  return sorted;
}

export class OwnedRanges {
  private starts: number[] = [];
  private ends: number[] = [];
  /** The buffer holding each range. */
  private owners: number[] = [];

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
    const sorted = inOrder(segments);
    for (let k = 0; k < sorted.length; k++) {
      const s = sorted[k]!;
      if (this.overlaps(s.phys, s.length)) return true;
      if (k > 0 && sorted[k - 1]!.phys + sorted[k - 1]!.length > s.phys) return true;
    }
    return false;
  }

  /** Record a buffer's segments: a few are inserted in place, many merged in one pass. */
  add(segments: readonly SgSegment[], owner: number): void {
    if (segments.length <= MERGE_FROM) {
      for (const s of segments) {
        const i = this.lowerBound(s.phys);
        this.starts.splice(i, 0, s.phys);
        this.ends.splice(i, 0, s.phys + s.length);
        this.owners.splice(i, 0, owner);
      }
      return;
    }
    const sorted = inOrder(segments);
    const n = this.starts.length;
    const starts = new Array<number>(n + sorted.length);
    const ends = new Array<number>(n + sorted.length);
    const owners = new Array<number>(n + sorted.length);
    let i = 0;
    let k = 0;
    for (let o = 0; o < starts.length; o++) {
      if (k < sorted.length && (i >= n || sorted[k]!.phys < this.starts[i]!)) {
        const s = sorted[k++]!;
        starts[o] = s.phys;
        ends[o] = s.phys + s.length;
        owners[o] = owner;
      } else {
        starts[o] = this.starts[i]!;
        ends[o] = this.ends[i]!;
        owners[o] = this.owners[i]!;
        i++;
      }
    }
    this.replace(starts, ends, owners);
  }

  /** Every owned range with its buffer, in address order (what the dashboard's memory map draws). */
  *ranges(): IterableIterator<{ base: number; length: number; owner: number }> {
    for (let i = 0; i < this.starts.length; i++) yield { base: this.starts[i]!, length: this.ends[i]! - this.starts[i]!, owner: this.owners[i]! };
  }

  /** Forget a buffer's segments (exactly as added): a few in place, many in one pass. */
  remove(segments: readonly SgSegment[]): void {
    const missing = (s: SgSegment) => new Error(`owned range 0x${s.phys.toString(16)}+${s.length} is not recorded`);
    if (segments.length <= MERGE_FROM) {
      for (const s of segments) {
        const i = this.lowerBound(s.phys);
        if (this.starts[i] !== s.phys || this.ends[i] !== s.phys + s.length) throw missing(s);
        this.starts.splice(i, 1);
        this.ends.splice(i, 1);
        this.owners.splice(i, 1);
      }
      return;
    }
    // one pass over both, in address order: each segment must be exactly a recorded range
    const sorted = inOrder(segments);
    const starts: number[] = [];
    const ends: number[] = [];
    const owners: number[] = [];
    let k = 0;
    for (let i = 0; i < this.starts.length; i++) {
      const s = sorted[k];
      if (s && this.starts[i] === s.phys) {
        if (this.ends[i] !== s.phys + s.length) throw missing(s);
        k++;
        continue;
      }
      if (s && this.starts[i]! > s.phys) throw missing(s);
      starts.push(this.starts[i]!);
      ends.push(this.ends[i]!);
      owners.push(this.owners[i]!);
    }
    if (k < sorted.length) throw missing(sorted[k]!);
    this.replace(starts, ends, owners);
  }

  private replace(starts: number[], ends: number[], owners: number[]): void {
    this.starts = starts;
    this.ends = ends;
    this.owners = owners;
  }

  get size(): number {
    return this.starts.length;
  }
}
