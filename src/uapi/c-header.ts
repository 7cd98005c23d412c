/**
 * native/smaf-wire.h, generated from the uapi tables (`npm run docs` writes it; test/c-header.test.ts
 * fails when the checked-in file differs). Every struct comes with _Static_asserts of its size and
 * offsets, so a C compiler that lays it out differently from the table refuses to build.
 *
 * Names: SMAF_OP_<op>; an op's request struct `struct smaf_<op>_in` and SMAF_<op>_SIZE (or
 * SMAF_<op>_HEADER when bytes follow it); its reply struct `struct smaf_<op>_out` (or the struct of
 * each entry) and SMAF_<op>_REPLY_SIZE; ioctl numbers under their kernel names with a SMAF_ prefix;
 * SMAF_<STRUCT>_<FIELD>_OFFSET for the ioctl struct fields the library rewrites.
 */
import { PROT_READ, PROT_WRITE, SMAF_CLOEXEC, SMAF_RDWR } from '../core/index.ts';
import { DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_VALID, DMA_BUF_SYNC_WRITE, IOCTLS, SMAF_NAME_LEN, type FieldDef, type StructDef } from './abi.ts';
import * as native from './native-abi.ts';
import * as tee from './tee-abi.ts';
import { COMM_LEN, DEVICE_NAME_LEN, DMA_BUF_NAME_LEN, OP_TABLE, TOKEN_LEN, type OpRow } from './ops.ts';
import { DEVICE_FD, MAX_FRAME, REQUEST_HEADER, RESPONSE_HEADER } from './wire.ts';

const C_TYPES = { u32: 'uint32_t', s32: 'int32_t', u64: 'uint64_t' } as const;
const hex = (n: number): string => `0x${n.toString(16).toUpperCase()}u`;
const define = (name: string, value: string | number, comment?: string): string => `#define ${name} ${value}${comment ? `  /* ${comment} */` : ''}`;
const section = (title: string): string => `\n/* ---- ${title} ${'-'.repeat(Math.max(4, 90 - title.length))} */`;

function cField(f: FieldDef): string {
  const decl = f.type === 'char' ? `char ${f.name}[${f.size}]` : f.type === 'bytes' ? `uint8_t ${f.name}[${f.size}]` : `${C_TYPES[f.type]} ${f.name}`;
  return `\t${decl};  /* ${f.role === 'reserved' ? 'reserved, ' : ''}${f.doc.replace(/\*\//g, '* /')} */`;
}

/** Every C name carries the smaf_ prefix (no clash with the kernel's struct dma_buf_sync). */
const cName = (s: StructDef): string => (s.name.startsWith('smaf_') ? s.name : `smaf_${s.name}`);

/** The struct, then asserts of its size and of every offset. */
function cStruct(def: StructDef): string {
  const s = { ...def, name: cName(def) };
  const attr = s.packed ? ' __attribute__((packed))' : '';
  const asserts = [
    `_Static_assert(sizeof(struct ${s.name}) == ${s.size}, "${s.name}: size");`,
    ...s.fields.map((f) => `_Static_assert(offsetof(struct ${s.name}, ${f.name}) == ${f.offset}, "${s.name}.${f.name}");`),
  ];
  return [`struct ${s.name} {`, ...s.fields.map(cField), `}${attr};`, ...asserts].join('\n');
}

/** An op's structs (each struct once in the header: `seen`) and sizes. */
function opLines(row: OpRow, seen: Set<StructDef>): string[] {
  const out: string[] = [];
  const once = (s: StructDef): void => {
    if (!seen.has(s)) out.push(cStruct(s));
    seen.add(s);
  };
  const q = row.request;
  if (q.kind === 'struct') {
    once(q.struct);
    out.push(define(`SMAF_${row.name}_${q.tail ? 'HEADER' : 'SIZE'}`, `${q.struct.size}u`, q.tail ? `then ${q.tail}` : q.optional ? 'or no payload' : undefined));
  }
  const r = row.reply;
  if (r.kind === 'struct' || r.kind === 'array') {
    once(r.struct);
    out.push(define(`SMAF_${row.name}_REPLY_SIZE`, `${r.struct.size}u`, r.kind === 'array' ? 'each of `result` entries' : undefined));
  }
  return out.length ? [`/* ${row.name}: ${row.doc} */`, ...out, ''] : [];
}

function ioctlSection(): string[] {
  const offsets = IOCTLS.flatMap((d) => d.struct.fields.filter((f) => f.role !== 'reserved')
    .map((f) => define(`${cName(d.struct).toUpperCase()}_${f.name.toUpperCase()}_OFFSET`, `${f.offset}u`)));
  return [
    section("/dev/smaf ioctls (magic 'S'), v8 ABI, and DMA_BUF_IOCTL_SYNC"),
    define('SMAF_IOC_MAGIC', "'S'"),
    ...IOCTLS.map((d) => define(d.name.startsWith('SMAF_') ? d.name : `SMAF_${d.name}`, hex(d.number), d.doc)),
    define('SMAF_RDWR', hex(SMAF_RDWR)),
    define('SMAF_CLOEXEC', hex(SMAF_CLOEXEC)),
    define('SMAF_NAME_LEN', `${SMAF_NAME_LEN}u`),
    define('SMAF_DMA_BUF_SYNC_READ', `${DMA_BUF_SYNC_READ}u`),
    define('SMAF_DMA_BUF_SYNC_WRITE', `${DMA_BUF_SYNC_WRITE}u`),
    define('SMAF_DMA_BUF_SYNC_END', `${DMA_BUF_SYNC_END}u`),
    define('SMAF_DMA_BUF_SYNC_RW', `${DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE}u`),
    define('SMAF_DMA_BUF_SYNC_VALID_FLAGS_MASK', `${DMA_BUF_SYNC_VALID}u`),
    '',
    ...[...new Set(IOCTLS.map((d) => d.struct))].map((s) => `${cStruct(s)}\n`),
    '/* offsets the library rewrites (fds travel as the daemon\'s numbers on the wire) */',
    ...offsets,
  ];
}

function nativeSection(): string[] {
  return [
    section('dma-buf, sync_file and dma-heap (the kernel\'s numbers, include/uapi/linux/dma-buf.h, sync_file.h, dma-heap.h)'),
    define('SMAF_DMA_BUF_BASE', "'b'"),
    define('SMAF_DMA_BUF_SET_NAME_A', hex(native.DMA_BUF_SET_NAME_A)),
    define('SMAF_DMA_BUF_SET_NAME_B', hex(native.DMA_BUF_SET_NAME_B)),
    define('SMAF_DMA_BUF_IOCTL_EXPORT_SYNC_FILE', hex(native.DMA_BUF_IOCTL_EXPORT_SYNC_FILE)),
    define('SMAF_DMA_BUF_IOCTL_IMPORT_SYNC_FILE', hex(native.DMA_BUF_IOCTL_IMPORT_SYNC_FILE)),
    define('SMAF_SYNC_IOC_MAGIC', "'>'"),
    define('SMAF_SYNC_IOC_MERGE', hex(native.SYNC_IOC_MERGE)),
    define('SMAF_SYNC_IOC_FILE_INFO', hex(native.SYNC_IOC_FILE_INFO)),
    define('SMAF_SYNC_IOC_SET_DEADLINE', hex(native.SYNC_IOC_SET_DEADLINE)),
    cStruct(native.syncMergeData),
    cStruct(native.syncFenceInfo),
    cStruct(native.syncFileInfo),
    cStruct(native.syncSetDeadline),
    define('SMAF_DMA_HEAP_IOC_MAGIC', "'H'"),
    define('SMAF_DMA_HEAP_IOCTL_ALLOC', hex(native.DMA_HEAP_IOCTL_ALLOC)),
    cStruct(native.dmaHeapAllocationData),
    section('what a dma-buf memfd carries (docs/c-programs.md)'),
    '/* A buffer of `length` bytes is a sealed memfd of length + SMAF_TOKEN_PAGE bytes named',
    ' * SMAF_MEMFD_BUFFER; the page after the data holds struct smaf_token_page. */',
    define('SMAF_TOKEN_PAGE', `${native.TOKEN_PAGE}u`),
    define('SMAF_TOKEN_MAGIC', JSON.stringify(native.TOKEN_MAGIC)),
    cStruct(native.smafTokenPage),
    '/* Zero-copy: smafd\'s OFD lock of this byte of a buffer\'s memfd: device work in flight (read',
    ' * lock: reads only; write lock: a write, or a sync file waited for). */',
    define('SMAF_BUSY_LOCK_OFFSET', hex(native.BUSY_LOCK_OFFSET)),
    define('SMAF_MEMFD_DEVICE', JSON.stringify(native.MEMFD_DEVICE)),
    define('SMAF_MEMFD_HEAP_PREFIX', JSON.stringify(native.MEMFD_HEAP_PREFIX)),
    define('SMAF_MEMFD_BUFFER', JSON.stringify(native.MEMFD_BUFFER)),
    define('SMAF_MEMFD_TEE', JSON.stringify(native.MEMFD_TEE)),
    define('SMAF_MEMFD_TEE_SHM', JSON.stringify(native.MEMFD_TEE_SHM)),
  ];
}

function teeSection(): string[] {
  const attrs = Object.entries(tee.TeeParamAttr).map(([k, v]) => define(`SMAF_TEE_PARAM_ATTR_${k}`, hex(v)));
  const flags = Object.entries(tee.TeeShmFlag).map(([k, v]) => define(`SMAF_TEE_SHM_${k}`, hex(v)));
  return [
    section('/dev/tee0: the TEE subsystem (linux/tee.h, OP-TEE\'s SHM_REGISTER_FD) and its ops (docs/tee.md)'),
    ...Object.entries(tee.TEE_IOCTLS).map(([k, v]) => define(`SMAF_${k}`, hex(v))),
    define('SMAF_TEE_IMPL_ID_OPTEE', `${tee.TEE_IMPL_ID_OPTEE}u`),
    define('SMAF_TEE_OPTEE_CAP_TZ', `${tee.TEE_OPTEE_CAP_TZ}u`),
    define('SMAF_TEE_GEN_CAPS', hex(tee.TEE_GEN_CAP_GP | tee.TEE_GEN_CAP_REG_MEM | tee.TEE_GEN_CAP_MEMREF_NULL), 'GP | REG_MEM | MEMREF_NULL'),
    define('SMAF_TEE_MEMREF_NULL', '0xFFFFFFFFFFFFFFFFull'),
    define('SMAF_TEE_MAX_ARG_SIZE', `${tee.TEE_MAX_ARG_SIZE}u`),
    define('SMAF_TEE_OPEN_SESSION_ARG', `${tee.TEE_OPEN_SESSION_ARG}u`, 'sizeof(struct tee_ioctl_open_session_arg)'),
    define('SMAF_TEE_INVOKE_ARG', `${tee.TEE_INVOKE_ARG}u`, 'sizeof(struct tee_ioctl_invoke_arg)'),
    ...attrs,
    ...flags,
    '',
    '/* the parameter block of TEE_OPEN_SESSION and TEE_INVOKE, and of their replies after struct smaf_tee_call_out */',
    cStruct(tee.teeParam),
    cStruct(tee.teeCallOut),
    '',
    cStruct(tee.teeIoctlShmRegisterFdData),
  ];
}

/** The whole header, byte for byte as checked in. */
export function cHeader(): string {
  const rows = OP_TABLE as readonly OpRow[];
  const seen = new Set<StructDef>();
  return [
    '/*',
    ' * smaf-wire.h: the C side of the smafd wire protocol and of the uapi structs the preload library',
    ' * speaks (docs/protocol.md). GENERATED from src/uapi by `npm run docs` (src/uapi/c-header.ts):',
    ' * do not edit; test/c-header.test.ts fails when this file is stale.',
    ' */',
    '#ifndef SMAF_WIRE_H',
    '#define SMAF_WIRE_H',
    '',
    '#include <stddef.h>',
    '#include <stdint.h>',
    section('frames (all little-endian)'),
    define('SMAF_WIRE_MAX_FRAME', `${MAX_FRAME}u`),
    define('SMAF_WIRE_REQUEST_HEADER', `${REQUEST_HEADER}u`, 'u32 request_id, u32 op, s32 fd (after the u32 length)'),
    define('SMAF_WIRE_RESPONSE_HEADER', `${RESPONSE_HEADER}u`, 'u32 request_id, s32 result'),
    define('SMAF_WIRE_DEVICE_FD', `(${DEVICE_FD})`),
    section('ops'),
    ...rows.map((r) => define(`SMAF_OP_${r.name}`, r.op >= 0x80 ? `0x${r.op.toString(16)}` : r.op)),
    section('op payloads (packed, little-endian)'),
    define('SMAF_COMM_LEN', `${COMM_LEN}u`),
    define('SMAF_DEVICE_NAME_LEN', `${DEVICE_NAME_LEN}u`),
    define('SMAF_TOKEN_LEN', `${TOKEN_LEN}u`, "EXPORT's answer, IMPORT's payload"),
    define('SMAF_DMA_BUF_NAME_LEN', `${DMA_BUF_NAME_LEN}u`),
    define('SMAF_PROT_READ', `${PROT_READ}u`),
    define('SMAF_PROT_WRITE', `${PROT_WRITE}u`),
    '',
    ...rows.flatMap((r) => opLines(r, seen)),
    ...ioctlSection(),
    ...nativeSection(),
    ...teeSection(),
    '',
    '#endif',
    '',
  ].join('\n');
}
