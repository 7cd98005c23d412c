/**
 * The SDP memory firewall: enforces the SDP trusted application's region table on every bus access.
 * - The CPU (normal world) never touches secure carveouts.
 * - A device touches secure memory only inside regions where it holds that access.
 * - Flow rule: a device holding read access to any secure region may not write non-secure memory.
 */
import type { Access, Firewall, Initiator } from './bus.ts';
import { hex } from '../common/units.ts';
import type { MemoryRegion } from './region.ts';
import type { SdpTrustedApp } from './sdp-ta.ts';

export class SdpFirewall implements Firewall {
  readonly name = 'optee-sdp';

  constructor(private readonly secureMemory: readonly MemoryRegion[], private readonly ta: SdpTrustedApp) {}

  private touchesSecure(addr: number, length: number): boolean {
    return this.secureMemory.some((r) => addr < r.base + r.size && r.base < addr + length);
  }

  check(initiator: Initiator, addr: number, length: number, access: Access): string | null {
    if (initiator.kind === 'secure-world') return null;
    const secure = this.touchesSecure(addr, length);
    if (initiator.kind === 'cpu') return secure ? 'secure memory is never accessible to the normal world CPU' : null;
    const dev = initiator.device.name;
    if (!secure) {
      if (access === 'write') {
        for (const r of this.ta.table.values()) {
          if ((r.devices.get(dev)?.reads ?? 0) > 0) return `${dev} holds read access to secure region ${r.id}: protected content may only flow secure -> secure`;
        }
      }
      return null;
    }
    for (const r of this.ta.table.values()) {
      if (addr >= r.addr && addr + length <= r.addr + r.size) {
        const g = r.devices.get(dev);
        if (!g) return `${dev} is not granted region ${r.id} (${hex(r.addr)}+${r.size})`;
        if (access === 'read' && g.reads === 0) return `${dev} may not read region ${r.id} (granted write only)`;
        if (access === 'write' && g.writes === 0) return `${dev} may not write region ${r.id} (granted read only)`;
        return null;
      }
    }
    return `no SDP region covers ${hex(addr)}+${length} of the secure carveout`;
  }
}
