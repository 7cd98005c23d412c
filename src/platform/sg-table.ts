/** Scatter-gather tables: physical segments of a backing, and the DMA segments a device sees. */

export interface SgSegment {
  /** Physical address. */
  readonly phys: number;
  readonly length: number;
}

export interface DmaSegment {
  /** Address as the device emits it (physical, or an IOVA behind an IOMMU). */
  readonly dma: number;
  readonly length: number;
}

/** Merge physically adjacent segments. */
export function mergeSegments(segments: readonly SgSegment[]): SgSegment[] {
  const out: SgSegment[] = [];
  for (const s of segments) {
    const last = out[out.length - 1];
    if (last && last.phys + last.length === s.phys) out[out.length - 1] = { phys: last.phys, length: last.length + s.length };
    else out.push(s);
  }
  return out;
}

export function totalLength(segments: readonly { length: number }[]): number {
  return segments.reduce((n, s) => n + s.length, 0);
}

/**
 * Split DMA segments so none is longer than `maxSegment` or crosses a multiple of `boundary`,
 * as dma_map_sg() does for a device's dma_parms.
 */
export function splitDmaSegments(segments: readonly DmaSegment[], maxSegment: number, boundary: number): DmaSegment[] {
  const out: DmaSegment[] = [];
  for (const s of segments) {
    let addr = s.dma;
    let left = s.length;
    while (left > 0) {
      const toBoundary = boundary - (addr % boundary);
      const n = Math.min(left, maxSegment, toBoundary);
      out.push({ dma: addr, length: n });
      addr += n;
      left -= n;
    }
  }
  return out;
}

/** Find the physical address of byte `offset` of a buffer and how many bytes stay contiguous from there. */
export function locate(segments: readonly SgSegment[], offset: number): { phys: number; contiguous: number } {
  let base = 0;
  for (const s of segments) {
    if (offset < base + s.length) return { phys: s.phys + (offset - base), contiguous: base + s.length - offset };
    base += s.length;
  }
  throw new RangeError(`offset ${offset} is past the end of the sg table (${base} bytes)`);
}

/** Visit the physical pieces of [offset, offset+length) of a buffer. */
export function forEachPiece(
  segments: readonly SgSegment[],
  offset: number,
  length: number,
  visit: (phys: number, length: number, done: number) => void,
): void {
  let done = 0;
  while (done < length) {
    const { phys, contiguous } = locate(segments, offset + done);
    const n = Math.min(contiguous, length - done);
    visit(phys, n, done);
    done += n;
  }
}
