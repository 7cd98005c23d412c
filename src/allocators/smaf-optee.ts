/**
 * smaf-optee: secure memory from the TEE's SDP pool, the allocator libsmaf's secure data path test
 * asks /dev/smaf for by name (the OP-TEE-backed secure allocator of the SMAF series).
 *
 * The SDP pool is the platform's secure carveout: the memory OP-TEE reserves for protected content.
 * `smaf-optee` and `secure-carveout` are two allocators over that one pool (the same page bitmap):
 * they never hand out the same page, the region's statistics count both, and each allocator's own
 * statistics count what it handed out. `secure-carveout` ranks higher, so a secure buffer that names
 * no allocator keeps getting its memory there; `smaf-optee` serves the buffers that ask for it (or
 * any secure buffer when it is the only secure allocator registered).
 */
import type { Allocator } from '../core/index.ts';
import type { Platform } from '../platform/index.ts';
import { createContiguousAllocator } from './contiguous.ts';

export function createSmafOpteeAllocator(platform: Platform, options: { region?: string; name?: string; ranking?: number } = {}): Allocator {
  const regionName = options.region ?? platform.regionsOfKind('secure-carveout')[0]?.name;
  if (regionName === undefined) throw new TypeError(`platform ${platform.name} has no secure carveout: the TEE has no SDP pool`);
  const pool = platform.contiguousPool(regionName);
  return createContiguousAllocator({
    name: options.name ?? 'smaf-optee',
    ranking: options.ranking ?? 15,
    description: `secure memory from the TEE's SDP pool (the secure carveout "${regionName}", shared with secure-carveout); only secure buffers whose devices are all secure-capable`,
    pool,
    alignment: () => platform.pageSize,
    refuse: (b) => {
      if (!b.secure) return 'only secure buffers come from the TEE\'s SDP pool';
      const insecure = b.devices.filter((d) => !d.secure).map((d) => d.name);
      return insecure.length ? `${insecure.join(', ')} not secure-capable` : null;
    },
  });
}
