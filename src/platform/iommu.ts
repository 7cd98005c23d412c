/**
 * A device's IOMMU: maps scattered physical pages to one contiguous IOVA range below the device's
 * DMA mask, and translates back. First fit over a sorted list of mapped ranges.
 */
import { SmafError } from '../common/errors.ts';
import type { SgSegment } from './sg-table.ts';
import { totalLength } from './sg-table.ts';

interface IovaMapping {
  readonly iova: number;
  readonly length: number;
  readonly segments: readonly SgSegment[];
}

export const IOVA_BASE = 0x10_0000;

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
    this.mappings.splice(index, 0, { iova: candidate, length, segments });
    return candidate;
  }

  unmap(iova: number): void {
    const i = this.mappings.findIndex((m) => m.iova === iova);
    if (i < 0) throw new SmafError('EINVAL', `IOMMU of ${this.deviceName}: IOVA 0x${iova.toString(16)} is not mapped`);
    this.mappings.splice(i, 1);
  }

  /** Physical address of an IOVA, or null when nothing is mapped there (an IOMMU fault). */
  translate(iova: number): number | null {
    for (const m of this.mappings) {
      if (iova >= m.iova && iova < m.iova + m.length) {
        let off = iova - m.iova;
        for (const s of m.segments) {
          if (off < s.length) return s.phys + off;
          off -= s.length;
        }
      }
    }
    return null;
  }

  get mappedCount(): number {
    return this.mappings.length;
  }
}
