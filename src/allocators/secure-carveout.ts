/** secure-carveout: contiguous memory from the secure carveout, for secure buffers of secure devices. */
import type { Allocator } from '../core/index.ts';
import type { Platform } from '../platform/index.ts';
import { createContiguousAllocator } from './contiguous.ts';

export function createSecureCarveoutAllocator(platform: Platform, options: { region?: string; name?: string; ranking?: number } = {}): Allocator {
  const regionName = options.region ?? platform.regionsOfKind('secure-carveout')[0]?.name;
  if (regionName === undefined) throw new TypeError(`platform ${platform.name} has no secure carveout`);
  const pool = platform.contiguousPool(regionName);
  return createContiguousAllocator({
    name: options.name ?? 'secure-carveout',
    ranking: options.ranking ?? 20,
    description: `contiguous memory from the secure carveout "${regionName}"; only secure buffers whose devices are all secure-capable`,
    pool,
    alignment: () => platform.pageSize,
    refuse: (b) => {
      if (!b.secure) return 'only secure buffers come from the secure carveout';
      const insecure = b.devices.filter((d) => !d.secure).map((d) => d.name);
      return insecure.length ? `${insecure.join(', ')} not secure-capable` : null;
    },
  });
}
