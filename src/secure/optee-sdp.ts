/**
 * optee-sdp: the secure module over the TEE's SDP trusted application. A context is the set of SDP
 * regions of one buffer (one per physical segment, created at the first grant); grantAccess adds the
 * device to the region with the access its DMA direction needs; revokeAccess removes it; the CPU
 * never gets a secure buffer.
 */
import { SmafError, type ErrnoName } from '../common/errors.ts';
import { hex } from '../common/units.ts';
import { DmaDirection, type BufferInfo, type CpuAccessKind, type CpuAccessMode, type SecureModule } from '../core/index.ts';
import {
  bytesParam, SDP_READ, SDP_REMOVE, SDP_TA_UUID, SDP_WRITE, SdpCommand, TeeResult, teeResultName, type Device, type Platform, type TeeParam,
} from '../platform/index.ts';

export interface OpteeSdpContext {
  readonly buffer: number;
  /**
   * SDP region per segment base address, with the number of grants it carries. A region lives
   * only while some device holds a grant on it: memory that moves or is freed never stays covered.
   */
  readonly regions: Map<number, { id: number; grants: number }>;
}

/** Access a DMA direction needs: to-device = the device reads, from-device = it writes. */
export function sdpAccess(dir: DmaDirection): number {
  return dir === DmaDirection.TO_DEVICE ? SDP_READ : dir === DmaDirection.FROM_DEVICE ? SDP_WRITE : SDP_READ | SDP_WRITE;
}

const ERRNO: Readonly<Record<number, ErrnoName>> = {
  [TeeResult.ERROR_ACCESS_DENIED]: 'EPERM',
  [TeeResult.ERROR_OUT_OF_MEMORY]: 'ENOSPC',
  [TeeResult.ERROR_BAD_PARAMETERS]: 'EINVAL',
  [TeeResult.ERROR_ITEM_NOT_FOUND]: 'ENOENT',
  [TeeResult.ERROR_BAD_STATE]: 'EBUSY',
};

export function createOpteeSdpModule(platform: Platform): SecureModule<OpteeSdpContext> {
  const opened = platform.tee.openSession(SDP_TA_UUID);
  if (opened.code !== TeeResult.SUCCESS) throw new SmafError('ENODEV', `optee-sdp: cannot open a session to the SDP TA (${teeResultName(opened.code)}); does the platform have a secure carveout?`);
  const session = opened.session;
  const call = (cmd: number, params: TeeParam[], what: string): TeeParam[] => {
    const r = platform.tee.invoke(session, cmd, params);
    if (r.code !== TeeResult.SUCCESS) throw new SmafError(ERRNO[r.code] ?? 'EIO', `${what}: the SDP TA says ${teeResultName(r.code)}: ${r.reason}`);
    return params;
  };
  const update = (region: number, device: Device, dir: DmaDirection, remove: boolean): void => {
    const access = sdpAccess(dir) | (remove ? SDP_REMOVE : 0);
    call(SdpCommand.UPDATE_REGION, [{ type: 'value', a: region, b: 0 }, bytesParam(new TextEncoder().encode(device.name), 'input'), { type: 'value', a: access, b: 0 }], `${remove ? 'revoke' : 'grant'} ${device.name}`);
  };
  const destroy = (ctx: OpteeSdpContext, addr: number, id: number): void => {
    ctx.regions.delete(addr);
    call(SdpCommand.DESTROY_REGION, [{ type: 'value', a: id, b: 0 }], `destroy region ${id}`);
  };
  return {
    name: 'optee-sdp',
    description: 'grants device access through the OP-TEE SDP trusted application; secure buffers are never CPU-accessible',
    createContext(buffer: BufferInfo): OpteeSdpContext {
      return { buffer: buffer.id, regions: new Map() };
    },
    destroyContext(ctx: OpteeSdpContext): void {
      for (const [addr, r] of [...ctx.regions]) destroy(ctx, addr, r.id);
    },
    grantAccess(ctx: OpteeSdpContext, device: Device, addr: number, size: number, dir: DmaDirection): void {
      let region = ctx.regions.get(addr);
      if (!region) {
        const out: TeeParam = { type: 'value', a: 0, b: 0 };
        call(SdpCommand.CREATE_REGION, [{ type: 'value', a: addr, b: size }, out], `create an SDP region for buffer ${ctx.buffer}`);
        region = { id: (out as { a: number }).a, grants: 0 };
        ctx.regions.set(addr, region);
      }
      try {
        update(region.id, device, dir, false);
      } catch (e) {
        if (region.grants === 0) destroy(ctx, addr, region.id); // a region nobody may use does not stay
        throw e;
      }
      region.grants++;
    },
    revokeAccess(ctx: OpteeSdpContext, device: Device, addr: number, _size: number, dir: DmaDirection): void {
      const region = ctx.regions.get(addr);
      if (!region) throw new SmafError('ENOENT', `optee-sdp: no SDP region for ${hex(addr)} of buffer ${ctx.buffer}`);
      update(region.id, device, dir, true);
      if (--region.grants === 0) destroy(ctx, addr, region.id);
    },
    checkCpuAccess(ctx: OpteeSdpContext | null, buffer: BufferInfo, kind: CpuAccessKind, _mode: CpuAccessMode): void {
      if (buffer.secure || ctx !== null) throw new SmafError('EPERM', `optee-sdp: ${kind} of secure buffer ${buffer.id} refused: secure memory is never mapped for the normal world`);
    },
  };
}
