/**
 * The two rules about which devices a buffer's memory may serve, each written once:
 * - `insecureDevices`: a secure buffer has only secure-capable devices (enforced by the buffer at
 *   the two changes that could break it: attaching a device, making the buffer secure);
 * - `unsuitableReason`: memory a device can address (contiguity without an IOMMU, the DMA mask),
 *   checked at attach (migrate or refuse) and on what an allocator returns.
 */
import { physLimit, type Device } from '../platform/index.ts';
import type { Backing } from './contracts.ts';

/** The devices of `devices` that may never touch a secure buffer. */
export function insecureDevices(devices: readonly Device[]): Device[] {
  return devices.filter((d) => !d.secure);
}

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
