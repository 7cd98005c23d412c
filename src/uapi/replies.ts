/**
 * The JSON the X_* ops answer: their TypeScript types and the zod schemas the client validates a
 * reply against (a bad daemon's reply is an error naming the op, not a crash later). Each schema is
 * declared as `z.ZodType<T>`, so the compiler checks that it yields every field its type promises.
 * The types of the core and the platform (Explanation, SelfCheckReport, SmafEvent, RegionStats) stay
 * theirs; the daemon's views (DaemonState, ProcessReport, HeapInfo, JournalEvent, ChromeTrace) are
 * wire types and live here.
 */
import { z } from 'zod';
import { Errno, type ErrnoName } from '../common/errors.ts';
import type { Candidate, Decision, Explanation, SelfCheckReport } from '../core/index.ts';
import type { RegionStats, SmafEvent } from '../platform/index.ts';
import { EVENT_KINDS, type EventPage } from './events.ts';

const int = z.number().int();
const num = z.number();
const str = z.string();
const bool = z.boolean();
const nullable = <T extends z.ZodType>(t: T) => t.nullable();
const opt = <T extends z.ZodType>(t: T) => t.optional();
const list = <T extends z.ZodType>(t: T) => z.array(t);
const record = z.record(str, z.unknown());

// ---- the platform's and the core's types ---------------------------------------------------

const teeEventSchema = z.looseObject({
  what: z.enum(['open-session', 'close-session', 'invoke', 'shm-register', 'shm-release']), uuid: opt(str), ta: opt(str), session: opt(int), shm: opt(int),
  command: opt(num), result: opt(num), origin: opt(int), durationUs: opt(num),
});
const eventFields = {
  seq: int, time: num, kind: z.enum(EVENT_KINDS), actor: str, buffer: opt(int), addr: opt(num), length: opt(num), durationUs: opt(num), message: str, tee: opt(teeEventSchema),
};
const smafEventSchema: z.ZodType<SmafEvent> = z.looseObject(eventFields);

const regionStatsFields = {
  name: str, kind: z.enum(['system', 'cma', 'carveout', 'secure-carveout', 'reserved']), base: num, size: num, capacity: num, inUse: num,
  peak: num, free: num, largestFree: num, fragmentation: num, allocations: int, failures: int, description: opt(str),
};

const candidateSchema: z.ZodType<Candidate> = z.looseObject({
  allocator: str, ranking: num, verdict: z.enum(['allocated', 'no-match', 'declined', 'rejected', 'not-asked']), reason: str,
});

const decisionSchema: z.ZodType<Decision> = z.looseObject({
  time: num, trigger: str, devices: list(str), secure: bool, outcome: z.enum(['allocated', 'failed']), allocator: opt(str), region: opt(str),
  segments: opt(int), candidates: list(candidateSchema), error: opt(str), elapsedUs: opt(num),
});

const explanationFields = {
  buffer: int, length: num, secure: bool, nameHint: nullable(str), label: nullable(str), allocated: bool, allocator: nullable(str),
  region: nullable(str), segments: list(z.looseObject({ phys: num, length: num })), segmentsTotal: int,
  attachments: list(z.looseObject({ id: int, device: str, mapped: bool, direction: nullable(z.enum(['bidirectional', 'to-device', 'from-device'])) })), cpuMappings: int, refs: int,
  released: opt(z.looseObject({ time: num })), history: opt(list(z.looseObject({ time: num, kind: str, actor: str, message: str }))),
  decisionsTotal: int, teeShm: opt(list(z.looseObject({ client: int, label: str, shm: int }))),
};
export const explanationSchema: z.ZodType<Explanation> = z.looseObject({ ...explanationFields, decisions: list(decisionSchema) });

export const selfCheckSchema: z.ZodType<SelfCheckReport> = z.looseObject({
  ok: bool, checks: list(z.looseObject({ name: str, ok: bool, detail: str })),
});

// ---- X_STATE -------------------------------------------------------------------------------

export interface RegionView extends RegionStats {
  /** Occupied ranges with their owner, to scale on the memory map (at most MAX_OCCUPANCY). */
  readonly occupancy: readonly { base: number; length: number; buffer: number; allocator: string; secure: boolean }[];
}

export interface BufferView extends Omit<Explanation, 'decisions'> {
  readonly holders: readonly string[];
  readonly createdAt: number;
  readonly decisions: number;
}

export interface ClientView {
  id: number;
  label: string;
  pid: number | null;
  comm: string | null;
  fds: number;
  buffers: number;
  bytes: number;
  requests: number;
  connectedAt: number;
}

export interface DaemonState {
  readonly time: number;
  /** `all`: the operator's view; `own`: only what the asking client holds. */
  readonly scope: 'all' | 'own';
  readonly platform: { name: string; pageSize: number };
  readonly regions: readonly RegionView[];
  readonly devices: readonly Record<string, unknown>[];
  readonly allocators: readonly Record<string, unknown>[];
  readonly secureModule: string | null;
  readonly firewall: string;
  /** One page of the visible buffers: `buffersTotal` in all, this page starts at `offset`. */
  readonly buffers: readonly BufferView[];
  readonly buffersTotal: number;
  readonly offset: number;
  readonly clients: readonly ClientView[];
  readonly limits: Record<string, number>;
  readonly limitUsage: readonly { option: string; used: number; limit: number; note?: string }[];
  readonly internalErrors: number;
  readonly events: readonly SmafEvent[];
  readonly eventCounts: Record<string, number>;
  readonly bus: Record<string, unknown>;
  readonly tokens: number;
}

const regionViewSchema: z.ZodType<RegionView> = z.looseObject({
  ...regionStatsFields,
  occupancy: list(z.looseObject({ base: num, length: num, buffer: int, allocator: str, secure: bool })),
});

const bufferViewSchema: z.ZodType<BufferView> = z.looseObject({ ...explanationFields, holders: list(str), createdAt: num, decisions: int });

const clientViewSchema: z.ZodType<ClientView> = z.looseObject({
  id: int, label: str, pid: nullable(int), comm: nullable(str), fds: int, buffers: int, bytes: num, requests: int, connectedAt: num,
});

export const daemonStateSchema: z.ZodType<DaemonState> = z.looseObject({
  time: num, scope: z.enum(['all', 'own']), platform: z.looseObject({ name: str, pageSize: int }), regions: list(regionViewSchema),
  devices: list(record), allocators: list(record), secureModule: nullable(str), firewall: str, buffers: list(bufferViewSchema),
  buffersTotal: int, offset: int, clients: list(clientViewSchema), limits: z.record(str, num),
  limitUsage: list(z.looseObject({ option: str, used: num, limit: num, note: opt(str) })), internalErrors: int,
  events: list(smafEventSchema), eventCounts: z.record(str, num), bus: record, tokens: int,
});

// ---- X_PS ----------------------------------------------------------------------------------

export interface ProcessBuffer {
  readonly buffer: number;
  readonly size: number;
  /** The DMA_BUF_SET_NAME name, if any. */
  readonly name: string | null;
  /** The allocator whose memory backs it, or null while the choice is deferred. */
  readonly allocator: string | null;
  /** The allocator asked for at create (the heap), if any. */
  readonly nameHint: string | null;
  readonly secure: boolean;
  /** The fds of this process that refer to it. */
  readonly fds: readonly number[];
  /** Whether this process has a CPU mapping of it (mmap). */
  readonly cpuMapped: boolean;
  /** Whether a device has it mapped for DMA now, and which devices (whoever mapped them). */
  readonly dmaMapped: boolean;
  readonly dmaDevices: readonly string[];
  /** How many processes hold it (1 = this one only). */
  readonly sharedBy: number;
  /** The TEE shared memory ids of this process that hold it (TEE_SHM_REGISTER_FD). */
  readonly teeShm?: readonly number[];
}

/** What a process holds in the TEE: contexts (opens of /dev/tee0), sessions, shared memory. */
export interface ProcessTee {
  readonly contexts: number;
  readonly sessions: readonly { readonly id: number; readonly uuid: string; readonly ta: string }[];
  readonly shm: readonly { readonly id: number; readonly kind: 'alloc' | 'registered' | 'dma-buf'; readonly size: number; readonly buffer: number | null }[];
}

export interface ProcessView {
  readonly client: number;
  readonly pid: number | null;
  readonly comm: string | null;
  readonly buffers: readonly ProcessBuffer[];
  /** Bytes of the distinct buffers this process holds; `cpuMappedBytes` of those it maps with the CPU. */
  readonly totals: { readonly buffers: number; readonly bytes: number; readonly cpuMappedBytes: number };
  readonly tee?: ProcessTee;
}

export interface ProcessReport {
  readonly processes: readonly ProcessView[];
  /** Distinct buffers held by any process, per allocator (`(deferred)` for no memory yet). */
  readonly allocators: readonly { readonly allocator: string; readonly buffers: number; readonly bytes: number }[];
  readonly total: { readonly buffers: number; readonly bytes: number };
}

const processBufferSchema: z.ZodType<ProcessBuffer> = z.looseObject({
  buffer: int, size: num, name: nullable(str), allocator: nullable(str), nameHint: nullable(str), secure: bool, fds: list(int), cpuMapped: bool,
  dmaMapped: bool, dmaDevices: list(str), sharedBy: int, teeShm: opt(list(int)),
});

const processTeeSchema: z.ZodType<ProcessTee> = z.looseObject({
  contexts: int,
  sessions: list(z.looseObject({ id: int, uuid: str, ta: str })),
  shm: list(z.looseObject({ id: int, kind: z.enum(['alloc', 'registered', 'dma-buf']), size: num, buffer: nullable(int) })),
});

export const processReportSchema: z.ZodType<ProcessReport> = z.looseObject({
  processes: list(z.looseObject({
    client: int, pid: nullable(int), comm: nullable(str), buffers: list(processBufferSchema),
    totals: z.looseObject({ buffers: int, bytes: num, cpuMappedBytes: num }), tee: opt(processTeeSchema),
  })),
  allocators: list(z.looseObject({ allocator: str, buffers: int, bytes: num })),
  total: z.looseObject({ buffers: int, bytes: num }),
});

// ---- X_HEAPS -------------------------------------------------------------------------------

/** X_NATIVE: how C programs reach smafd. */
export interface NativeStatus {
  /** The native socket (files travel with messages), or null without smafd's addon. */
  readonly socket: string | null;
  /** Whether a C program's mapping is the emulated memory itself (else: the copying path). */
  readonly zeroCopy: boolean;
  /** Why not, when not. */
  readonly reason: string | null;
  /** Buffers that have a file, and the files open on them. */
  readonly files: { readonly buffers: number; readonly open: number; readonly sharedBytes: number };
}

export const nativeStatusSchema: z.ZodType<NativeStatus> = z.looseObject({
  socket: nullable(str),
  zeroCopy: bool,
  reason: nullable(str),
  files: z.looseObject({ buffers: z.number(), open: z.number(), sharedBytes: z.number() }),
});

export interface HeapInfo {
  readonly name: string;
  /** The allocator asked for by name, or null for late choice. */
  readonly allocator: string | null;
  readonly secure: boolean;
  readonly description: string;
}

export const heapsSchema: z.ZodType<readonly HeapInfo[]> = list(z.looseObject({ name: str, allocator: nullable(str), secure: bool, description: str }));

// ---- X_DEVICES -----------------------------------------------------------------------------

/** A device's DMA mapping of one buffer, as `smaf devices` and the dashboard show it. */
export interface DeviceMapping {
  readonly buffer: number;
  readonly label: string | null;
  readonly attachment: number;
  readonly direction: 'bidirectional' | 'to-device' | 'from-device';
  readonly length: number;
  readonly secure: boolean;
  /** The addresses the device emits: IOVAs through its IOMMU, else physical; the first few, and how many in all. */
  readonly ranges: readonly { readonly start: number; readonly length: number }[];
  readonly rangesTotal: number;
  /** Secure buffers: the physical ranges the secure module granted this device at map (first few; how many). */
  readonly grants: readonly { readonly addr: number; readonly size: number }[];
  readonly grantsTotal: number;
  /** The clients holding the buffer (the operator's view only). */
  readonly holders: readonly string[];
}

export interface DeviceView {
  readonly name: string;
  readonly class: string;
  readonly description: string | null;
  readonly node: string | null;
  readonly dmaMask: number;
  readonly iommu: boolean;
  readonly secure: boolean;
  readonly maxSegmentSize: number;
  /** Behind an IOMMU: its IOVA window; the operator also sees how much is mapped and the largest free range. */
  readonly domain: { readonly size: number; readonly mappedBytes: number | null; readonly mappings: number | null; readonly largestFree: number | null } | null;
  readonly mappings: readonly DeviceMapping[];
  /** Mapped buffers in all (`mappings` lists the first ones). */
  readonly mappingsTotal: number;
  /** Bytes the device moved over the bus and its denials (the operator's view only). */
  readonly bus: { readonly bytesRead: number; readonly bytesWritten: number; readonly denials: number } | null;
}

export interface DevicesReport {
  /** `all`: every client's buffers (the operator); `own`: only the buffers the asking client holds. */
  readonly scope: 'all' | 'own';
  readonly devices: readonly DeviceView[];
}

const deviceMappingSchema: z.ZodType<DeviceMapping> = z.looseObject({
  buffer: int, label: nullable(str), attachment: int, direction: z.enum(['bidirectional', 'to-device', 'from-device']), length: num, secure: bool,
  ranges: list(z.looseObject({ start: num, length: num })), rangesTotal: int, grants: list(z.looseObject({ addr: num, size: num })), grantsTotal: int, holders: list(str),
});

export const devicesReportSchema: z.ZodType<DevicesReport> = z.looseObject({
  scope: z.enum(['all', 'own']),
  devices: list(z.looseObject({
    name: str, class: str, description: nullable(str), node: nullable(str), dmaMask: int, iommu: bool, secure: bool, maxSegmentSize: num,
    domain: nullable(z.looseObject({ size: num, mappedBytes: nullable(num), mappings: nullable(int), largestFree: nullable(num) })),
    mappings: list(deviceMappingSchema), mappingsTotal: int,
    bus: nullable(z.looseObject({ bytesRead: num, bytesWritten: num, denials: num })),
  })),
});

// ---- X_EVENTS ------------------------------------------------------------------------------

export interface JournalEvent extends SmafEvent {
  /** Microseconds since the epoch (high resolution: buffers of a pipeline live for milliseconds). */
  readonly us: number;
  /** The client whose request caused the event (absent: the daemon itself). */
  readonly client?: number;
  readonly clientLabel?: string;
  /** The client that created the buffer. */
  readonly owner?: number;
  readonly ownerLabel?: string;
  readonly size?: number;
  readonly region?: string;
  readonly allocator?: string;
  readonly secure?: boolean;
  /** allocate / allocate-failed: how long the allocators took, in microseconds. */
  readonly latencyUs?: number;
}

const journalEventSchema: z.ZodType<JournalEvent> = z.looseObject({
  ...eventFields, us: num, client: opt(int), clientLabel: opt(str), owner: opt(int), ownerLabel: opt(str), size: opt(num), region: opt(str),
  allocator: opt(str), secure: opt(bool), latencyUs: opt(num),
});

export const eventPageSchema: z.ZodType<EventPage<JournalEvent>> = z.looseObject({
  events: list(journalEventSchema), matched: int, more: bool, next: int, oldest: int,
});

// ---- X_TRACE -------------------------------------------------------------------------------

/** One event of the Trace Event Format (the fields used here). */
export interface TraceEvent {
  readonly name: string;
  readonly ph: 'X' | 'i' | 'b' | 'e' | 'C' | 'M';
  readonly pid: number;
  readonly tid: number;
  /** Microseconds from the start of the trace. */
  readonly ts?: number;
  readonly dur?: number;
  readonly cat?: string;
  readonly s?: 'g' | 'p' | 't';
  readonly id2?: { readonly local: string };
  readonly args?: Record<string, string | number | boolean>;
}

export interface ChromeTrace {
  readonly traceEvents: readonly TraceEvent[];
  readonly displayTimeUnit: 'ms';
  readonly otherData: Record<string, string | number>;
}

export const chromeTraceSchema: z.ZodType<ChromeTrace> = z.looseObject({
  traceEvents: list(z.looseObject({
    name: str, ph: z.enum(['X', 'i', 'b', 'e', 'C', 'M']), pid: int, tid: int, ts: opt(num), dur: opt(num), cat: opt(str),
    s: opt(z.enum(['g', 'p', 't'])), id2: opt(z.looseObject({ local: str })), args: opt(z.record(str, z.union([str, num, bool]))),
  })),
  displayTimeUnit: z.literal('ms'),
  otherData: z.record(str, z.union([str, num])),
});

// ---- X_RECORDING ---------------------------------------------------------------------------

/** What a recording holds besides the wire's ops: a client arrives, and goes (every fd it held closes). */
export const SESSION_OPS = ['CONNECT', 'DISCONNECT'] as const;
export type SessionOpName = (typeof SESSION_OPS)[number];

export type ArgValue = number | string;
export type RecordArgs = Readonly<Record<string, ArgValue>>;

/** One recorded operation (one line of a trace). */
export interface OpRecord {
  /** 1, 2, 3...: the order smafd answered the operations in. */
  readonly seq: number;
  /** Microseconds since the recording began (never decreasing). */
  readonly t: number;
  readonly client: number;
  /** An op of the op table, an ioctl of the ioctl table (by name), or CONNECT / DISCONNECT. */
  readonly op: string;
  /** The fd the request went to (-1: the device); absent for CONNECT and DISCONNECT. */
  readonly fd?: number;
  readonly args?: RecordArgs;
  /** The result (>= 0) of an operation that succeeded... */
  readonly result?: number;
  /** ...or the errno of one that failed, with its message. */
  readonly errno?: ErrnoName;
  readonly message?: string;
  /** The buffer the operation concerned: the fd's, or the one CREATE, DUP or IMPORT gave. */
  readonly buffer?: number;
  /** DMA_COPY's source buffer. */
  readonly src_buffer?: number;
  /** The fd SMAF_IOC_CREATE gave (DUP and IMPORT give theirs as their result). */
  readonly new_fd?: number;
  /** CONNECT: the client came on the operator's admin socket. */
  readonly admin?: boolean;
}

/** Why requests were left out of a recording, and how many. */
export interface Unrecorded {
  /** Op numbers neither table knows (answered ENOTTY). */
  readonly unknown: number;
  /** Requests whose payload did not decode (answered EINVAL before any handler ran). */
  readonly malformed: number;
  /** X_* ops: they show state and change nothing. */
  readonly introspection: number;
}

export const RECORDING_VERSION = 1;

/** What a recording says about itself (the trace's `smaf_recording`). */
export interface RecordingHeader {
  readonly version: typeof RECORDING_VERSION;
  /** The platform it was recorded on, as a platform document (the YAML platform format). */
  readonly platform: Readonly<Record<string, unknown>>;
  /** smafd's limits (LimitSettings), for a replay that enforces them too. */
  readonly limits?: Readonly<Record<string, number>>;
  /** Operations recorded. */
  readonly ops: number;
  /** Whether the recording holds every operation since smafd started. */
  readonly complete: boolean;
  /** Operations left out once the recording was full (`limit`). */
  readonly dropped: number;
  readonly limit: number;
  readonly unrecorded: Unrecorded;
  /** The recording's time 0, in microseconds since the epoch. */
  readonly origin_us: number;
}

/** One page of a recording (X_RECORDING). */
export interface RecordingPage {
  readonly header: RecordingHeader;
  readonly records: readonly OpRecord[];
  /** The index to ask for next (`records` came from [from, next)). */
  readonly next: number;
}

const recordSchema: z.ZodType<OpRecord> = z.looseObject({
  seq: int, t: num, client: int, op: str, fd: opt(int), args: opt(z.record(str, z.union([num, str]))),
  result: opt(int), errno: opt(z.enum(Object.keys(Errno) as [ErrnoName, ...ErrnoName[]])), message: opt(str), buffer: opt(int), src_buffer: opt(int),
  new_fd: opt(int), admin: opt(bool),
});

export const recordingPageSchema: z.ZodType<RecordingPage> = z.looseObject({
  header: z.looseObject({
    version: z.literal(RECORDING_VERSION), platform: record, limits: opt(z.record(str, num)), ops: int, complete: bool, dropped: int, limit: int,
    unrecorded: z.looseObject({ unknown: int, malformed: int, introspection: int }), origin_us: num,
  }),
  records: list(recordSchema),
  next: int,
});
