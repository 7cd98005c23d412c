/**
 * What a trusted application's memory references point at (TeeMemory of tee.ts):
 * - `ByteMemory`: bytes of the normal world that travel with the call (a temporary memref, or shared
 *   memory the client process allocated or registered): the TA reads and writes a copy, and the
 *   output bytes go back to the client. Normal memory: no provenance labels.
 * - `BusMemory`: a range of physical memory the TEE reaches by address (a registered dma-buf): every
 *   byte goes through the memory bus as the secure world (`tee:<ta>`: counted, EFAULT off memory),
 *   never copied to the normal world; writes into secure memory are labelled (provenance.ts).
 * Both are bounded to the bytes the caller referenced: a TA that reaches past them faults.
 */
import type { Initiator } from './bus.ts';
import type { Platform } from './platform.ts';
import { forEachPiece, type SgSegment } from './sg-table.ts';
import type { ParamDirection, TeeMemory, TeeParam } from './tee.ts';

const NOBODY: ReadonlySet<string> = new Set();

function bounds(size: number, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new RangeError(`${what} at ${offset}+${length} leaves the ${size}-byte memory reference`);
  }
}

export class ByteMemory implements TeeMemory {
  readonly secure = false;

  constructor(readonly bytes: Uint8Array) {}

  get size(): number {
    return this.bytes.length;
  }

  read(offset: number, length: number): Uint8Array {
    bounds(this.size, offset, length, 'read');
    return this.bytes.slice(offset, offset + length);
  }

  write(offset: number, bytes: Uint8Array): void {
    bounds(this.size, offset, bytes.length, 'write');
    this.bytes.set(bytes, offset);
  }

  update(offset: number, length: number, f: (bytes: Uint8Array) => void): void {
    bounds(this.size, offset, length, 'update');
    f(this.bytes.subarray(offset, offset + length));
  }

  labels(): ReadonlySet<string> {
    return NOBODY;
  }
}

/** A memref over bytes of the normal world (in-process callers, and the bytes a client sends). */
export function bytesParam(data: Uint8Array, direction: ParamDirection = 'inout'): TeeParam {
  return { type: 'memref', direction, memory: new ByteMemory(data), size: data.length };
}

/** The physical pieces of [offset, offset+length) of a list of segments. */
const pieces = (segments: readonly SgSegment[], offset: number, length: number, visit: (phys: number, n: number, done: number) => void): void =>
  forEachPiece(segments, (s) => s.phys, offset, length, visit);

export class BusMemory implements TeeMemory {
  readonly secure: boolean;
  private readonly who: Initiator;

  /** [offset, offset+size) of the memory made of `segments` (of dma-buf `buffer`), reached by the TA `ta`. */
  constructor(private readonly platform: Platform, private readonly segments: readonly SgSegment[], private readonly offset: number, readonly size: number, ta: string, readonly buffer?: number) {
    const total = segments.reduce((n, s) => n + s.length, 0);
    bounds(total, offset, size, 'a memory reference');
    this.who = { kind: 'secure-world', who: ta };
    let secure = true;
    pieces(segments, offset, Math.max(size, 1), (phys) => {
      if (platform.regionAt(phys)?.kind !== 'secure-carveout') secure = false;
    });
    this.secure = secure;
  }

  read(offset: number, length: number): Uint8Array {
    bounds(this.size, offset, length, 'read');
    const out = new Uint8Array(length);
    pieces(this.segments, this.offset + offset, length, (phys, n, done) => this.platform.bus.read(this.who, phys, out.subarray(done, done + n)));
    return out;
  }

  write(offset: number, bytes: Uint8Array, from: ReadonlySet<string>): void {
    bounds(this.size, offset, bytes.length, 'write');
    pieces(this.segments, this.offset + offset, bytes.length, (phys, n, done) => {
      this.platform.bus.write(this.who, phys, bytes.subarray(done, done + n));
      // normal memory is readable by whoever holds it: only secure memory's provenance matters
      if (this.platform.regionAt(phys)?.kind === 'secure-carveout') this.platform.provenance.written(phys, n, from);
    });
  }

  update(offset: number, length: number, f: (bytes: Uint8Array) => void): void {
    const bytes = this.read(offset, length);
    f(bytes);
    // the bytes are a function of themselves: whose data they are does not change
    pieces(this.segments, this.offset + offset, length, (phys, n, done) => this.platform.bus.write(this.who, phys, bytes.subarray(done, done + n)));
  }

  labels(offset: number, length: number): ReadonlySet<string> {
    bounds(this.size, offset, length, 'labels');
    const out = new Set<string>();
    pieces(this.segments, this.offset + offset, length, (phys, n) => {
      for (const who of this.platform.provenance.labelOf(phys, n)) out.add(who);
    });
    return out;
  }
}
