/** Whether memory a buffer has can serve a device: the rule attach, map and the core's checks share. */
import { physLimit, type Device } from '../platform/index.ts';
import type { Backing } from './contracts.ts';

/** Why a backing cannot serve a device, or null when it can. */
export function unsuitableReason(backing: Backing, device: Device, secure: boolean): { code: 'EPERM' | 'EINVAL'; reason: string } | null {
  if (secure && !device.secure) return { code: 'EPERM', reason: `device "${device.name}" is not secure-capable and the buffer is secure` };
  if (device.iommu) return null;
  if (backing.segments.length !== 1) {
    return { code: 'EINVAL', reason: `the backing (${backing.allocator}) has ${backing.segments.length} physical segments and "${device.name}" has no IOMMU, so it needs contiguous memory` };
  }
  const seg = backing.segments[0]!;
  const end = seg.phys + seg.length - 1;
  if (end > physLimit(device)) {
    return { code: 'EINVAL', reason: `the backing ends at 0x${end.toString(16)}, above the ${Math.min(device.dmaMask, device.coherentDmaMask)}-bit DMA mask of "${device.name}"` };
  }
  return null;
}
