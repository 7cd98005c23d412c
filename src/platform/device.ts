/** A bus-master device of the SoC, with the DMA constraints a driver would declare. */

export interface Device {
  readonly name: string;
  /**
   * What the device is in a media pipeline. The secure video path gives rights by class
   * (decrypter, parser, decoder, transformer, sink); other classes (gpu, camera, encoder...) have none.
   */
  readonly class: string;
  /** Width in bits of the addresses the device can emit for streaming DMA. */
  readonly dmaMask: number;
  /** Width in bits for coherent allocations; defaults to dmaMask. */
  readonly coherentDmaMask: number;
  /** Longest DMA segment the device accepts, in bytes. */
  readonly maxSegmentSize: number;
  /** A segment may not cross a multiple of this (bytes, power of two). */
  readonly segmentBoundary: number;
  /** Behind an IOMMU: scattered pages are mapped to one contiguous IOVA range. */
  readonly iommu: boolean;
  /** Can run in the secure mode required by the secure video path. */
  readonly secure: boolean;
  /** A carveout region reserved for this device (device tree `memory-region`). */
  readonly memoryRegion?: string;
  readonly description?: string;
  /** Device-tree node path (`/soc@0/video-codec@aa00000`); accepted wherever a device name is. */
  readonly node?: string;
  /** `dma-coherent` in the device tree: the device snoops CPU caches (recorded, not emulated). */
  readonly dmaCoherent?: boolean;
  /**
   * Bus windows from the parents' `dma-ranges`: the device reaches CPU address `cpu + x` by emitting
   * bus address `bus + x`, for x < size. Absent: the bus maps CPU addresses 1:1 and without limit.
   */
  readonly dmaRanges?: readonly DmaRange[];
}

export interface DmaRange {
  readonly cpu: number;
  readonly bus: number;
  readonly size: number;
}

export const DEFAULT_MAX_SEGMENT_SIZE = 2 ** 32 - 4096;
export const DEFAULT_SEGMENT_BOUNDARY = 2 ** 32;

/** Highest address (inclusive) a mask of `bits` reaches, clamped to what a JS number holds exactly. */
export function maskLimit(bits: number): number {
  return bits >= 53 ? Number.MAX_SAFE_INTEGER : MASK_LIMITS[bits] ?? 2 ** bits - 1;
}

/** maskLimit of 0..52 bits, computed once (it is asked at every allocation and map). */
const MASK_LIMITS: readonly number[] = Array.from({ length: 53 }, (_, bits) => 2 ** bits - 1);

/**
 * Highest physical address (inclusive) the device reaches without an IOMMU: both masks apply,
 * because a SMAF buffer may be used for streaming and coherent DMA alike.
 */
export function physLimit(dev: Device): number {
  const mask = maskLimit(Math.min(dev.dmaMask, dev.coherentDmaMask));
  if (!dev.dmaRanges || dev.dmaRanges.length === 0) return mask;
  // the mask limits bus addresses; a window maps them to CPU addresses (the kernel's bus_dma_limit)
  let limit = -1;
  for (const r of dev.dmaRanges) {
    const busEnd = Math.min(r.bus + r.size - 1, mask);
    if (busEnd >= r.bus) limit = Math.max(limit, r.cpu + (busEnd - r.bus));
  }
  return limit;
}

/**
 * Highest IOVA (inclusive) an IOMMU may give the device: its mask, and the end of its bus windows
 * (the kernel's bus_dma_limit applies to IOVA allocation too).
 */
export function iovaLimit(dev: Device): number {
  const mask = maskLimit(dev.dmaMask);
  if (!dev.dmaRanges || dev.dmaRanges.length === 0) return mask;
  return Math.min(mask, Math.max(...dev.dmaRanges.map((r) => r.bus + r.size - 1)));
}

export function describeDevice(dev: Device): string {
  const parts = [`${dev.dmaMask}-bit DMA`, dev.iommu ? 'IOMMU' : 'no IOMMU'];
  if (dev.secure) parts.push('secure-capable');
  if (dev.memoryRegion) parts.push(`bound to "${dev.memoryRegion}"`);
  if (dev.dmaRanges) parts.push(`reaches up to 0x${physLimit(dev).toString(16)}`);
  return `${dev.name} (${dev.class}; ${parts.join(', ')})`;
}
