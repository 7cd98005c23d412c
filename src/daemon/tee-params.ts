/**
 * The parameters of TEE_OPEN_SESSION and TEE_INVOKE, from the wire to the TA and back, checked as
 * the kernel's params_from_user and OP-TEE's driver check them, before any TA runs: unknown attribute
 * bits or types, META parameters (the supplicant's), a shared memory id this context does not hold,
 * and a memref whose offset + size overflows or passes the end of its shared memory are EINVAL (the
 * ioctl fails: libteec reports TEEC_ERROR_BAD_PARAMETERS with origin COMMS). On the way back, as
 * params_to_user: values of OUTPUT and INOUT parameters, and the size of OUTPUT and INOUT memrefs.
 */
import { SmafError } from '../common/errors.ts';
import { ByteMemory, type ParamDirection, type TeeMemory, type TeeParam } from '../platform/index.ts';
import { TEE_MEMREF_NULL, TeeParamAttr, type WireTeeParam } from '../uapi/index.ts';

/** Shared memory as a call sees it: its size, and whether its bytes travel (the client holds them). */
export interface CallShm {
  readonly size: number;
  /** Bytes held by the client process (ALLOC, REGISTER): they come with the call and go back. */
  readonly travels: boolean;
  /** The memory of a dma-buf, [offset, offset+size), as the TA reaches it (only when it does not travel). */
  memory(offset: number, size: number): TeeMemory;
}

const U64_MAX = 2n ** 64n - 1n;
const U32 = 0xffff_ffffn;
const ATTR_MASK = BigInt(TeeParamAttr.TYPE_MASK | TeeParamAttr.META);

const DIRECTION: Readonly<Record<number, ParamDirection>> = {
  [TeeParamAttr.VALUE_INPUT]: 'input', [TeeParamAttr.VALUE_OUTPUT]: 'output', [TeeParamAttr.VALUE_INOUT]: 'inout',
  [TeeParamAttr.MEMREF_INPUT]: 'input', [TeeParamAttr.MEMREF_OUTPUT]: 'output', [TeeParamAttr.MEMREF_INOUT]: 'inout',
};

export interface PreparedCall {
  readonly params: TeeParam[];
  /** The dma-bufs the memrefs reach, in parameter order (for events). */
  readonly buffers: readonly number[];
  /** The parameters and output bytes to answer with, once the TA ran. */
  finish(): { params: WireTeeParam[]; data: Uint8Array[] };
}

interface Slot {
  readonly wire: WireTeeParam;
  readonly param: TeeParam;
  /** Bytes that go back (a travelling memref of direction OUTPUT or INOUT). */
  readonly back: Uint8Array | null;
}

function bad(what: string, i: number, why: string): never {
  throw new SmafError('EINVAL', `${what}: parameter ${i}: ${why}`);
}

/** Reads the travelling bytes in parameter order. */
class Cursor {
  private at = 0;

  constructor(private readonly data: Uint8Array) {}

  take(n: number): Uint8Array | null {
    if (this.data.length - this.at < n) return null;
    const out = this.data.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }

  get left(): number {
    return this.data.length - this.at;
  }
}

function memrefParam(w: WireTeeParam, i: number, direction: ParamDirection, lookup: (id: bigint) => CallShm, bytes: Cursor, what: string): { param: TeeParam; back: Uint8Array | null; buffer?: number } {
  if (w.c === TEE_MEMREF_NULL) {
    if (w.b > BigInt(Number.MAX_SAFE_INTEGER)) bad(what, i, `a NULL memref of ${w.b} bytes`);
    return { param: { type: 'memref', direction, memory: null, size: Number(w.b) }, back: null };
  }
  const shm = lookup(w.c);
  // the kernel's params_from_user: offset + size neither wraps around nor passes the end
  if (w.a + w.b > U64_MAX || w.a + w.b > BigInt(shm.size)) bad(what, i, `memref ${w.a}+${w.b} leaves shared memory ${w.c} (${shm.size} bytes)`);
  const [offset, size] = [Number(w.a), Number(w.b)];
  if (!shm.travels) {
    const memory = shm.memory(offset, size);
    return { param: { type: 'memref', direction, memory, size }, back: null, ...(memory.buffer !== undefined ? { buffer: memory.buffer } : {}) };
  }
  const data = bytes.take(size);
  if (!data) bad(what, i, `the call carries ${bytes.left} bytes of its memrefs, this one needs ${size}`);
  return { param: { type: 'memref', direction, memory: new ByteMemory(data), size }, back: direction === 'input' ? null : data };
}

function slot(w: WireTeeParam, i: number, lookup: (id: bigint) => CallShm, bytes: Cursor, what: string): Slot & { buffer?: number } {
  if ((w.attr & ~ATTR_MASK) !== 0n) bad(what, i, `unknown attribute bits 0x${w.attr.toString(16)}`);
  if ((w.attr & BigInt(TeeParamAttr.META)) !== 0n) bad(what, i, 'META parameters are the supplicant\'s');
  const type = Number(w.attr);
  if (type === TeeParamAttr.NONE) return { wire: w, param: { type: 'none' }, back: null };
  const direction = DIRECTION[type];
  if (!direction) bad(what, i, `unknown parameter type ${type}`);
  if (type <= TeeParamAttr.VALUE_INOUT) {
    // a VALUE_OUTPUT's input is not copied in (the TA sees zeros); a GP TA's values are 32-bit
    const input = type !== TeeParamAttr.VALUE_OUTPUT;
    return { wire: w, param: { type: 'value', direction, a: input ? Number(w.a & U32) : 0, b: input ? Number(w.b & U32) : 0 }, back: null };
  }
  const m = memrefParam(w, i, direction, lookup, bytes, what);
  return { wire: w, ...m };
}

/** What the TA gave back for one parameter, as params_to_user copies it out. */
function outParam(s: Slot): WireTeeParam {
  const p = s.param;
  const out = { ...s.wire };
  if (p.type === 'value' && p.direction !== 'input') {
    out.a = BigInt(p.a >>> 0);
    out.b = BigInt(p.b >>> 0);
    out.c = 0n;
  }
  if (p.type === 'memref' && p.direction !== 'input') out.b = BigInt(Math.max(0, Math.floor(p.size)));
  return out;
}

/**
 * Check and convert the wire parameters of a call; `lookup` resolves a shared memory id of the
 * call's context (EINVAL when it holds none of that id). `data`: the travelling memref bytes.
 */
export function prepareCall(wire: readonly WireTeeParam[], data: Uint8Array, lookup: (id: bigint) => CallShm, what: string): PreparedCall {
  const bytes = new Cursor(data);
  const slots = wire.map((w, i) => slot(w, i, lookup, bytes, what));
  if (bytes.left !== 0) throw new SmafError('EINVAL', `${what}: ${bytes.left} bytes after the memrefs' bytes`);
  return {
    params: slots.map((s) => s.param),
    buffers: slots.flatMap((s) => (s.buffer !== undefined ? [s.buffer] : [])),
    finish: () => ({ params: slots.map(outParam), data: slots.flatMap((s) => (s.back ? [s.back] : [])) }),
  };
}
