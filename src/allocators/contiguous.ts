/**
 * Shared logic of the contiguous allocators (CMA, carveout, secure carveout): one physically
 * contiguous range from a pool, below the lowest DMA limit of the attached devices without an IOMMU.
 */
import { formatSize, hex } from '../common/units.ts';
import type { Allocator, Backing, BufferInfo, Decline, MatchVerdict } from '../core/index.ts';
import { physLimit, type ContiguousPool, type Device } from '../platform/index.ts';

export interface ContiguousOptions {
  readonly name: string;
  readonly ranking: number;
  readonly description: string;
  readonly pool: ContiguousPool;
  /** Bytes of alignment for a buffer of `length` bytes. */
  readonly alignment: (length: number) => number;
  /** Extra conditions of this allocator (secure or not, bound devices); null when satisfied. */
  readonly refuse: (buffer: BufferInfo) => string | null;
}

/** Lowest physical limit among devices that need contiguous memory, and who sets it. */
function addressLimit(devices: readonly Device[]): { limit: number; by: Device | null } {
  let limit = Number.MAX_SAFE_INTEGER;
  let by: Device | null = null;
  for (const d of devices) {
    if (d.iommu) continue;
    const l = physLimit(d);
    if (l < limit) {
      limit = l;
      by = d;
    }
  }
  return { limit, by };
}

export function createContiguousAllocator(o: ContiguousOptions): Allocator {
  const region = o.pool.region;
  return {
    name: o.name,
    ranking: o.ranking,
    description: o.description,
    match(buffer: BufferInfo): MatchVerdict {
      const refused = o.refuse(buffer);
      if (refused) return { match: false, reason: refused };
      const { limit, by } = addressLimit(buffer.devices);
      if (region.base + buffer.length - 1 > limit) {
        return { match: false, reason: `region ${region.name} (${hex(region.base)}) is above what "${by?.name}" can address (${hex(limit)})` };
      }
      if (buffer.length > region.size) return { match: false, reason: `region ${region.name} (${formatSize(region.size)}) is smaller than the buffer` };
      const contiguousFor = buffer.devices.filter((d) => !d.iommu).map((d) => d.name);
      return { match: true, reason: contiguousFor.length ? `contiguous memory in ${region.name} reachable by ${contiguousFor.join(', ')}` : `contiguous memory in ${region.name}` };
    },
    allocate(buffer: BufferInfo, length: number): Backing | Decline {
      const { limit } = addressLimit(buffer.devices);
      const phys = o.pool.allocate(length, o.alignment(length), limit);
      if (phys === null) {
        const largest = o.pool.largestFreeBelow(limit);
        return { declined: true, reason: `no free ${formatSize(length)} range in ${region.name} below ${hex(limit)} (largest free block ${formatSize(largest)})` };
      }
      return { allocator: o.name, region: region.name, segments: [{ phys, length }] };
    },
    free(backing: Backing): void {
      for (const s of backing.segments) o.pool.free(s.phys, s.length);
    },
  };
}

/** CMA's alignment: the buffer's order, capped at 1 MiB (CONFIG_CMA_ALIGNMENT=8). */
export function cmaAlignment(pageSize: number): (length: number) => number {
  return (length) => {
    let a = pageSize;
    while (a < length && a < 1024 * 1024) a *= 2;
    return a;
  };
}
