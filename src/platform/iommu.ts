/**
 * A device's IOMMU: maps scattered physical pages to one contiguous IOVA range below the device's
 * DMA mask, and translates back. First fit over a sorted list of mapped ranges.
 */
import { SmafError } from '../common/errors.ts';
import type { SgSegment } from './sg-table.ts';
import { segmentAt, segmentOffsets, totalLength } from './sg-table.ts';

interface IovaMapping {
  readonly iova: number;
  readonly length: number;
  readonly segments: readonly SgSegment[];
  /** Offset of each segment in the mapping (a walk starts at its segment by binary search). */
  readonly offsets: Float64Array;
}

const IOVA_BASE = 0x10_0000;

export class Iommu {
  private readonly mappings: IovaMapping[] = [];

  /** `limit`: the highest IOVA (inclusive) this IOMMU hands out for the device. */
  constructor(readonly deviceName: string, readonly limit: number, private readonly pageSize: number) {}

  /** Map segments at a fresh IOVA; returns the IOVA. ENOMEM when the IOVA space is exhausted. */
  map(segments: readonly SgSegment[]): number {
    const length = totalLength(segments);
    let candidate = IOVA_BASE;
    let index = 0;
    for (; index < this.mappings.length; index++) {
      const m = this.mappings[index] as IovaMapping;
      if (candidate + length <= m.iova) break;
      candidate = m.iova + m.length + this.pageSize; // a guard page between mappings
    }
    if (candidate + length - 1 > this.limit) {
      throw new SmafError('ENOMEM', `IOMMU of ${this.deviceName}: no IOVA space for ${length} bytes below 0x${this.limit.toString(16)}`);
    }
    this.mappings.splice(index, 0, { iova: candidate, length, segments, offsets: segmentOffsets(segments) });
    return candidate;
  }

  unmap(iova: number): void {
    const i = this.mappings.findIndex((m) => m.iova === iova);
    if (i < 0) throw new SmafError('EINVAL', `IOMMU of ${this.deviceName}: IOVA 0x${iova.toString(16)} is not mapped`);
    this.mappings.splice(i, 1);
  }

  /** The mapping that holds an IOVA (binary search: mappings are sorted by IOVA), or undefined. */
  private find(iova: number): IovaMapping | undefined {
    let lo = 0;
    let hi = this.mappings.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = this.mappings[mid]!;
      if (iova < m.iova) hi = mid - 1;
      else if (iova >= m.iova + m.length) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  /** Physical address of an IOVA, or null when nothing is mapped there (an IOMMU fault). */
  translate(iova: number): number | null {
    let result: number | null = null;
    this.walk(iova, 1, (phys) => (result = phys));
    return result;
  }

  /**
   * Translate [iova, iova+length) through the page table, visiting each physically contiguous piece.
   * Returns null when every byte was translated, else the first IOVA with no mapping (a fault: the
   * pieces before it have been visited).
   */
  walk(iova: number, length: number, visit: (phys: number, n: number, done: number) => void): number | null {
    let done = 0;
    while (done < length) {
      const at = iova + done;
      const m = this.find(at);
      if (!m) return at;
      const off = at - m.iova;
      let left = Math.min(length - done, m.iova + m.length - at);
      for (let k = segmentAt(m.offsets, off); left > 0; k++) {
        const s = m.segments[k]!;
        const inSeg = Math.max(0, off - m.offsets[k]!);
        const n = Math.min(s.length - inSeg, left);
        visit(s.phys + inSeg, n, done);
        done += n;
        left -= n;
      }
    }
    return null;
  }

  /** Whether `length` bytes could be mapped now (the largest free IOVA range, guard pages included). */
  canMap(length: number): boolean {
    let candidate = IOVA_BASE;
    for (const m of this.mappings) {
      if (candidate + length <= m.iova) return true;
      candidate = m.iova + m.length + this.pageSize;
    }
    return candidate + length - 1 <= this.limit;
  }

  /** The largest range of IOVA free now: the longest mapping it could still take (guard pages counted). */
  largestFree(): number {
    let candidate = IOVA_BASE;
    let best = 0;
    for (const m of this.mappings) {
      best = Math.max(best, m.iova - candidate);
      candidate = m.iova + m.length + this.pageSize;
    }
    return Math.max(best, this.limit + 1 - candidate, 0);
  }

  /** Bytes of IOVA mapped now (without the guard pages between mappings). */
  get mappedBytes(): number {
    let n = 0;
    for (const m of this.mappings) n += m.length;
    return n;
  }

  /** The whole IOVA window this IOMMU can ever hand out, in bytes. */
  get space(): number {
    return Math.max(0, this.limit + 1 - IOVA_BASE);
  }

  get mappedCount(): number {
    return this.mappings.length;
  }
}
