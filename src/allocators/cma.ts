/** smaf-cma: physically contiguous memory from a CMA pool, for devices without an IOMMU. */
import type { Allocator } from '../core/index.ts';
import type { Platform } from '../platform/index.ts';
import { cmaAlignment, createContiguousAllocator } from './contiguous.ts';

export function createCmaAllocator(platform: Platform, options: { region?: string; name?: string; ranking?: number } = {}): Allocator {
  const regionName = options.region ?? platform.regionsOfKind('cma')[0]?.name;
  if (regionName === undefined) throw new TypeError(`platform ${platform.name} has no CMA region`);
  const pool = platform.contiguousPool(regionName);
  return createContiguousAllocator({
    name: options.name ?? 'smaf-cma',
    ranking: options.ranking ?? 0,
    description: `contiguous memory from the CMA pool "${regionName}"; matches when every device can address it`,
    pool,
    alignment: cmaAlignment(platform.pageSize),
    refuse: (b) => (b.secure ? 'secure buffers live in a secure carveout, not in CMA' : null),
  });
}
