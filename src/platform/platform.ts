/** An emulated SoC built from a PlatformSpec: memory, pools, devices, IOMMUs, bus and event log. */
import { SmafError } from '../common/errors.ts';
import { MemoryBus } from './bus.ts';
import { ContentKey } from './content-key.ts';
import { SdpFirewall } from './firewall.ts';
import { SdpTrustedApp } from './sdp-ta.ts';
import { Tee } from './tee.ts';
import { iovaLimit, type Device } from './device.ts';
import { EventLog } from './events.ts';
import { Iommu } from './iommu.ts';
import type { PlatformSpec } from './loader.ts';
import { PhysicalMemory } from './memory.ts';
import { Provenance, SECURE_WORLD } from './provenance.ts';
import { ContiguousPool, PagePool, reservedRegionStats, type MemoryRegion, type RegionStats } from './region.ts';

export type AnyPool = ContiguousPool | PagePool;

export class Platform {
  readonly spec: PlatformSpec;
  readonly name: string;
  readonly pageSize: number;
  readonly memory: PhysicalMemory;
  readonly events: EventLog;
  readonly bus: MemoryBus;
  /** Whose data each page of memory holds (what makes DMA_CRC safe: see provenance.ts). */
  readonly provenance: Provenance;
  private readonly pools = new Map<string, AnyPool>();
  private largest: number | undefined;
  private readonly deviceMap = new Map<string, Device>();
  private readonly iommus = new Map<string, Iommu>();
  /** The TEE, with the SDP trusted application registered when the platform has secure memory. */
  readonly tee = new Tee();
  readonly sdp: SdpTrustedApp | null = null;
  /** The secure world's content key: the crypto engine decrypts with it; nothing reads it back. */
  readonly contentKey: ContentKey;

  /**
   * `firewall: 'sdp'` (the default when the platform has a secure carveout) enforces the SDP TA's
   * regions on the bus; 'permissive' leaves the bus open (tests of the bare core). `contentKey`: 32
   * bytes provisioned for the crypto engine (tests); by default a random one, new at every start.
   */
  constructor(spec: PlatformSpec, options: { eventCapacity?: number; firewall?: 'sdp' | 'permissive'; contentKey?: Uint8Array } = {}) {
    this.spec = spec;
    this.name = spec.name;
    this.pageSize = spec.pageSize;
    this.memory = new PhysicalMemory(spec.memory, spec.pageSize);
    this.events = new EventLog(options.eventCapacity);
    this.bus = new MemoryBus(this.memory, this.events);
    this.provenance = new Provenance(spec.pageSize);
    this.contentKey = new ContentKey(options.contentKey);
    for (const r of spec.memory) {
      if (r.kind === 'system') {
        this.pools.set(r.name, new PagePool(r, spec.pageSize, carvedOut(r, spec.memory)));
      } else if (r.kind !== 'reserved') {
        this.pools.set(r.name, new ContiguousPool(r, spec.pageSize));
      }
    }
    for (const d of spec.devices) {
      this.deviceMap.set(d.name, d);
      if (d.iommu) this.iommus.set(d.name, new Iommu(d.name, iovaLimit(d), spec.pageSize));
    }
    // a device-tree path names its device too, and so does the node name when an alias replaced it
    for (const d of spec.devices) {
      if (d.node === undefined) continue;
      if (!this.deviceMap.has(d.node)) this.deviceMap.set(d.node, d);
      const nodeName = d.node.slice(d.node.lastIndexOf('/') + 1);
      if (nodeName && !this.deviceMap.has(nodeName) && spec.devices.filter((o) => o.node?.endsWith(`/${nodeName}`)).length === 1) this.deviceMap.set(nodeName, d);
    }
    const secure = spec.memory.filter((r) => r.kind === 'secure-carveout');
    if (secure.length > 0) {
      this.sdp = new SdpTrustedApp(secure, this.deviceMap, spec.tee.sdpMaxRegions, this.events);
      this.tee.register(this.sdp);
      if ((options.firewall ?? 'sdp') === 'sdp') this.bus.setFirewall(new SdpFirewall(secure, this.sdp));
    }
  }

  /**
   * The secure world writes into memory (the TEE provisioning content or keys, a secure decoder with
   * a key the normal world lacks): no firewall, and the bytes belong to the secure world, so nothing
   * derived from them is ever observable by the normal world (not even as a CRC).
   */
  secureWorldWrite(addr: number, bytes: Uint8Array): void {
    this.bus.write({ kind: 'secure-world', who: SECURE_WORLD }, addr, bytes);
    this.provenance.written(addr, bytes.length, new Set([SECURE_WORLD]));
  }

  get regions(): readonly MemoryRegion[] {
    return this.spec.memory;
  }

  get devices(): readonly Device[] {
    return this.spec.devices;
  }

  /** A device by name, or by its device-tree path; ENODEV names the devices that exist. */
  device(name: string): Device {
    const d = this.deviceMap.get(name);
    if (!d) throw new SmafError('ENODEV', `no device "${name}" on platform ${this.name} (devices: ${this.spec.devices.map((x) => x.name).join(', ')})`);
    return d;
  }

  region(name: string): MemoryRegion {
    const r = this.spec.memory.find((m) => m.name === name);
    if (!r) throw new SmafError('ENOENT', `no memory region "${name}" on platform ${this.name}`);
    return r;
  }

  regionsOfKind(kind: MemoryRegion['kind']): MemoryRegion[] {
    return this.spec.memory.filter((m) => m.kind === kind);
  }

  pool(name: string): AnyPool {
    const p = this.pools.get(name);
    if (!p) throw new SmafError('ENOENT', `no memory region "${name}" on platform ${this.name}`);
    return p;
  }

  contiguousPool(name: string): ContiguousPool {
    const p = this.pool(name);
    if (!(p instanceof ContiguousPool)) throw new SmafError('EINVAL', `region "${name}" is system RAM, not a contiguous pool`);
    return p;
  }

  pagePool(name: string): PagePool {
    const p = this.pool(name);
    if (!(p instanceof PagePool)) throw new SmafError('EINVAL', `region "${name}" is not system RAM`);
    return p;
  }

  iommu(device: Device): Iommu {
    const i = this.iommus.get(device.name);
    if (!i) throw new SmafError('EINVAL', `device "${device.name}" has no IOMMU`);
    return i;
  }

  /** The region holding a physical address (the most specific one: a carveout before its DRAM). */
  regionAt(addr: number): MemoryRegion | undefined {
    let first: MemoryRegion | undefined;
    for (const r of this.spec.memory) {
      if (addr < r.base || addr >= r.base + r.size) continue;
      if (r.kind !== 'system') return r;
      first ??= r;
    }
    return first;
  }

  /** The largest single region: no buffer longer than this can ever be allocated. */
  get largestRegion(): number {
    // pools are made with the platform, and their capacity is fixed: computed once
    this.largest ??= Math.max(...[...this.pools.values()].map((p) => p.capacity));
    return this.largest;
  }

  /** Statistics of every region, in the platform's order (reserved ranges included, with nothing to hand out). */
  regionStats(): RegionStats[] {
    return this.spec.memory.map((r) => this.pools.get(r.name)?.stats() ?? reservedRegionStats(r));
  }

  /** Total bytes in use in all pools (for leak checks). */
  get bytesInUse(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.inUse;
    return n;
  }
}

/**
 * The parts of a system region that other regions take (CMA, carveouts, reserved ranges), clipped
 * to it and merged: a reserved range may straddle the end of DRAM or overlap another reserved range.
 */
function carvedOut(system: MemoryRegion, all: readonly MemoryRegion[]): { base: number; size: number }[] {
  const end = system.base + system.size;
  const parts = all
    .filter((o) => o.kind !== 'system' && o.base < end && o.base + o.size > system.base)
    .map((o) => ({ base: Math.max(o.base, system.base), end: Math.min(o.base + o.size, end) }))
    .sort((a, b) => a.base - b.base);
  const merged: { base: number; end: number }[] = [];
  for (const p of parts) {
    const last = merged[merged.length - 1];
    if (last && p.base <= last.end) last.end = Math.max(last.end, p.end);
    else merged.push({ ...p });
  }
  return merged.map((m) => ({ base: m.base, size: m.end - m.base }));
}
