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

/**
 * Visit [offset, offset+length) of a scatter-gather list piece by contiguous piece: `visit(address,
 * bytes, done)` with the piece's address (`addressOf` its segment's start, plus the offset into it)
 * and the bytes visited before it.
 */
export function forEachPiece<S extends { readonly length: number }>(
  segments: readonly S[], addressOf: (s: S) => number, offset: number, length: number, visit: (address: number, n: number, done: number) => void,
): void {
  let base = 0;
  let done = 0;
  for (const s of segments) {
    if (done >= length) return;
    const at = offset + done;
    if (at < base + s.length) {
      const n = Math.min(base + s.length - at, length - done);
      visit(addressOf(s) + (at - base), n, done);
      done += n;
    }
    base += s.length;
  }
}

export function totalLength(segments: readonly { length: number }[]): number {
  return segments.reduce((n, s) => n + s.length, 0);
}

/** Where each segment starts in the whole (a walk from an offset finds its segment with `segmentAt`). */
export function segmentOffsets(segments: readonly { length: number }[]): Float64Array {
  const out = new Float64Array(segments.length);
  for (let i = 0, at = 0; i < segments.length; i++) {
    out[i] = at;
    at += segments[i]!.length;
  }
  return out;
}

/** The index of the segment holding `offset`: the last whose start is at or before it (binary search). */
export function segmentAt(offsets: Float64Array, offset: number): number {
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (offsets[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
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
