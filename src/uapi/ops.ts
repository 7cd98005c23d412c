/**
 * The op table: every wire op as one row (number, name, the fd it goes to, the request layout, the
 * reply layout, the JSON schema of an X_* reply). The daemon's dispatcher and handler table, the
 * client's methods, the fuzzer, docs/protocol.md and native/smaf-wire.h are all derived from it;
 * no offset of an op payload is written anywhere else. The ioctls have their own table (abi.ts).
 *
 * Adding an op: one row here, one handler in src/daemon/op-handlers.ts, `npm run docs` (README).
 */
import type { z } from 'zod';
import type { Explanation, SelfCheckReport } from '../core/index.ts';
import { struct, type StructDef } from './abi.ts';
import { eventsIn, type EventPage } from './events.ts';
import {
  TEE_CALL_REPLY, TEE_CALL_TAIL, teeCancelIn, teeCloseSessionIn, teeCtxIn, teeInvokeIn, teeOpenSessionIn, teeShmAllocIn, teeShmOut, teeShmRegisterFdIn,
  teeShmRegisterIn, teeShmReleaseIn, teeVersionOut,
} from './tee-abi.ts';
import {
  chromeTraceSchema, daemonStateSchema, devicesReportSchema, eventPageSchema, explanationSchema, heapsSchema, nativeStatusSchema, processReportSchema, recordingPageSchema, selfCheckSchema,
  type ChromeTrace, type DaemonState, type DevicesReport, type HeapInfo, type JournalEvent, type NativeStatus, type ProcessReport, type RecordingPage,
} from './replies.ts';

/** The fd an op goes to: the device (-1), one of the client's buffer fds, or either. */
export type OpTarget = 'device' | 'buffer' | 'either';

/** What a request carries after the header. */
export type RequestLayout =
  | { readonly kind: 'none' }
  /** Exactly the struct; `optional`: or nothing at all; `tail`: then any number of bytes (`data`). */
  | { readonly kind: 'struct'; readonly struct: StructDef; readonly optional?: true; readonly tail?: string };

/** What a reply carries after the result. */
export type ReplyLayout =
  | { readonly kind: 'none' }
  | { readonly kind: 'struct'; readonly struct: StructDef }
  /** `result` entries of the struct, back to back. */
  | { readonly kind: 'array'; readonly struct: StructDef }
  /** Raw bytes: `size` of them, or as many as the result says. */
  | { readonly kind: 'bytes'; readonly size?: number; readonly doc: string }
  /** UTF-8 JSON, validated by the client against the schema. */
  | { readonly kind: 'json'; readonly schema: z.ZodType<unknown>; readonly doc: string };

export interface OpRow {
  readonly op: number;
  readonly name: string;
  readonly target: OpTarget;
  readonly request: RequestLayout;
  /** What the result means (>= 0). */
  readonly result: string;
  readonly reply: ReplyLayout;
  /** Answered on the operator's admin socket only (EPERM elsewhere): what it shows. */
  readonly operator?: string;
  /** Errnos other than EPERM that come with the JSON reply (X_CHECK: EIO when a check fails). */
  readonly jsonOnError?: 'EIO';
  /**
   * A file that travels with the request (`in`) or the reply (`out`) as SCM_RIGHTS: only the native
   * socket carries files (elsewhere the op is EOPNOTSUPP). What it is.
   */
  readonly file?: { readonly in?: string; readonly out?: string };
  readonly doc: string;
}

const NONE = { kind: 'none' } as const;
const fields = <const S extends StructDef>(s: S) => ({ kind: 'struct', struct: s }) as const;
const json = <T>(schema: z.ZodType<T>, doc: string) => ({ kind: 'json', schema, doc }) as const;

/** SET_NAME's payload: the kernel's DMA_BUF_NAME_LEN, NUL included (so at most 31 name bytes). */
export const DMA_BUF_NAME_LEN = 32;
export const COMM_LEN = 64;
export const TOKEN_LEN = 16;
export const DEVICE_NAME_LEN = 64;

const u32 = <const N extends string>(name: N, doc: string) => ({ name, type: 'u32', role: 'in', doc }) as const;
const u64 = <const N extends string>(name: N, doc: string) => ({ name, type: 'u64', role: 'in', doc }) as const;
const attachmentIn = struct('smaf_attachment_in', 4, [u32('attachment', 'attachment id (from ATTACH)')]);
const mappingIn = struct('smaf_mapping_in', 4, [u32('mapping', 'mapping id (from MMAP)')]);

const heapName = { name: 'heap', type: 'char', size: 64, role: 'in', doc: 'the dma-heap it comes from (its exp_name), NUL-terminated; empty: none' } as const;
const fenceIn = struct('smaf_fence_in', 4, [u32('flags', 'DMA_BUF_SYNC_READ 1 and/or DMA_BUF_SYNC_WRITE 2')]);
export const SYNC_NAME_LEN = 32;
/** FENCE_INFO's entries: the sync file itself first, then each fence it holds. */
const fencePart = struct('smaf_fence_part', 48, [
  { name: 'status', type: 's32', role: 'out', doc: '1 signalled, 0 active (dma_fence_get_status)' },
  { name: 'id', type: 'u32', role: 'out', doc: 'entry 0: the sync file\'s id for FENCE_MERGE on this connection; 0 for its fences' },
  { name: 'timestamp_ns', type: 'u64', role: 'out', doc: 'when it signalled (CLOCK_MONOTONIC), 0 while active' },
  { name: 'name', type: 'char', size: SYNC_NAME_LEN, role: 'out', doc: 'entry 0: the sync file\'s name (sync_file_get_name); then each fence\'s timeline' },
]);
const fenceMergeIn = struct('smaf_fence_merge_in', 40, [
  u32('fence', 'the first sync file: its id from FENCE_INFO on this connection'),
  { name: 'reserved', type: 'u32', role: 'reserved', doc: 'must be 0' },
  { name: 'name', type: 'char', size: SYNC_NAME_LEN, role: 'in', doc: 'the new sync file\'s name (struct sync_merge_data.name)' },
]);

/** IDENTIFY's answer: what the kernel shows of a dma-buf in /proc/PID/fdinfo. */
export const EXP_NAME_LEN = 32;
const identifyOut = struct('smaf_identify_out', 88, [
  u64('size', 'bytes'),
  { name: 'buffer', type: 'u32', role: 'out', doc: 'buffer id' },
  { name: 'secure', type: 'u32', role: 'out', doc: '0 or 1' },
  { name: 'count', type: 'u32', role: 'out', doc: 'open files of the buffer (fdinfo count:)' },
  { name: 'mmap_errno', type: 'u32', role: 'out', doc: '0 when the CPU may map it, else how mmap fails (EPERM, EINVAL)' },
  { name: 'exp_name', type: 'char', size: EXP_NAME_LEN, role: 'out', doc: 'the exporter: smaf, or the heap' },
  { name: 'name', type: 'char', size: DMA_BUF_NAME_LEN, role: 'out', doc: 'DMA_BUF_SET_NAME, empty until set' },
]);

const helloIn = struct('smaf_hello_in', 72, [
  u32('pid', 'process id (self-declared, not verified)'),
  { name: 'reserved', type: 'u32', role: 'reserved', doc: 'must be 0' },
  { name: 'comm', type: 'char', size: COMM_LEN, role: 'in', doc: 'command name, NUL-terminated' },
]);

/** Records in one X_RECORDING page, at most (about 2 MiB of JSON). */
export const X_RECORDING_MAX_LIMIT = 10_000;

/** HELLO's payload size. */
export const HELLO_SIZE = helloIn.size;

/** Every op, in op number order. The `satisfies` keeps each row's literal types for the derived types. */
export const OP_TABLE = [
  { op: 1, name: 'CLOSE', target: 'buffer', request: NONE, result: '0', reply: NONE, doc: 'close the fd' },
  { op: 2, name: 'DUP', target: 'buffer', request: NONE, result: 'new fd', reply: NONE, doc: 'a second fd of the same buffer' },
  {
    op: 3, name: 'ATTACH', target: 'buffer', result: 'attachment id', reply: NONE, doc: 'attach a platform device to the buffer',
    request: fields(struct('smaf_attach_in', 64, [{ name: 'device', type: 'char', size: DEVICE_NAME_LEN, role: 'in', doc: 'device name, NUL-terminated' }])),
  },
  { op: 4, name: 'DETACH', target: 'buffer', request: fields(attachmentIn), result: '0', reply: NONE, doc: 'detach a device' },
  {
    op: 5, name: 'MAP', target: 'buffer', result: 'count of segments', doc: 'map the buffer for the device (allocates on first need)',
    request: fields(struct('smaf_map_in', 8, [u32('attachment', 'attachment id'), u32('direction', '0 bidirectional, 1 to device, 2 from device')])),
    reply: { kind: 'array', struct: struct('smaf_map_segment', 16, [u64('dma_addr', 'address the device uses'), u64('length', 'bytes')]) },
  },
  { op: 6, name: 'UNMAP', target: 'buffer', request: fields(attachmentIn), result: '0', reply: NONE, doc: 'unmap (the secure module revokes the grants)' },
  {
    op: 7, name: 'MMAP', target: 'buffer', result: 'mapping id', reply: NONE, doc: 'a CPU mapping of [offset, offset+length)',
    request: fields(struct('smaf_mmap_in', 20, [u64('offset', 'bytes into the buffer'), u64('length', 'bytes, > 0'), u32('prot', '1 read | 2 write')], { packed: true })),
  },
  { op: 8, name: 'MUNMAP', target: 'buffer', request: fields(mappingIn), result: '0', reply: NONE, doc: 'drop a CPU mapping' },
  {
    op: 9, name: 'READ', target: 'buffer', result: 'bytes read', reply: { kind: 'bytes', doc: 'the bytes' }, doc: 'read through a mapping',
    request: fields(struct('smaf_read_in', 16, [u32('mapping', 'mapping id'), u64('offset', 'bytes into the mapping'), u32('length', 'bytes to read')], { packed: true })),
  },
  {
    op: 10, name: 'WRITE', target: 'buffer', result: 'bytes written', reply: NONE, doc: 'write through a mapping',
    request: { kind: 'struct', struct: struct('smaf_write_in', 12, [u32('mapping', 'mapping id'), u64('offset', 'bytes into the mapping')], { packed: true }), tail: 'the bytes' },
  },
  { op: 11, name: 'EXPORT', target: 'buffer', request: NONE, result: '0', reply: { kind: 'bytes', size: TOKEN_LEN, doc: 'a 16-byte random token' }, doc: 'a token another client can IMPORT' },
  {
    op: 12, name: 'IMPORT', target: 'device', result: 'new fd', reply: NONE, doc: 'an fd of the buffer a token names',
    request: fields(struct('smaf_import_in', 16, [{ name: 'token', type: 'bytes', size: TOKEN_LEN, role: 'in', doc: 'the token EXPORT gave' }])),
  },
  {
    op: 13, name: 'STAT', target: 'buffer', request: NONE, result: '0', doc: 'size, state and allocator of the buffer',
    reply: fields(struct('smaf_stat_out', 80, [
      u64('size', 'bytes (page multiple)'), u32('allocated', '1 once it has memory'), u32('secure', '0 or 1'),
      { name: 'allocator', type: 'char', size: 64, role: 'out', doc: 'allocator name, NUL-terminated; empty while deferred' },
    ])),
  },
  {
    op: 14, name: 'DMA_COPY', target: 'buffer', result: 'bytes copied', reply: NONE, doc: 'the device of the attachments copies (fd = the destination buffer)',
    request: fields(struct('smaf_dma_copy_in', 40, [
      u32('dst_attachment', 'attachment of the destination (this fd)'), { name: 'src_fd', type: 's32', role: 'in', doc: 'source buffer fd' },
      u32('src_attachment', 'attachment of the source, same device'), u32('transform', '0 copy, 1 decrypt with the secure world\'s content key (a decrypter, into secure memory)'),
      u64('src_offset', 'bytes'), u64('dst_offset', 'bytes'), u64('length', 'bytes'),
    ])),
  },
  {
    op: 15, name: 'DMA_CRC', target: 'buffer', result: '0', doc: 'the device computes the CRC of a range (display CRC capture)',
    request: fields(struct('smaf_dma_crc_in', 24, [u32('attachment', 'attachment id'), { name: 'reserved', type: 'u32', role: 'reserved', doc: 'must be 0' }, u64('offset', 'bytes'), u64('length', 'bytes')])),
    reply: fields(struct('smaf_dma_crc_out', 4, [{ name: 'crc32', type: 'u32', role: 'out', doc: 'CRC-32 (IEEE) of the bytes' }])),
  },
  { op: 16, name: 'HELLO', target: 'device', request: fields(helloIn), result: '0', reply: NONE, doc: 'who this client says it is (shown by smaf info, ps and the dashboard; not verified)' },
  {
    op: 17, name: 'SET_NAME', target: 'buffer', result: '0', reply: NONE, doc: 'DMA_BUF_SET_NAME: the name shows in explain, state, ps, the dashboard and the event log',
    request: fields(struct('smaf_set_name_in', DMA_BUF_NAME_LEN, [{ name: 'name', type: 'char', size: DMA_BUF_NAME_LEN, role: 'in', doc: 'NUL-terminated, at most 31 bytes' }])),
  },
  {
    op: 18, name: 'GENERATION', target: 'buffer', request: NONE, reply: NONE, doc: 'unchanged = a CPU copy taken at that generation is still current',
    result: 'the write generation: WRITEs and DMA writes into the buffer so far, modulo 2^31',
  },
  // the TEE subsystem (/dev/tee0 of a preload library): docs/tee.md
  { op: 0x40, name: 'TEE_OPEN', target: 'device', request: NONE, result: 'TEE context id', reply: NONE, doc: 'open /dev/tee0: a TEE context' },
  { op: 0x41, name: 'TEE_VERSION', target: 'device', request: fields(teeCtxIn), result: '0', reply: fields(teeVersionOut), doc: 'TEE_IOC_VERSION' },
  { op: 0x42, name: 'TEE_CLOSE', target: 'device', request: fields(teeCtxIn), result: '0', reply: NONE, doc: 'close /dev/tee0: its sessions close; its shared memory stays until released' },
  {
    op: 0x43, name: 'TEE_SHM_ALLOC', target: 'device', request: fields(teeShmAllocIn), result: 'shm id', reply: fields(teeShmOut),
    doc: 'TEE_IOC_SHM_ALLOC: shared memory the client process holds (its bytes travel with each call)',
  },
  {
    op: 0x44, name: 'TEE_SHM_REGISTER', target: 'device', request: fields(teeShmRegisterIn), result: 'shm id', reply: fields(teeShmOut),
    doc: 'TEE_IOC_SHM_REGISTER: user memory of the client process (its bytes travel with each call)',
  },
  {
    op: 0x45, name: 'TEE_SHM_REGISTER_FD', target: 'either', request: fields(teeShmRegisterFdIn), result: 'shm id', reply: fields(teeShmOut),
    doc: 'TEE_IOC_SHM_REGISTER_FD: the dma-buf of fd, with a reference of its own (the fd may be closed); not a buffer fd: EINVAL',
  },
  { op: 0x46, name: 'TEE_SHM_RELEASE', target: 'device', request: fields(teeShmReleaseIn), result: '0', reply: NONE, doc: 'close a shm fd: the shared memory (and its dma-buf reference) goes' },
  {
    op: 0x47, name: 'TEE_OPEN_SESSION', target: 'device', result: 'bytes that follow', doc: 'TEE_IOC_OPEN_SESSION',
    request: { kind: 'struct', struct: teeOpenSessionIn, tail: TEE_CALL_TAIL }, reply: { kind: 'bytes', doc: TEE_CALL_REPLY },
  },
  {
    op: 0x48, name: 'TEE_INVOKE', target: 'device', result: 'bytes that follow', doc: 'TEE_IOC_INVOKE',
    request: { kind: 'struct', struct: teeInvokeIn, tail: TEE_CALL_TAIL }, reply: { kind: 'bytes', doc: TEE_CALL_REPLY },
  },
  { op: 0x49, name: 'TEE_CLOSE_SESSION', target: 'device', request: fields(teeCloseSessionIn), result: '0', reply: NONE, doc: 'TEE_IOC_CLOSE_SESSION' },
  { op: 0x4a, name: 'TEE_CANCEL', target: 'device', request: fields(teeCancelIn), result: '0', reply: NONE, doc: 'TEE_IOC_CANCEL' },
  {
    op: 19, name: 'ALLOCATE', target: 'buffer', result: '0', reply: NONE,
    doc: 'allocate the memory now, as a dma-heap does at DMA_HEAP_IOCTL_ALLOC (ENOMEM when it cannot); the heap becomes its exporter',
    request: fields(struct('smaf_allocate_in', 64, [heapName])),
  },
  {
    op: 20, name: 'FILE', target: 'buffer', result: '0', reply: NONE, file: { out: 'a new open file of the buffer: a memfd whose pages are its memory' },
    doc: 'the buffer as a file a C program maps; this fd becomes a handle that holds no reference (the open files do) and cannot be closed',
    request: fields(struct('smaf_file_in', 4, [u32('access', 'O_RDONLY 0, O_WRONLY 1 or O_RDWR 2: the access mode of the file')])),
  },
  {
    op: 21, name: 'IDENTIFY', target: 'device', result: 'the handle fd, or 0', file: { in: 'a file that may be one of smafd\'s dma-bufs' },
    doc: 'which buffer a file is (EINVAL if it is none of smafd\'s); with handle 1, a handle of it in this client',
    request: fields(struct('smaf_identify_in', 4, [u32('handle', '1: install (or reuse) a handle of the buffer in this client')])),
    reply: fields(identifyOut),
  },
  {
    op: 22, name: 'EXPORT_FENCE', target: 'buffer', result: '0', reply: NONE, request: fields(fenceIn),
    file: { out: 'a sync file: the read end of a pipe, readable once the device work the flags name is done' }, doc: 'DMA_BUF_IOCTL_EXPORT_SYNC_FILE',
  },
  {
    op: 23, name: 'IMPORT_FENCE', target: 'buffer', result: '0', reply: NONE, request: fields(fenceIn),
    file: { in: 'a sync file smafd made (any other file: EINVAL)' }, doc: 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE: device work on the buffer waits for it',
  },
  {
    op: 25, name: 'FENCE_INFO', target: 'device', result: 'entries (1 + the fences the sync file holds)', reply: { kind: 'array', struct: fencePart },
    request: NONE, file: { in: 'a sync file smafd made (any other file: ENOTTY, as SYNC_IOC_* on a file that is no sync file)' },
    doc: 'SYNC_IOC_FILE_INFO: a sync file\'s state and name, and its fences\'; an id for FENCE_MERGE',
  },
  {
    op: 26, name: 'FENCE_MERGE', target: 'device', result: '0', reply: NONE, request: fields(fenceMergeIn),
    file: { in: 'the second sync file (any other file: ENOENT, as sync_file_fdget)', out: 'the merged sync file: signalled once every fence of both is' },
    doc: 'SYNC_IOC_MERGE',
  },
  {
    op: 24, name: 'DMA_SCANOUT', target: 'buffer', result: 'bytes read', reply: NONE,
    doc: 'the device reads a range of its mapping (a display scanning a frame out): the firewall decides; nothing but the count comes back',
    request: fields(struct('smaf_dma_scanout_in', 24, [u32('attachment', 'attachment id'), { name: 'reserved', type: 'u32', role: 'reserved', doc: 'must be 0' }, u64('offset', 'bytes'), u64('length', 'bytes')])),
  },
  {
    op: 0x80, name: 'X_STATE', target: 'device', result: '0', doc: 'a client sees only the buffers it holds; the admin socket sees all (extension)',
    request: { kind: 'struct', optional: true, struct: struct('smaf_state_in', 8, [u32('offset', 'first buffer of the page'), u32('limit', 'buffers in the page, at most 500')]) },
    reply: json<DaemonState>(daemonStateSchema, 'platform, allocators, regions, one page of buffers, events'),
  },
  {
    op: 0x81, name: 'X_EXPLAIN', target: 'either', result: '0', doc: 'one buffer this client holds (else ENOENT), any on the admin socket (extension)',
    request: fields(struct('smaf_explain_in', 4, [u32('buffer', 'buffer id with fd -1; 0 with a buffer fd')])),
    reply: json<Explanation>(explanationSchema, 'the explanation of the buffer and its allocation decisions'),
  },
  {
    op: 0x82, name: 'X_CHECK', target: 'device', request: NONE, result: '0 when every invariant holds, else -EIO', jsonOnError: 'EIO',
    operator: 'X_CHECK (smaf doctor)', doc: 'the self-check (extension)',
    reply: json<SelfCheckReport>(selfCheckSchema, 'the checks and how close each limit is'),
  },
  {
    op: 0x83, name: 'X_EVENTS', target: 'device', request: fields(eventsIn), result: 'number of events',
    doc: 'filtered and paged over the whole journal; on the client socket, only the events of buffers this connection holds (extension)',
    reply: json<EventPage<JournalEvent>>(eventPageSchema, '{events, matched, more, next, oldest}'),
  },
  {
    op: 0x84, name: 'X_TRACE', target: 'device', result: '0', operator: 'X_TRACE (smaf trace export)', doc: 'the journal as a trace for ui.perfetto.dev (extension)',
    request: fields(struct('smaf_trace_in', 8, [u64('since', 'ms since the epoch; 0 = the whole journal')])),
    reply: json<ChromeTrace>(chromeTraceSchema, 'Chrome trace-event JSON of the journal'),
  },
  {
    op: 0x85, name: 'X_NATIVE', target: 'device', request: NONE, result: '0', doc: 'how C programs reach smafd: the native socket, zero-copy or why not (extension)',
    reply: json<NativeStatus>(nativeStatusSchema, '{socket, zeroCopy, reason, files}'),
  },
  {
    op: 0x88, name: 'X_PS', target: 'device', request: NONE, result: '0', operator: 'X_PS (smaf ps)', doc: 'per-process accounting (extension, operator)',
    reply: json<ProcessReport>(processReportSchema, 'every client process, the buffers it holds, totals per process and per allocator'),
  },
  {
    op: 0x89, name: 'X_HEAPS', target: 'device', request: NONE, result: '0', doc: 'the dma-heaps /dev/dma_heap shows (extension)',
    reply: json<readonly HeapInfo[]>(heapsSchema, 'name, allocator, secure, description of each heap'),
  },
  {
    op: 0x8a, name: 'X_DEVICES', target: 'device', request: NONE, result: '0',
    doc: 'each device and what it maps now; on the client socket, only the buffers this connection holds, and no IOMMU usage or bus counters (extension)',
    reply: json<DevicesReport>(devicesReportSchema, 'every device: constraints, IOMMU domain (IOVA window, mapped bytes, largest free range), each mapping (buffer, direction, DMA ranges, grants)'),
  },
  {
    op: 0x8b, name: 'X_RECORDING', target: 'device', result: 'number of records', operator: 'X_RECORDING (smaf trace export)',
    doc: 'the recording of every client\'s operations, a page at a time, for replay (docs/trace.md) (extension)',
    request: fields(struct('smaf_recording_in', 8, [u32('from', 'index of the first record'), u32('limit', `records in the page, 1..${X_RECORDING_MAX_LIMIT}`)])),
    reply: json<RecordingPage>(recordingPageSchema, '{header, records, next}'),
  },
] as const satisfies readonly OpRow[];

export type OpTableRow = (typeof OP_TABLE)[number];
export type OpName = OpTableRow['name'];
export type RowOf<K extends OpName> = Extract<OpTableRow, { name: K }>;

/** Op numbers by name (`Op.ATTACH`), derived from the table. */
export const Op = Object.fromEntries(OP_TABLE.map((r) => [r.name, r.op])) as { readonly [K in OpName]: RowOf<K>['op'] };

const byNumber = new Map<number, OpTableRow>(OP_TABLE.map((r) => [r.op, r]));
/** The row of an op number (ioctl numbers are not rows: see abi.ts). */
export function opRow(op: number): OpTableRow | undefined {
  return byNumber.get(op);
}

const byName = new Map<OpName, OpTableRow>(OP_TABLE.map((r) => [r.name, r]));
/** The row of an op name (typed: `opRowNamed('MAP').reply`); a map lookup, it is on every request. */
export function opRowNamed<K extends OpName>(name: K): RowOf<K> {
  return byName.get(name) as RowOf<K>; // the map holds each row under its own name
}
