/**
 * Mapping a buffer for a device's DMA: an IOVA range in the device's IOMMU (when it has one), the
 * device's segment limits, and for a secure buffer the secure module's grant of each physical
 * segment, unwound in reverse on any refusal. Unmapping revokes in reverse and frees the IOVA.
 */
import { SmafError, toSmafError } from '../common/errors.ts';
import { formatSize, hex } from '../common/units.ts';
import { splitDmaSegments, type DmaSegment } from '../platform/index.ts';
import type { Attachment, DmaMapping, Grant } from './attachment.ts';
import { directionName, type Backing, type DmaDirection } from './contracts.ts';
import { eventText } from './event-texts.ts';
import type { BufferRef } from './host.ts';
import { teardownStep } from './teardown.ts';

const NO_GRANTS: readonly Grant[] = Object.freeze([]);

/** The device's view of the memory: IOVAs through its IOMMU, else the physical segments; split to its limits. */
function deviceSegments(buf: BufferRef, att: Attachment, backing: Backing): { iova: number | undefined; segments: DmaSegment[] } {
  const dev = att.device;
  if (dev.iommu) {
    const iova = buf.core.platform.iommu(dev).map(backing.segments);
    return { iova, segments: splitDmaSegments([{ dma: iova, length: buf.length }], dev.maxSegmentSize, dev.segmentBoundary) };
  }
  const phys = backing.segments.map((s) => ({ dma: s.phys, length: s.length }));
  return { iova: undefined, segments: splitDmaSegments(phys, dev.maxSegmentSize, dev.segmentBoundary) };
}

/** Map `att` (checked by the caller); the mapping is set on the attachment and returned. */
export function mapForDevice(buf: BufferRef, att: Attachment, backing: Backing, direction: DmaDirection, secureCtx: unknown): DmaMapping {
  const { iova, segments } = deviceSegments(buf, att, backing);
  const grants = buf.secure ? grantAll(buf, att, backing, direction, secureCtx, iova) : NO_GRANTS;
  const mapping: DmaMapping = { direction, segments, iova, grants };
  att.mapping = mapping;
  const { id } = buf;
  const device = att.device.name;
  const message = eventText.mapped({ id, device, direction, segments: segments.length });
  buf.core.platform.events.emit({ kind: 'map', actor: device, buffer: id, addr: segments[0]?.dma, length: buf.length, message });
  return mapping;
}

/** Ask the secure module to grant each physical segment; on a refusal revoke k-1..0, free the IOVA, throw. */
function grantAll(buf: BufferRef, att: Attachment, backing: Backing, direction: DmaDirection, secureCtx: unknown, iova: number | undefined): Grant[] {
  const { platform, secureModule: module } = buf.core;
  const dev = att.device;
  const grants: Grant[] = [];
  try {
    if (!module) throw new SmafError('EPERM', `buffer ${buf.id} is secure but no secure module is registered`);
    for (const s of backing.segments) {
      module.grantAccess(secureCtx, dev, s.phys, s.length, direction);
      grants.push({ addr: s.phys, size: s.length });
      platform.events.emit({ kind: 'grant', actor: dev.name, buffer: buf.id, addr: s.phys, length: s.length, message: `${module.name} granted ${dev.name} ${directionName(direction)} access to ${hex(s.phys)}+${formatSize(s.length)}` });
    }
    return grants;
  } catch (e) {
    for (let k = grants.length - 1; k >= 0; k--) {
      const g = grants[k]!;
      const undone = teardownStep(buf, module!.name, `rolling back the grant of ${hex(g.addr)} to ${dev.name}`, () => module!.revokeAccess(secureCtx, dev, g.addr, g.size, direction));
      if (undone) platform.events.emit({ kind: 'revoke', actor: dev.name, buffer: buf.id, addr: g.addr, length: g.size, message: `rolled back grant of ${hex(g.addr)} to ${dev.name}` });
    }
    if (iova !== undefined) platform.iommu(dev).unmap(iova);
    const err = toSmafError(e);
    const msg = `Cannot map buffer ${buf.id} for device "${dev.name}": ${err.message}`;
    platform.events.emit({ kind: 'denial', actor: dev.name, buffer: buf.id, message: msg });
    throw new SmafError(err.code, msg, { cause: e });
  }
}

/**
 * Revoke the grants made at map (in reverse), free the IOVA, clear the mapping. Always completes
 * (teardown.ts): a revoke the module fails is an internal-error event, and the unmap goes on.
 * Returns whether every revoke succeeded.
 */
export function unmapForDevice(buf: BufferRef, att: Attachment, secureCtx: unknown): boolean {
  const m = att.mapping;
  if (!m) return true;
  const { platform, secureModule: module } = buf.core;
  const dev = att.device.name;
  let revoked = true;
  for (let k = m.grants.length - 1; k >= 0; k--) {
    const g = m.grants[k]!;
    // grants are only made through a module, and it cannot be unregistered while a secure buffer lives
    const ok = teardownStep(buf, module!.name, `revoking ${dev}'s access to ${hex(g.addr)}`, () => module!.revokeAccess(secureCtx, att.device, g.addr, g.size, m.direction));
    if (ok) platform.events.emit({ kind: 'revoke', actor: dev, buffer: buf.id, addr: g.addr, length: g.size, message: `revoked ${dev} access to ${hex(g.addr)}+${formatSize(g.size)}` });
    revoked &&= ok;
  }
  if (m.iova !== undefined) platform.iommu(att.device).unmap(m.iova);
  att.mapping = null;
  const { id } = buf;
  platform.events.emit({ kind: 'unmap', actor: dev, buffer: id, message: eventText.unmapped({ id, device: dev }) });
  return revoked;
}
