/** carveout: contiguous memory from a reserved region, for the devices bound to it (memory-region). */
import type { Allocator } from '../core/index.ts';
import type { Platform } from '../platform/index.ts';
import { createContiguousAllocator } from './contiguous.ts';

export function createCarveoutAllocator(platform: Platform, options: { region: string; name?: string; ranking?: number }): Allocator {
  const region = platform.region(options.region);
  if (region.kind !== 'carveout') throw new TypeError(`region "${region.name}" is ${region.kind}, not a carveout`);
  const pool = platform.contiguousPool(region.name);
  const bound = platform.devices.filter((d) => d.memoryRegion === region.name).map((d) => d.name);
  return createContiguousAllocator({
    name: options.name ?? `carveout-${region.name}`,
    ranking: options.ranking ?? 30,
    description: `contiguous memory from carveout "${region.name}", reserved for ${bound.join(', ') || 'no device'}`,
    pool,
    alignment: () => platform.pageSize,
    refuse: (b) => {
      if (b.secure) return 'secure buffers live in a secure carveout';
      if (!b.devices.some((d) => d.memoryRegion === region.name)) return `no attached device is bound to carveout "${region.name}" (bound: ${bound.join(', ') || 'none'})`;
      return null;
    },
  });
}
