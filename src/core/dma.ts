/**
 * Device DMA on behalf of an attachment: every byte goes through the memory bus with the device's
 * identity, so the firewall decides. The attachment must be mapped, and the mapping's direction
 * limits what the device may do (a to-device mapping is read by the device, never written).
 */
import crc32 from 'crc-32';
import { SmafError } from '../common/errors.ts';
import { forEachPiece } from '../platform/index.ts';
import type { Attachment } from './buffer.ts';
import { DmaDirection } from './contracts.ts';

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

/** The device reads [offset, offset+length) of its mapped buffer. */
export function dmaRead(att: Attachment, offset: number, length: number): Uint8Array {
  check(att, offset, length, false);
  const out = new Uint8Array(length);
  const bus = att.buffer.core.platform.bus;
  const who = { kind: 'device', device: att.device } as const;
  forEachPiece(att.buffer.requireBacking().segments, offset, length, (phys, n, done) => bus.read(who, phys, out.subarray(done, done + n)));
  return out;
}

/** The device writes `data` at `offset` of its mapped buffer. */
export function dmaWrite(att: Attachment, offset: number, data: Uint8Array): number {
  check(att, offset, data.length, true);
  const bus = att.buffer.core.platform.bus;
  const who = { kind: 'device', device: att.device } as const;
  forEachPiece(att.buffer.requireBacking().segments, offset, data.length, (phys, n, done) => bus.write(who, phys, data.subarray(done, done + n)));
  return data.length;
}

/** Transforms a DMA engine can apply while copying. */
export const DmaTransform = { COPY: 0, DECRYPT_XOR_5A: 1 } as const;

/**
 * Device-to-device copy by one device between two of its mappings, in chunks, through the bus.
 * transform 1 is the crypto engine's toy decryption (each byte XOR 0x5A).
 */
export function dmaCopy(dst: Attachment, dstOffset: number, src: Attachment, srcOffset: number, length: number, transform = 0): number {
  if (dst.device.name !== src.device.name) throw new SmafError('EINVAL', `both attachments must belong to the same device ("${dst.device.name}" vs "${src.device.name}")`);
  if (transform !== DmaTransform.COPY && transform !== DmaTransform.DECRYPT_XOR_5A) throw new SmafError('EINVAL', `unknown transform ${transform} (0 copy, 1 decrypt)`);
  check(src, srcOffset, length, false);
  check(dst, dstOffset, length, true);
  const chunk = 1 << 20;
  for (let done = 0; done < length; done += chunk) {
    const n = Math.min(chunk, length - done);
    const bytes = dmaRead(src, srcOffset + done, n);
    if (transform === DmaTransform.DECRYPT_XOR_5A) for (let i = 0; i < bytes.length; i++) bytes[i]! ^= 0x5a;
    dmaWrite(dst, dstOffset + done, bytes);
  }
  return length;
}

/**
 * A display controller's CRC capture: the device reads [offset, offset+length) through the bus and
 * returns its CRC-32 (IEEE), so the normal world can check content it may not read. On a secure
 * buffer the range must be whole pages: a CRC of a few bytes (or of sliding windows) would reveal
 * them, turning the capture into a read oracle.
 */
export function dmaCrc(att: Attachment, offset: number, length: number): number {
  const page = att.buffer.core.pageSize;
  if (att.buffer.secure && (offset % page !== 0 || length % page !== 0 || length === 0)) {
    throw new SmafError('EINVAL', `on secure buffer ${att.buffer.id}, a CRC covers whole pages (offset and length multiples of ${page}): a CRC of a few bytes would reveal them`);
  }
  check(att, offset, length, false);
  let crc = 0;
  const chunk = 1 << 20;
  for (let done = 0; done < length; done += chunk) {
    crc = crc32.buf(dmaRead(att, offset + done, Math.min(chunk, length - done)), crc);
  }
  return crc >>> 0;
}
