/** system: scattered pages of system RAM; matches only when every attached device has an IOMMU. */
import { formatSize } from '../common/units.ts';
import type { Allocator, Backing, BufferInfo, Decline, MatchVerdict } from '../core/index.ts';
import type { Platform } from '../platform/index.ts';

export function createSystemAllocator(platform: Platform, options: { region?: string; name?: string; ranking?: number } = {}): Allocator {
  const regionName = options.region ?? platform.regionsOfKind('system')[0]?.name;
  if (regionName === undefined) throw new TypeError(`platform ${platform.name} has no system RAM`);
  const pool = platform.pagePool(regionName);
  const name = options.name ?? 'system';
  return {
    name,
    ranking: options.ranking ?? 10,
    description: `scattered pages of "${regionName}"; matches when every attached device has an IOMMU`,
    match(buffer: BufferInfo): MatchVerdict {
      if (buffer.secure) return { match: false, reason: 'secure buffers live in a secure carveout' };
      const direct = buffer.devices.filter((d) => !d.iommu).map((d) => d.name);
      if (direct.length) return { match: false, reason: `${direct.join(', ')} ${direct.length > 1 ? 'have' : 'has'} no IOMMU and cannot use scattered pages` };
      return { match: true, reason: buffer.devices.length ? 'every attached device has an IOMMU' : 'no device attached yet: CPU-only memory' };
    },
    allocate(_buffer: BufferInfo, length: number): Backing | Decline {
      const segments = pool.allocate(length);
      if (!segments) return { declined: true, reason: `only ${formatSize(pool.freePages * platform.pageSize)} of pages left in ${regionName}` };
      return { allocator: name, region: regionName, segments };
    },
    free(backing: Backing): void {
      pool.free(backing.segments);
    },
  };
}
