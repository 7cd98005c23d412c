/**
 * The TEE subsystem over the wire (ops 0x40-0x4f, rows of ops.ts): the structs of its ops, the
 * parameter block they carry, and the Linux uapi numbers (linux/tee.h, with OP-TEE's
 * TEE_IOC_SHM_REGISTER_FD) that a preload library emulating /dev/tee0 maps onto them. Data, like
 * the rest of the uapi: docs/protocol.md and native/smaf-wire.h are generated from it.
 *
 * The parameter block of OPEN_SESSION and INVOKE (requests and replies) is `num_params` struct
 * tee_param (the kernel's struct tee_ioctl_param, byte for byte), then the bytes of the normal
 * world's memory references: for each memref parameter, in order, whose shared memory the client
 * process holds (TEE_SHM_ALLOC or TEE_SHM_REGISTER; not a dma-buf, not a NULL memref), exactly `b`
 * bytes (its size) from offset `a` of that memory. The reply carries the same bytes back, after the
 * TA ran, for such memrefs of direction OUTPUT or INOUT (the size the client sent, whatever size
 * the TA reports in `b`). A dma-buf's bytes never travel: the TEE reaches them by address.
 */
import { SmafError } from '../common/errors.ts';
import { ioc, IOC_READ, IOC_WRITE, struct } from './abi.ts';
import { decodeStruct, encodeStruct } from './codec.ts';

const u32 = <const N extends string>(name: N, doc: string) => ({ name, type: 'u32', role: 'in', doc }) as const;
const u64 = <const N extends string>(name: N, doc: string) => ({ name, type: 'u64', role: 'in', doc }) as const;
const out32 = <const N extends string>(name: N, doc: string) => ({ name, type: 'u32', role: 'out', doc }) as const;
const reserved = { name: 'reserved', type: 'u32', role: 'reserved', doc: 'must be 0' } as const;

// ---- linux/tee.h -------------------------------------------------------------------------------

const TEE_IOC_MAGIC = 0xa4;
export const TEE_IMPL_ID_OPTEE = 1;
export const TEE_OPTEE_CAP_TZ = 1;
export const TEE_GEN_CAP_GP = 1 << 0;
export const TEE_GEN_CAP_REG_MEM = 1 << 2;
export const TEE_GEN_CAP_MEMREF_NULL = 1 << 3;
/** `c` of a NULL memory reference. */
export const TEE_MEMREF_NULL = 0xffff_ffff_ffff_ffffn;
/** Largest struct a TEE_IOC_OPEN_SESSION or TEE_IOC_INVOKE carries (argument and parameters). */
export const TEE_MAX_ARG_SIZE = 1024;
const TEE_IOCTL_UUID_LEN = 16;

export const TeeParamAttr = {
  NONE: 0, VALUE_INPUT: 1, VALUE_OUTPUT: 2, VALUE_INOUT: 3, MEMREF_INPUT: 5, MEMREF_OUTPUT: 6, MEMREF_INOUT: 7, TYPE_MASK: 0xff, META: 0x100,
} as const;

/** The kernel's flags of a shared memory object as it reports them (include/linux/tee_core.h). */
export const TeeShmFlag = { DYNAMIC: 1 << 0, USER_MAPPED: 1 << 1, POOL: 1 << 2, DMA_BUF: 1 << 4 } as const;

const TEE_IOCTL_BUF_DATA = 16;
const RW = IOC_READ | IOC_WRITE;
/** The ioctls of /dev/tee0 (linux/tee.h; SHM_REGISTER_FD is OP-TEE's, as libteec's tee.h declares it). */
export const TEE_IOCTLS = {
  TEE_IOC_VERSION: ioc(IOC_READ, TEE_IOC_MAGIC, 0, 12),
  TEE_IOC_SHM_ALLOC: ioc(RW, TEE_IOC_MAGIC, 1, 16),
  TEE_IOC_OPEN_SESSION: ioc(IOC_READ, TEE_IOC_MAGIC, 2, TEE_IOCTL_BUF_DATA),
  TEE_IOC_INVOKE: ioc(IOC_READ, TEE_IOC_MAGIC, 3, TEE_IOCTL_BUF_DATA),
  TEE_IOC_CANCEL: ioc(IOC_READ, TEE_IOC_MAGIC, 4, 8),
  TEE_IOC_CLOSE_SESSION: ioc(IOC_READ, TEE_IOC_MAGIC, 5, 4),
  TEE_IOC_SHM_REGISTER_FD: ioc(RW, TEE_IOC_MAGIC, 8, 24),
  TEE_IOC_SHM_REGISTER: ioc(RW, TEE_IOC_MAGIC, 9, 24),
} as const;

/** OP-TEE's TEE_IOC_SHM_REGISTER_FD argument (libteec's linux/tee.h; not in every linux-libc-dev). */
export const teeIoctlShmRegisterFdData = struct('tee_ioctl_shm_register_fd_data', 24, [
  { name: 'fd', type: 'u64', role: 'in', doc: '__s64: the dma-buf fd' },
  { name: 'size', type: 'u64', role: 'out', doc: 'bytes of the dma-buf' },
  { name: 'flags', type: 'u32', role: 'inout', doc: '0 in; the shm flags out' },
  { name: 'id', type: 's32', role: 'out', doc: 'the shared memory id' },
]);

/** Sizes of the kernel's argument structs before their parameters. */
export const TEE_OPEN_SESSION_ARG = 56;
export const TEE_INVOKE_ARG = 24;

// ---- the wire ------------------------------------------------------------------------------------

export const teeParam = struct('smaf_tee_param', 32, [
  u64('attr', 'TEE_IOCTL_PARAM_ATTR_TYPE_*: 0 none, 1-3 value in/out/inout, 5-7 memref in/out/inout'),
  u64('a', 'value a, or a memref\'s offset in its shared memory'),
  u64('b', 'value b, or a memref\'s size (updated by an output)'),
  u64('c', 'value c, or a memref\'s shared memory id (TEE_MEMREF_NULL: a NULL memref)'),
]);

export const teeCtxIn = struct('smaf_tee_ctx_in', 4, [u32('ctx', 'TEE context (from TEE_OPEN)')]);

export const teeVersionOut = struct('smaf_tee_version_out', 12, [
  out32('impl_id', 'TEE_IMPL_ID_OPTEE (1)'),
  out32('impl_caps', 'TEE_OPTEE_CAP_TZ (1)'),
  out32('gen_caps', 'TEE_GEN_CAP_GP | REG_MEM | MEMREF_NULL (13)'),
]);

export const teeShmAllocIn = struct('smaf_tee_shm_alloc_in', 16, [u32('ctx', 'TEE context'), u32('flags', 'must be 0'), u64('size', 'bytes, > 0')]);

export const teeShmRegisterIn = struct('smaf_tee_shm_register_in', 24, [
  u32('ctx', 'TEE context'), u32('flags', 'must be 0'), u64('addr', 'the client\'s address (shown, never used by smafd)'), u64('length', 'bytes, > 0'),
]);

export const teeShmRegisterFdIn = struct('smaf_tee_shm_register_fd_in', 8, [u32('ctx', 'TEE context'), u32('flags', 'must be 0')]);

export const teeShmOut = struct('smaf_tee_shm_out', 16, [
  { name: 'size', type: 'u64', role: 'out', doc: 'bytes of the shared memory' },
  out32('flags', 'the kernel\'s shm flags: 5 alloc (DYNAMIC|POOL), 3 registered (DYNAMIC|USER_MAPPED), 16 dma-buf (DMA_BUF)'),
  { name: 'id', type: 's32', role: 'out', doc: 'the shared memory id (the result too)' },
]);

export const teeShmReleaseIn = struct('smaf_tee_shm_release_in', 8, [u32('shm', 'shared memory id'), reserved]);

export const teeOpenSessionIn = struct('smaf_tee_open_session_in', 48, [
  { name: 'uuid', type: 'bytes', size: TEE_IOCTL_UUID_LEN, role: 'in', doc: 'the TA\'s UUID, as uuid_to_octets writes it' },
  { name: 'clnt_uuid', type: 'bytes', size: TEE_IOCTL_UUID_LEN, role: 'in', doc: 'connection data (GROUP logins)' },
  u32('ctx', 'TEE context'), u32('clnt_login', 'TEE_IOCTL_LOGIN_*'), u32('cancel_id', 'cancellation id'), u32('num_params', 'parameters that follow'),
]);

export const teeInvokeIn = struct('smaf_tee_invoke_in', 24, [
  u32('ctx', 'TEE context'), u32('session', 'session id'), u32('func', 'the TA\'s command'), u32('cancel_id', 'cancellation id'),
  u32('num_params', 'parameters that follow'), reserved,
]);

export const teeCallOut = struct('smaf_tee_call_out', 16, [
  out32('ret', 'TEEC_* return code'), out32('ret_origin', 'TEEC_ORIGIN_*'), out32('session', 'OPEN_SESSION: the new session (0 on failure)'),
  out32('num_params', 'parameters that follow, as sent, outputs updated'),
]);

export const teeCloseSessionIn = struct('smaf_tee_close_session_in', 8, [u32('ctx', 'TEE context'), u32('session', 'session id')]);

export const teeCancelIn = struct('smaf_tee_cancel_in', 16, [u32('ctx', 'TEE context'), u32('session', 'session id'), u32('cancel_id', 'cancellation id'), reserved]);

/** The bytes after OPEN_SESSION's and INVOKE's request struct. */
export const TEE_CALL_TAIL = 'num_params smaf_tee_param, then the bytes of the normal world\'s memrefs (docs/tee.md)';
/** What OPEN_SESSION and INVOKE answer after the result. */
export const TEE_CALL_REPLY = 'smaf_tee_call_out, num_params smaf_tee_param, then the output bytes of the normal world\'s memrefs (docs/tee.md)';

export interface WireTeeParam {
  attr: bigint;
  a: bigint;
  b: bigint;
  c: bigint;
}

/** `n` parameters at the start of `tail`, and the bytes after them; EINVAL when they are not all there. */
export function decodeTeeParams(tail: Uint8Array, n: number, what: string): { params: WireTeeParam[]; data: Uint8Array } {
  const size = n * teeParam.size;
  if (tail.length < size) throw new SmafError('EINVAL', `${what}: ${n} parameters take ${size} bytes after the struct, got ${tail.length}`);
  const params = Array.from({ length: n }, (_, i) => decodeStruct(teeParam, tail.subarray(i * teeParam.size, (i + 1) * teeParam.size)));
  return { params, data: tail.subarray(size) };
}

/** Parameters, then bytes, back to back. */
function encodeTeeParams(params: readonly WireTeeParam[], data: readonly Uint8Array[]): Uint8Array {
  const n = params.length * teeParam.size + data.reduce((k, d) => k + d.length, 0);
  const out = new Uint8Array(n);
  params.forEach((p, i) => out.set(encodeStruct(teeParam, p), i * teeParam.size));
  let at = params.length * teeParam.size;
  for (const d of data) {
    out.set(d, at);
    at += d.length;
  }
  return out;
}

export interface TeeCallReply {
  readonly ret: number;
  readonly origin: number;
  readonly session: number;
  readonly params: WireTeeParam[];
  /** The output bytes of the normal world's memrefs, back to back. */
  readonly data: Uint8Array;
}

export function encodeTeeCallReply(r: Omit<TeeCallReply, 'data'>, data: readonly Uint8Array[]): Uint8Array {
  const head = encodeStruct(teeCallOut, { ret: r.ret, ret_origin: r.origin, session: r.session, num_params: r.params.length });
  const rest = encodeTeeParams(r.params, data);
  const out = new Uint8Array(head.length + rest.length);
  out.set(head);
  out.set(rest, head.length);
  return out;
}

/** A reply of OPEN_SESSION or INVOKE; RangeError when it is malformed. */
function decodeTeeCallReply(p: Uint8Array): TeeCallReply {
  if (p.length < teeCallOut.size) throw new RangeError(`a TEE call reply is at least ${teeCallOut.size} bytes, got ${p.length}`);
  const head = decodeStruct(teeCallOut, p.subarray(0, teeCallOut.size));
  const { params, data } = decodeTeeParams(p.subarray(teeCallOut.size), head.num_params, 'reply');
  return { ret: head.ret, origin: head.ret_origin, session: head.session, params, data };
}

// ---- a client's side of a call ----------------------------------------------------------------

export type TeeDirection = 'input' | 'output' | 'inout';

/**
 * A parameter of a TEE call, as libteec would pass it: a value, or a memory reference to shared
 * memory (`shm` null: a NULL memref). A memref of shared memory this client holds itself (from
 * teeShmAlloc or teeShmRegister) carries its bytes in `data` (exactly `size` of them); one of a
 * registered dma-buf carries none.
 */
export type TeeCallParam =
  | { readonly type: 'none' }
  | { readonly type: 'value'; readonly direction: TeeDirection; readonly a?: number | bigint; readonly b?: number | bigint; readonly c?: number | bigint }
  | { readonly type: 'memref'; readonly direction: TeeDirection; readonly shm: number | null; readonly offset?: number | bigint; readonly size: number | bigint; readonly data?: Uint8Array };

export interface TeeCallAnswer {
  /** TEEC_* return code and TEEC_ORIGIN_*. */
  readonly ret: number;
  readonly origin: number;
  /** OPEN_SESSION: the new session (0 when refused). */
  readonly session: number;
  /** The parameters as the driver copies them out: values of outputs, sizes of output memrefs. */
  readonly params: readonly WireTeeParam[];
  /** Per parameter, the bytes of an output or inout memref that carried `data`; else null. */
  readonly outputs: readonly (Uint8Array | null)[];
}


const TEE_ATTR: Readonly<Record<'value' | 'memref', Readonly<Record<TeeDirection, number>>>> = {
  value: { input: TeeParamAttr.VALUE_INPUT, output: TeeParamAttr.VALUE_OUTPUT, inout: TeeParamAttr.VALUE_INOUT },
  memref: { input: TeeParamAttr.MEMREF_INPUT, output: TeeParamAttr.MEMREF_OUTPUT, inout: TeeParamAttr.MEMREF_INOUT },
};

/** The wire parameters and travelling bytes of a call. */
export function encodeTeeCall(params: readonly TeeCallParam[]): Uint8Array {
  const wire = params.map((p): WireTeeParam => {
    if (p.type === 'none') return { attr: 0n, a: 0n, b: 0n, c: 0n };
    if (p.type === 'value') return { attr: BigInt(TEE_ATTR.value[p.direction]), a: BigInt(p.a ?? 0), b: BigInt(p.b ?? 0), c: BigInt(p.c ?? 0) };
    if (p.data && BigInt(p.data.length) !== BigInt(p.size)) throw new SmafError('EINVAL', `a memref of ${p.size} bytes carries ${p.data.length}`);
    return { attr: BigInt(TEE_ATTR.memref[p.direction]), a: BigInt(p.offset ?? 0), b: BigInt(p.size), c: p.shm === null ? TEE_MEMREF_NULL : BigInt(p.shm) };
  });
  return encodeTeeParams(wire, params.flatMap((p) => (p.type === 'memref' && p.data ? [p.data] : [])));
}

/** A TEE call's reply, the output bytes handed back to the parameters that carried data. */
export function decodeTeeAnswer(params: readonly TeeCallParam[], payload: Uint8Array): TeeCallAnswer {
  let r: ReturnType<typeof decodeTeeCallReply>;
  try {
    r = decodeTeeCallReply(payload);
  } catch (e) {
    throw new SmafError('EPROTO', `smafd sent a malformed TEE call reply: ${(e as Error).message}`, { cause: e });
  }
  let at = 0;
  const outputs = params.map((p) => {
    if (p.type !== 'memref' || !p.data || p.direction === 'input') return null;
    const bytes = r.data.slice(at, at + p.data.length);
    at += p.data.length;
    return bytes;
  });
  if (at !== r.data.length) throw new SmafError('EPROTO', `smafd sent ${r.data.length} output bytes for memrefs of ${at}`);
  return { ret: r.ret, origin: r.origin, session: r.session, params: r.params, outputs };
}
