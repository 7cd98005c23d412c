/**
 * The SDP trusted application (optee-sdp, UUID b9aa5f00-d229-11e4-925c-0002a5d5c51b): a bounded
 * table of secure regions, each with the devices allowed to read or write it, and the policy of
 * which device class may do what. The firewall enforces this table on every bus access.
 *
 * | class       | read secure | write secure | role                                              |
 * |-------------|-------------|--------------|---------------------------------------------------|
 * | decrypter   | no          | yes          | reads ciphertext (normal), writes clear content   |
 * | parser      | yes         | yes          | demuxes the clear stream inside its own regions   |
 * | decoder     | yes         | yes          | reads the bitstream, writes decoded frames        |
 * | transformer | yes         | yes          | scales/rotates/composes frames                    |
 * | sink        | yes         | no           | displays frames; writes nothing back but a CRC    |
 * | any other   | no          | no           | (gpu, camera, encoder...): never touches SDP data |
 *
 * Flow rule: while a device holds read access to a secure region, its writes to non-secure memory
 * are refused, so protected content flows only secure -> secure.
 */
import type { Device } from './device.ts';
import type { EventLog } from './events.ts';
import type { MemoryRegion } from './region.ts';
import { TeeLogin, TeeResult, type TeeCaller, type TeeParam, type TrustedApp } from './tee.ts';

export const SDP_TA_UUID = 'b9aa5f00-d229-11e4-925c-0002a5d5c51b';

export const SdpCommand = { CREATE_REGION: 0, DESTROY_REGION: 1, UPDATE_REGION: 2, DUMP_STATUS: 3 } as const;

/** Access bits in UPDATE_REGION (value b of param 1): 1 read, 2 write. Bit 31 set = remove. */
export const SDP_READ = 1;
export const SDP_WRITE = 2;
export const SDP_REMOVE = 0x8000_0000;

export const SDP_POLICY: Readonly<Record<string, { read: boolean; write: boolean }>> = {
  decrypter: { read: false, write: true },
  parser: { read: true, write: true },
  decoder: { read: true, write: true },
  transformer: { read: true, write: true },
  sink: { read: true, write: false },
};

export interface SdpGrant {
  reads: number;
  writes: number;
}

export interface SdpRegion {
  readonly id: number;
  readonly addr: number;
  readonly size: number;
  readonly devices: Map<string, SdpGrant>;
}

export class SdpTrustedApp implements TrustedApp {
  readonly uuid = SDP_TA_UUID;
  readonly name = 'optee-sdp';
  readonly description = 'the SDP region table the firewall enforces; the REE kernel\'s (the secure module), not user space\'s';
  private readonly regions = new Map<number, SdpRegion>();
  private nextId = 1;

  constructor(
    private readonly secureMemory: readonly MemoryRegion[],
    private readonly devices: ReadonlyMap<string, Device>,
    readonly maxRegions: number,
    private readonly events?: EventLog,
  ) {}

  /**
   * Sessions of the REE kernel only (the secure module's, login REE_KERNEL, which the TEE driver
   * refuses to user space): a client that could update the table would grant its devices access to
   * other clients' secure memory, or tear their regions down.
   */
  openSession(_params: TeeParam[], caller: TeeCaller): TeeReply {
    if (caller.login === TeeLogin.REE_KERNEL) return { code: TeeResult.SUCCESS };
    return { code: TeeResult.ERROR_ACCESS_DENIED, reason: 'the SDP region table serves the REE kernel (login REE_KERNEL) only' };
  }

  invoke(command: number, params: TeeParam[]): TeeReply {
    const handle = this.commands[command];
    return handle ? handle(params) : { code: TeeResult.ERROR_NOT_SUPPORTED, reason: `unknown command ${command}` };
  }

  private readonly commands: Readonly<Record<number, (params: TeeParam[]) => TeeReply>> = {
    [SdpCommand.CREATE_REGION]: (params) => this.createRegion(params),
    [SdpCommand.DESTROY_REGION]: (params) => this.destroyRegion(params),
    [SdpCommand.UPDATE_REGION]: (params) => this.updateRegion(params),
    [SdpCommand.DUMP_STATUS]: (params) => this.dumpStatus(params),
  };

  /** in: value[0] = { a: addr, b: size }; out: value[1].a = region id */
  private createRegion(params: TeeParam[]): TeeReply {
    const p = valueParam(params, 0);
    const out = valueParam(params, 1);
    if (!p || !out) return { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'CREATE_REGION takes value(addr, size) and an out value' };
    const inside = this.secureMemory.some((r) => p.a >= r.base && p.a + p.b <= r.base + r.size);
    if (p.b <= 0 || !inside) return { code: TeeResult.ERROR_BAD_PARAMETERS, reason: `0x${p.a.toString(16)}+${p.b} is not inside a secure carveout` };
    for (const r of this.regions.values()) {
      if (p.a < r.addr + r.size && r.addr < p.a + p.b) return { code: TeeResult.ERROR_BAD_STATE, reason: `overlaps region ${r.id}` };
    }
    if (this.regions.size >= this.maxRegions) return { code: TeeResult.ERROR_OUT_OF_MEMORY, reason: `the SDP region table is full (${this.maxRegions} regions)` };
    const id = this.nextId++;
    this.regions.set(id, { id, addr: p.a, size: p.b, devices: new Map() });
    out.a = id;
    this.events?.emit({ kind: 'tee', actor: 'optee-sdp', addr: p.a, length: p.b, message: `SDP region ${id} created at 0x${p.a.toString(16)}+${p.b}` });
    return { code: TeeResult.SUCCESS };
  }

  /** in: value[0].a = region id */
  private destroyRegion(params: TeeParam[]): TeeReply {
    const p = valueParam(params, 0);
    if (!p) return { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'DESTROY_REGION takes value(region id)' };
    if (!this.regions.delete(p.a)) return { code: TeeResult.ERROR_ITEM_NOT_FOUND, reason: `no region ${p.a}` };
    this.events?.emit({ kind: 'tee', actor: 'optee-sdp', message: `SDP region ${p.a} destroyed` });
    return { code: TeeResult.SUCCESS };
  }

  /** in: value[0].a = region id; memref[1] = device name; value[2].a = access bits | SDP_REMOVE */
  private updateRegion(params: TeeParam[]): TeeReply {
    const p = valueParam(params, 0);
    const ref = params[1];
    const name = ref?.type === 'memref' && ref.memory ? new TextDecoder().decode(ref.memory.read(0, Math.min(ref.size, ref.memory.size))) : null;
    const acc = valueParam(params, 2);
    if (!p || name === null || !acc) return { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'UPDATE_REGION takes value(id), memref(device), value(access)' };
    const region = this.regions.get(p.a);
    if (!region) return { code: TeeResult.ERROR_ITEM_NOT_FOUND, reason: `no region ${p.a}` };
    const dev = this.devices.get(name);
    if (!dev) return { code: TeeResult.ERROR_ITEM_NOT_FOUND, reason: `unknown device "${name}"` };
    const access = { read: (acc.a & SDP_READ) !== 0, write: (acc.a & SDP_WRITE) !== 0 };
    if (!access.read && !access.write) return { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'no access bits' };
    if ((acc.a & SDP_REMOVE) !== 0) return removeAccess(region, name, access);
    return grantAccess(region, name, dev, access);
  }

  /** out: memref[0] = the status as JSON (SHORT_BUFFER with the size it needs when it does not fit) */
  private dumpStatus(params: TeeParam[]): TeeReply {
    const out = params[0];
    if (!out || out.type !== 'memref' || !out.memory) return { code: TeeResult.ERROR_BAD_PARAMETERS, reason: 'DUMP_STATUS takes an out memref' };
    const json = new TextEncoder().encode(JSON.stringify(this.status()));
    const fits = json.length <= out.memory.size;
    if (fits) out.memory.write(0, json, new Set());
    out.size = json.length;
    return fits ? { code: TeeResult.SUCCESS } : { code: TeeResult.ERROR_SHORT_BUFFER, reason: `the status takes ${json.length} bytes` };
  }

  status(): { maxRegions: number; regions: { id: number; addr: number; size: number; devices: Record<string, SdpGrant> }[] } {
    return {
      maxRegions: this.maxRegions,
      regions: [...this.regions.values()].map((r) => ({ id: r.id, addr: r.addr, size: r.size, devices: Object.fromEntries([...r.devices].map(([k, g]) => [k, { ...g }])) })),
    };
  }

  /** Read-only view for the firewall. */
  get table(): ReadonlyMap<number, SdpRegion> {
    return this.regions;
  }
}

type TeeReply = { code: number; reason?: string };

interface Access {
  readonly read: boolean;
  readonly write: boolean;
}

function valueParam(params: readonly TeeParam[], i: number): { a: number; b: number } | null {
  const p = params[i];
  return p && p.type === 'value' ? p : null;
}

function removeAccess(region: SdpRegion, name: string, { read, write }: Access): TeeReply {
  const g = region.devices.get(name);
  if (!g || (read && g.reads === 0) || (write && g.writes === 0)) return { code: TeeResult.ERROR_ITEM_NOT_FOUND, reason: `${name} holds no such access to region ${region.id}` };
  if (read) g.reads--;
  if (write) g.writes--;
  if (g.reads === 0 && g.writes === 0) region.devices.delete(name);
  return { code: TeeResult.SUCCESS };
}

/** Grants follow SDP_POLICY: only secure-capable devices of a class with the right. */
function grantAccess(region: SdpRegion, name: string, dev: Device, { read, write }: Access): TeeReply {
  if (!dev.secure) return { code: TeeResult.ERROR_ACCESS_DENIED, reason: `${name} is not secure-capable` };
  const policy = SDP_POLICY[dev.class];
  if (!policy) return { code: TeeResult.ERROR_ACCESS_DENIED, reason: `device class "${dev.class}" of ${name} has no rights on secure memory` };
  if (read && !policy.read) return { code: TeeResult.ERROR_ACCESS_DENIED, reason: `a ${dev.class} (${name}) may not read secure memory` };
  if (write && !policy.write) return { code: TeeResult.ERROR_ACCESS_DENIED, reason: `a ${dev.class} (${name}) may not write secure memory` };
  const g = region.devices.get(name) ?? { reads: 0, writes: 0 };
  if (read) g.reads++;
  if (write) g.writes++;
  region.devices.set(name, g);
  return { code: TeeResult.SUCCESS };
}
