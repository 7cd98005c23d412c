/**
 * Whether memory a buffer has can serve a device it did not have in mind: contiguity without an
 * IOMMU, the DMA mask. Checked at attach (migrate or refuse) and on what an allocator returns. (The
 * other device rule, "a secure buffer has only secure-capable devices", is the buffer's own: it is
 * enforced where it could be broken, in SmafBuffer.onlySecureCapable.)
 */
import { physLimit, type Device } from '../platform/index.ts';
import type { Backing } from './contracts.ts';

/** Why a backing cannot be addressed by a device, or null when it can. */
export function unsuitableReason(backing: Backing, device: Device): string | null {
  if (device.iommu) return null;
  if (backing.segments.length !== 1) {
    return `the backing (${backing.allocator}) has ${backing.segments.length} physical segments and "${device.name}" has no IOMMU, so it needs contiguous memory`;
  }
  const seg = backing.segments[0]!;
  const end = seg.phys + seg.length - 1;
  if (end > physLimit(device)) {
    return `the backing ends at 0x${end.toString(16)}, above the ${Math.min(device.dmaMask, device.coherentDmaMask)}-bit DMA mask of "${device.name}"`;
  }
  return null;
}
