/**
 * CPU access to a buffer: user mappings (mmap), kernel mappings (vmap) and the checks every CPU
 * access passes (the secure module's, then the core's own: secure memory is never CPU-visible).
 */
import { SmafError, toSmafError } from '../common/errors.ts';
import { CPU, forEachPiece, type SgSegment } from '../platform/index.ts';
import type { CpuAccessKind, CpuAccessMode } from './contracts.ts';
import type { BufferRef } from './host.ts';

export const PROT_READ = 1;
export const PROT_WRITE = 2;

/** A CPU view of (part of) a buffer: user mmap or kernel vmap. Reads and writes go through the bus. */
export class CpuMapping {
  closed = false;

  constructor(
    readonly id: number,
    readonly buffer: BufferRef,
    readonly kind: 'mmap' | 'vmap',
    readonly offset: number,
    readonly length: number,
    readonly prot: number,
  ) {}

  /** EBADF (unmapped), EACCES (prot) or EINVAL (range) for an access of [offset, offset+length). */
  check(offset: number, length: number, need: number): void {
    if (this.closed) throw new SmafError('EBADF', `mapping ${this.id} of buffer ${this.buffer.id} is unmapped`);
    if ((this.prot & need) === 0) {
      throw new SmafError('EACCES', `mapping ${this.id} of buffer ${this.buffer.id} does not allow ${need === PROT_READ ? 'reading' : 'writing'}`);
    }
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.length) {
      throw new SmafError('EINVAL', `range ${offset}+${length} leaves mapping ${this.id} (${this.length} bytes)`);
    }
  }

  read(offset: number, length: number): Uint8Array {
    this.check(offset, length, PROT_READ);
    const out = new Uint8Array(length);
    const bus = this.buffer.core.platform.bus;
    forEachPiece(this.segments(), (s) => s.phys, this.offset + offset, length, (phys, n, done) => {
      bus.read(CPU, phys, out.subarray(done, done + n));
    });
    return out;
  }

  write(offset: number, data: Uint8Array): number {
    this.check(offset, data.length, PROT_WRITE);
    const bus = this.buffer.core.platform.bus;
    forEachPiece(this.segments(), (s) => s.phys, this.offset + offset, data.length, (phys, n, done) => {
      bus.write(CPU, phys, data.subarray(done, done + n));
    });
    return data.length;
  }

  private segments(): readonly SgSegment[] {
    return this.buffer.requireBacking().segments;
  }
}

/** EINVAL for bad prot bits or a range that is not page-aligned inside the buffer. */
export function checkMmapRange(buf: BufferRef, offset: number, length: number, prot: number): void {
  if (!Number.isInteger(prot) || prot <= 0 || (prot & ~(PROT_READ | PROT_WRITE)) !== 0) {
    throw new SmafError('EINVAL', `invalid prot ${String(prot)} (1 read, 2 write, 3 both)`);
  }
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || offset % buf.core.pageSize !== 0 || offset + length > buf.length) {
    throw new SmafError('EINVAL', `cannot map ${offset}+${length} of buffer ${buf.id} (${buf.length} bytes): the offset must be page-aligned and the range inside the buffer`);
  }
}

/** The mode a prot asks for. */
export function protMode(prot: number): CpuAccessMode {
  return prot === 3 ? 'read-write' : prot === 1 ? 'read' : 'write';
}

/**
 * EPERM (and a denial event) unless the CPU may access the buffer: the secure module decides for
 * every buffer (its context for a secure one, null otherwise), then the core's own rule applies.
 */
export function checkCpuAccess(buf: BufferRef, secureCtx: unknown, kind: CpuAccessKind, mode: CpuAccessMode): void {
  const module = buf.core.secureModule;
  if (module) {
    try {
      module.checkCpuAccess(buf.secure ? secureCtx : null, buf.info(), kind, mode);
    } catch (e) {
      denyCpu(buf, kind, toSmafError(e).message);
    }
  }
  // the core's own rule, whatever the module says: secure memory is never CPU-visible
  if (buf.secure) denyCpu(buf, kind, 'it is secure, and secure memory is never visible to the normal world');
}

function denyCpu(buf: BufferRef, kind: CpuAccessKind, why: string): never {
  const msg = `Cannot ${kind} buffer ${buf.id} from the CPU: ${why}`;
  buf.core.platform.events.emit({ kind: 'denial', actor: 'cpu', buffer: buf.id, message: msg });
  throw new SmafError('EPERM', msg);
}
