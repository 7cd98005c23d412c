/**
 * Device DMA on behalf of an attachment. The device emits the DMA addresses its mapping gave it:
 * for a device behind an IOMMU those are IOVAs, translated through the IOMMU's page table (an
 * unmapped IOVA is an IOMMU fault: an event and EFAULT); otherwise they are physical. Every byte
 * then goes through the memory bus with the device's identity, so the firewall decides. The
 * mapping's direction limits what the device may do (a to-device mapping is read, never written).
 *
 * Large work is done in slices (`*Steps` generators yield after each one) so that the daemon can
 * interleave other clients' requests; the plain functions run a job to its end.
 *
 * Provenance: each write into secure memory records whose data it is (see platform/provenance.ts),
 * and a CRC is only computed over data of the principal that asks for it, so no observation of the
 * normal world depends on bytes it did not supply itself.
 */
import crc32 from 'crc-32';
import { SmafError } from '../common/errors.ts';
import { hex } from '../common/units.ts';
import { PhysPieces, SECURE_WORLD, segmentAt, segmentOffsets, type Device, type DmaSegment, type Platform } from '../platform/index.ts';
import type { Attachment } from './attachment.ts';
import { DmaDirection } from './contracts.ts';
import { eventText, type DmaDone } from './event-texts.ts';

/** Bytes one slice of DMA work moves before the daemon may serve someone else. */
export const DMA_SLICE = 256 * 1024;

/** Who asks for DMA in-process (tests, demos): a principal like any client. */
const LOCAL_PRINCIPAL = 'local';

function check(att: Attachment, offset: number, length: number, write: boolean): void {
  if (att.detached || att.buffer.released) throw new SmafError('EINVAL', `attachment ${att.id} of "${att.device.name}" is gone`);
  const m = att.mapping;
  if (!m) throw new SmafError('EINVAL', `buffer ${att.buffer.id} is not mapped for "${att.device.name}"`);
  if (write && m.direction === DmaDirection.TO_DEVICE) throw new SmafError('EACCES', `"${att.device.name}" mapped buffer ${att.buffer.id} to-device: it may read, not write`);
  if (!write && m.direction === DmaDirection.FROM_DEVICE) throw new SmafError('EACCES', `"${att.device.name}" mapped buffer ${att.buffer.id} from-device: it may write, not read`);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > att.buffer.length) {
    throw new SmafError('EINVAL', `range ${offset}+${length} leaves buffer ${att.buffer.id} (${att.buffer.length} bytes)`);
  }
}

/** Where each DMA segment of a mapping starts in the buffer: a slice finds its first one by binary search. */
const segmentStarts = new WeakMap<readonly DmaSegment[], Float64Array>();

function startsOf(segments: readonly DmaSegment[]): Float64Array {
  let starts = segmentStarts.get(segments);
  if (!starts) segmentStarts.set(segments, (starts = segmentOffsets(segments)));
  return starts;
}

/**
 * Two lists of pieces reused by every access (JavaScript runs one slice at a time, and no access
 * needs more than two lists at once): walking a slice allocates nothing per page.
 */
const FIRST = new PhysPieces();
const SECOND = new PhysPieces();

/**
 * The physical pieces the device reaches at [offset, offset+length) of its mapping, into `out`:
 * its DMA addresses, through its IOMMU's page table when it has one (an unmapped IOVA is a fault).
 */
function devicePieces(att: Attachment, offset: number, length: number, out: PhysPieces): PhysPieces {
  out.clear();
  if (length === 0) return out;
  const platform = att.buffer.core.platform;
  const dev = att.device;
  const iommu = dev.iommu ? platform.iommu(dev) : null;
  const segments = att.mapping!.segments;
  const starts = startsOf(segments);
  for (let k = segmentAt(starts, offset), done = 0; done < length; k++) {
    const s = segments[k]!;
    const inSegment = offset + done - starts[k]!;
    const n = Math.min(s.length - inSegment, length - done);
    if (!iommu) out.push(s.dma + inSegment, n);
    else {
      const fault = iommu.walk(s.dma + inSegment, n, out.sink);
      if (fault !== null) iommuFault(platform, dev, att, fault);
    }
    done += n;
  }
  return out;
}

function iommuFault(platform: Platform, dev: Device, att: Attachment, iova: number): never {
  const message = `IOMMU fault: "${dev.name}" accessed IOVA ${hex(iova)} (buffer ${att.buffer.id}), which its page table does not map`;
  platform.events.emit({ kind: 'iommu-fault', actor: dev.name, buffer: att.buffer.id, addr: iova, message });
  throw new SmafError('EFAULT', message);
}

/** The device reads [offset, offset+length) of its mapped buffer. */
export function dmaRead(att: Attachment, offset: number, length: number): Uint8Array {
  check(att, offset, length, false);
  const out = new Uint8Array(length);
  const bus = att.buffer.core.platform.bus;
  const who = { kind: 'device', device: att.device } as const;
  const pieces = devicePieces(att, offset, length, FIRST);
  for (let i = 0, done = 0; i < pieces.count; i++) {
    const n = pieces.length(i);
    bus.read(who, pieces.addr(i), out.subarray(done, done + n));
    done += n;
  }
  return out;
}

/** Whether physical address `addr` lies in secure memory (whose provenance is tracked). */
function isSecure(platform: Platform, addr: number): boolean {
  return platform.regionAt(addr)?.kind === 'secure-carveout';
}

/**
 * The device writes `data` at `offset` of its mapped buffer, on behalf of `principal`; `from` is
 * whose data the bytes are (by default the principal's own).
 */
export function dmaWrite(att: Attachment, offset: number, data: Uint8Array, principal = LOCAL_PRINCIPAL, from: ReadonlySet<string> = new Set([principal])): number {
  check(att, offset, data.length, true);
  const platform = att.buffer.core.platform;
  const who = { kind: 'device', device: att.device } as const;
  const pieces = devicePieces(att, offset, data.length, FIRST);
  for (let i = 0, done = 0; i < pieces.count; i++) {
    const [phys, n] = [pieces.addr(i), pieces.length(i)];
    platform.bus.write(who, phys, data.subarray(done, done + n));
    // normal memory is readable by whoever holds it: only secure memory's provenance matters
    if (isSecure(platform, phys)) platform.provenance.written(phys, n, from);
    done += n;
  }
  return data.length;
}

/** Whose data lies in the physical pieces. */
function labelOfPieces(platform: Platform, pieces: PhysPieces): Set<string> {
  const label = new Set<string>();
  for (let i = 0; i < pieces.count; i++) for (const who of platform.provenance.labelOf(pieces.addr(i), pieces.length(i))) label.add(who);
  return label;
}

/** Whose data lies at [offset, offset+length) of the device's view of its mapped buffer. */
function sourceLabel(att: Attachment, offset: number, length: number): Set<string> {
  return labelOfPieces(att.buffer.core.platform, devicePieces(att, offset, length, FIRST));
}

/**
 * A `dma` event on a buffer: what the device's transfer did to it and how long it took from its
 * first slice to its last (other clients' work between slices included, as a fence would see it).
 * Never the bytes, nor anything computed from them (a CRC is its asker's alone).
 */
function dmaEvent(att: Attachment, e: Omit<DmaDone, 'device' | 'id'>, t0: number): void {
  const durationUs = Math.max(0, Math.round((performance.now() - t0) * 1000));
  const done = { ...e, device: att.device.name, id: att.buffer.id };
  att.buffer.core.platform.events.emit({ kind: 'dma', actor: done.device, buffer: done.id, length: e.length, durationUs, message: eventText.dmaDone(done) });
}

/** Transforms a DMA engine can apply while copying. */
export const DmaTransform = { COPY: 0, DECRYPT: 1 } as const;

/** Run a sliced job to its end. */
function runToEnd<T>(steps: Generator<unknown, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** A refusal on security grounds: a denial event, then EACCES. */
function deny(att: Attachment, message: string): never {
  att.buffer.core.platform.events.emit({ kind: 'denial', actor: att.device.name, buffer: att.buffer.id, message });
  throw new SmafError('EACCES', message);
}

/**
 * Decryption is the crypto engine's (a decrypter: it holds the secure world's content key) and its
 * output goes to secure memory only (a secure buffer's memory always lies in a secure carveout):
 * clear content in normal memory would be the key's output for anyone to read.
 */
function checkDecrypt(dst: Attachment, src: Attachment): void {
  const dev = dst.device;
  if (dev.class !== 'decrypter') throw new SmafError('EINVAL', `"${dev.name}" (${dev.class}) cannot decrypt: only a decrypter (the crypto engine) uses the content key`);
  if (!dst.buffer.secure) deny(dst, `"${dev.name}" may not decrypt into buffer ${dst.buffer.id}: decrypted content goes to secure memory only (buffer ${src.buffer.id} -> a secure buffer)`);
}

/** Whose data decrypted bytes are: their source's, the asker's, and the secure world's (the key). */
function decryptedLabel(from: Set<string>): Set<string> {
  from.add(SECURE_WORLD);
  return from;
}

/**
 * Device-to-device copy by one device between two of its mappings, slice by slice, through the bus.
 * The copied bytes carry their source's provenance plus the principal that asked for the copy.
 * transform 1 is the crypto engine's decryption with the secure world's content key (content-key.ts),
 * the bytes' position in the content stream being their offset in the source buffer: only a
 * decrypter does it, only into secure memory, and what it writes is the secure world's data too,
 * so that no CRC or TA dump of it is ever answered.
 */
export function* dmaCopySteps(dst: Attachment, dstOffset: number, src: Attachment, srcOffset: number, length: number, transform = 0, principal = LOCAL_PRINCIPAL): Generator<void, number> {
  if (dst.device.name !== src.device.name) throw new SmafError('EINVAL', `both attachments must belong to the same device ("${dst.device.name}" vs "${src.device.name}")`);
  if (transform !== DmaTransform.COPY && transform !== DmaTransform.DECRYPT) throw new SmafError('EINVAL', `unknown transform ${transform} (0 copy, 1 decrypt)`);
  check(src, srcOffset, length, false);
  check(dst, dstOffset, length, true);
  if (transform === DmaTransform.DECRYPT) checkDecrypt(dst, src);
  const t0 = performance.now();
  for (let done = 0; done < length; done += DMA_SLICE) {
    if (done > 0) yield;
    const n = Math.min(DMA_SLICE, length - done);
    // between two slices other requests run, and may have unmapped either side
    check(src, srcOffset + done, n, false);
    check(dst, dstOffset + done, n, true);
    if (transform === DmaTransform.COPY) {
      copySlice(dst, dstOffset + done, src, srcOffset + done, n, principal);
      continue;
    }
    const from = sourceLabel(src, srcOffset + done, n);
    from.add(principal);
    const bytes = dmaRead(src, srcOffset + done, n);
    src.buffer.core.platform.contentKey.apply(bytes, srcOffset + done);
    dmaWrite(dst, dstOffset + done, bytes, principal, decryptedLabel(from));
  }
  const how = transform === DmaTransform.COPY ? 'copy' : 'decryption';
  if (dst.buffer === src.buffer) dmaEvent(dst, { access: 'read and wrote', length, how: `${how} within the buffer` }, t0);
  else {
    dmaEvent(src, { access: 'read', length, how: `${how} into buffer ${dst.buffer.id}` }, t0);
    dmaEvent(dst, { access: 'wrote', length, how: `${how} of buffer ${src.buffer.id}` }, t0);
  }
  return length;
}

/**
 * One slice of a plain copy (its attachments checked), memory to memory through the bus: no staging
 * buffer. The copied bytes are their source's data and the principal's, which matters only where
 * they land in secure memory.
 */
function copySlice(dst: Attachment, dstOffset: number, src: Attachment, srcOffset: number, n: number, principal: string): void {
  const platform = dst.buffer.core.platform;
  const s = devicePieces(src, srcOffset, n, FIRST);
  const d = devicePieces(dst, dstOffset, n, SECOND);
  let from: Set<string> | null = null;
  for (let j = 0; j < d.count && !from; j++) if (isSecure(platform, d.addr(j))) from = labelOfPieces(platform, s).add(principal);
  platform.bus.copy({ kind: 'device', device: dst.device }, d, s);
  if (from) for (let j = 0; j < d.count; j++) if (isSecure(platform, d.addr(j))) platform.provenance.written(d.addr(j), d.length(j), from);
}

export function dmaCopy(dst: Attachment, dstOffset: number, src: Attachment, srcOffset: number, length: number, transform = 0, principal = LOCAL_PRINCIPAL): number {
  return runToEnd(dmaCopySteps(dst, dstOffset, src, srcOffset, length, transform, principal));
}

/**
 * A display controller's CRC capture: the device reads [offset, offset+length) through the bus and
 * returns its CRC-32 (IEEE), so the normal world can check content it may not read. Refused (EACCES)
 * when any page of the range holds data that is not the asking principal's own (another client's,
 * or the secure world's): a CRC of it would reveal it. On a secure buffer the range must also be
 * whole pages.
 */
export function* dmaCrcSteps(att: Attachment, offset: number, length: number, principal = LOCAL_PRINCIPAL): Generator<void, number> {
  const page = att.buffer.core.pageSize;
  if (att.buffer.secure && (offset % page !== 0 || length % page !== 0 || length === 0)) {
    throw new SmafError('EINVAL', `on secure buffer ${att.buffer.id}, a CRC covers whole pages (offset and length multiples of ${page}): a CRC of a few bytes would reveal them`);
  }
  check(att, offset, length, false);
  refuseForeign(att, offset, length, principal);
  const t0 = performance.now();
  let crc = 0;
  for (let done = 0; done < length; done += DMA_SLICE) {
    if (done > 0) {
      yield;
      check(att, offset + done, 0, false);
    }
    const n = Math.min(DMA_SLICE, length - done);
    // labels are checked again right before each slice is read: between two slices other clients
    // run, and may have written into the range since the first check
    refuseForeign(att, offset + done, n, principal);
    crc = crc32.buf(dmaRead(att, offset + done, n), crc);
  }
  dmaEvent(att, { access: 'read', length, how: 'CRC capture' }, t0);
  return crc >>> 0;
}

/**
 * A display controller scanning a frame out: the device reads [offset, offset+length) of its
 * mapping through the bus, slice by slice, and nothing of what it read comes back (the normal world
 * observes only that it could: the firewall decides). Secure content the normal world may not even
 * take the CRC of can be shown this way.
 */
export function* dmaScanoutSteps(att: Attachment, offset: number, length: number): Generator<void, number> {
  check(att, offset, length, false);
  const t0 = performance.now();
  for (let done = 0; done < length; done += DMA_SLICE) {
    if (done > 0) {
      yield;
      check(att, offset + done, 0, false);
    }
    dmaRead(att, offset + done, Math.min(DMA_SLICE, length - done));
  }
  dmaEvent(att, { access: 'read', length, how: 'scan-out' }, t0);
  return length;
}

/** EACCES (and a denial event) when [offset, offset+length) holds data that is not `principal`'s. */
function refuseForeign(att: Attachment, offset: number, length: number, principal: string): void {
  const foreign = [...sourceLabel(att, offset, length)].filter((who) => who !== principal);
  if (foreign.length === 0) return;
  // who else's data it is stays out of the message: that would tell one client about another
  deny(att, `CRC of buffer ${att.buffer.id} refused: the range holds data that ${principal} did not supply, and a CRC would reveal it`);
}

export function dmaCrc(att: Attachment, offset: number, length: number, principal = LOCAL_PRINCIPAL): number {
  return runToEnd(dmaCrcSteps(att, offset, length, principal));
}
