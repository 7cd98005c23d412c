/**
 * How each recorded operation is applied to the in-process core: one row per op name of the op
 * table, the ioctl table and the session (CONNECT, DISCONNECT). A new op of the wire is one row
 * here (the type below does not compile without it); X_* introspection ops are never recorded and
 * have none. A row does what smafd's handler does (src/daemon/op-handlers.ts, ioctl-handlers.ts),
 * with the same checks and errnos; the fd the op goes to is checked before it, from the op's row
 * of the uapi tables. Ops that make something (an fd, an attachment, a mapping) leave it in
 * `call.made` and have `bind` (file it under the id the recording gave it) and `undo` (when the
 * recording says the op failed: the program never had it, so the replay gives it back at once).
 * Rows are functions defined once: nothing is allocated per operation that need not be.
 *
 * Not replayed: the bytes. A recording holds no buffer contents, so WRITE and READ are checked
 * (mapping, range, protection, secure) and move nothing; DMA_COPY and DMA_CRC run for real (the
 * firewall and the secure module decide on them), over whatever the replayed buffers hold.
 */
import { SmafError } from '../common/errors.ts';
import { printable } from '../common/printable.ts';
import { dmaCopySteps, dmaCrcSteps, dmaScanoutSteps, PROT_READ, PROT_WRITE, SMAF_RDWR, type Attachment, type CpuMapping, type DmaDirection, type SmafBuffer } from '../core/index.ts';
import { DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_VALID, DMA_BUF_SYNC_WRITE, type OpRecord, type RecordArgs, type RecordedOpName } from '../uapi/index.ts';
import type { BufferFuture, Policy } from './policy.ts';
import type { ReplayClient, ReplayFd, ReplayWorld } from './world.ts';

/** One operation being replayed (one object, reused from operation to operation). */
export interface ReplayCall {
  readonly w: ReplayWorld;
  readonly policy: Policy;
  readonly future: ReadonlyMap<number, BufferFuture>;
  c: ReplayClient;
  rec: OpRecord;
  args: RecordArgs;
  /** The fd's entry, for an op on a buffer fd. */
  entry: ReplayFd | undefined;
  /** What the operation made, for its row's `bind` or `undo`. */
  made: unknown;
}

export interface ReplayRow {
  /** Apply the operation: its result, or a SmafError as smafd would answer. */
  readonly apply: (call: ReplayCall) => number;
  /** Not replayed, and why: its recorded outcome stands (the replay counts it). */
  readonly notReplayed?: string;
  /** The recording says it succeeded: file what it made under the ids the recording gave. */
  readonly bind?: (call: ReplayCall) => void;
  /** The recording says it failed: give back what it made. */
  readonly undo?: (call: ReplayCall) => void;
}

/** A row of an op that makes a T (left in call.made by apply). */
function makes<T>(row: { apply: (call: ReplayCall) => number; bind: (call: ReplayCall, made: T) => void; undo: (call: ReplayCall, made: T) => void }): ReplayRow {
  return { apply: row.apply, bind: (call) => row.bind(call, call.made as T), undo: (call) => row.undo(call, call.made as T) };
}

export type ReplayedOpName = Exclude<RecordedOpName, `X_${string}`>;

const num = (a: RecordArgs, k: string): number => a[k] as number;
/** A u64 argument as smafd reads it: EINVAL past 2^53 (recorded as a decimal string). */
function safe(a: RecordArgs, k: string, what = k): number {
  const v = a[k];
  if (typeof v !== 'number') throw new SmafError('EINVAL', `${what} ${String(v)} is out of range`);
  return v;
}
const u64 = (a: RecordArgs, k: string): bigint => BigInt(a[k]!);
/** A u64 argument as a number when it is one (the common case, no bigint), else as a bigint. */
const length = (a: RecordArgs, k: string): number | bigint => (typeof a[k] === 'number' ? (a[k] as number) : BigInt(a[k]!));

function entry(call: ReplayCall): ReplayFd {
  return call.entry!; // the engine found the fd before the row runs (EBADF otherwise)
}

/** A new reference of a buffer, checked against the fd limits (dropped when refused). */
function newRef(call: ReplayCall, buf: SmafBuffer, result: number): number {
  try {
    call.w.checkFds(call.c);
  } catch (e) {
    buf.put();
    throw e;
  }
  call.made = buf;
  return result;
}

/** Rows that make an fd: filed under the number the recording gave (`fdOf`), or the reference dropped. */
function makesFd(apply: (call: ReplayCall) => number, fdOf: (rec: OpRecord) => number | undefined): ReplayRow {
  return makes<SmafBuffer>({
    apply,
    // a caller struct too short for the fd: filed where nothing finds it
    bind: ({ w, c, rec }, buf) => w.install(c, fdOf(rec) ?? -rec.seq, buf, rec.buffer),
    undo: (_call, buf) => buf.put(),
  });
}

function runSteps(steps: Generator<void, number>): number {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

function syncMode(flags: bigint): 'read' | 'write' | 'read-write' {
  if ((flags & ~DMA_BUF_SYNC_VALID) !== 0n || (flags & (DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE)) === 0n) {
    throw new SmafError('EINVAL', `DMA_BUF_IOCTL_SYNC: invalid flags 0x${flags.toString(16)} (READ 1 and/or WRITE 2, START 0 or END 4)`);
  }
  return (flags & 3n) === 3n ? 'read-write' : (flags & 1n) === 1n ? 'read' : 'write';
}

/** The ioctls of /dev/smaf and dma-buf. */
const ioctlRows = {
  SMAF_IOC_CREATE: makesFd((call) => {
    const { w, c, args, rec } = call;
    const n = length(args, 'length');
    w.checkCreate(c, n);
    const name = args.name as string;
    const buf = call.policy.create(w.smaf, n, num(args, 'flags'), name || undefined, rec.buffer !== undefined ? call.future.get(rec.buffer) : undefined);
    return newRef(call, buf, 0);
  }, (rec) => rec.new_fd),
  SMAF_IOC_GET_SECURE_FLAG: { apply: ({ w, c, args }) => (w.entry(c, num(args, 'fd')), 0) },
  SMAF_IOC_SET_SECURE_FLAG: {
    apply: ({ w, c, args }) => {
      const e = w.entry(c, num(args, 'fd'));
      const secure = num(args, 'secure');
      if (secure !== 0 && secure !== 1) throw new SmafError('EINVAL', `SMAF_IOC_SET_SECURE_FLAG: secure must be 0 or 1, got ${secure}`);
      e.buffer.setSecure(secure === 1);
      return 0;
    },
  },
  SMAF_IOC_GET_INFO: {
    apply: ({ w, args }) => {
      const n = w.smaf.registry.allocators.length;
      if (num(args, 'index') >= n) throw new SmafError('EINVAL', `SMAF_IOC_GET_INFO: index ${num(args, 'index')} out of range (${n} allocators)`);
      return 0;
    },
  },
  DMA_BUF_IOCTL_SYNC: {
    apply: (call) => {
      const { c, args } = call;
      const { buffer } = entry(call);
      const flags = u64(args, 'flags');
      const mode = syncMode(flags);
      const depth = c.cpuAccess.get(buffer) ?? 0;
      if ((flags & DMA_BUF_SYNC_END) !== 0n) {
        if (depth === 0) return 0; // the kernel does not pair START and END: an END without START is 0
        buffer.endCpuAccess(mode);
        if (depth === 1) c.cpuAccess.delete(buffer);
        else c.cpuAccess.set(buffer, depth - 1);
        return 0;
      }
      buffer.beginCpuAccess(mode);
      c.cpuAccess.set(buffer, depth + 1);
      call.made = { buffer, mode, depth };
      return 0;
    },
    undo: ({ c, made }) => {
      const { buffer, mode, depth } = made as { buffer: SmafBuffer; mode: 'read' | 'write' | 'read-write'; depth: number };
      buffer.endCpuAccess(mode);
      if (depth === 0) c.cpuAccess.delete(buffer);
      else c.cpuAccess.set(buffer, depth);
    },
  },
} satisfies Record<string, ReplayRow>;

/** Ops on a buffer fd: references, devices, names. */
const bufferRows = {
  CLOSE: {
    apply: (call) => {
      const e = entry(call);
      if (e.handle) throw new SmafError('EINVAL', `fd ${e.fd} is a handle of buffer ${e.buffer.id}: it lives as long as the buffer's files (close those)`);
      call.w.closeFd(call.c, e);
      return 0;
    },
  },
  DUP: makesFd((call) => newRef(call, entry(call).buffer.get(), call.rec.result ?? 0), (rec) => rec.result),
  ATTACH: makes<Attachment>({
    apply: (call) => {
      const { w, c, args, rec } = call;
      const e = entry(call);
      w.checkAttachments(c, e);
      const device = w.platform.device(args.device as string);
      call.policy.attaching(e.buffer, device);
      const att = e.buffer.attach(device);
      call.made = att;
      return rec.result ?? att.id;
    },
    bind: (call, att) => void entry(call).attachments.set(call.rec.result!, att),
    undo: (call, att) => entry(call).buffer.detach(att),
  }),
  DETACH: {
    apply: (call) => {
      const e = entry(call);
      const id = num(call.args, 'attachment');
      e.buffer.detach(call.w.attachment(call.c, e, id));
      e.attachments.delete(id);
      return 0;
    },
  },
  MAP: {
    apply: (call) => {
      const { w, c, args } = call;
      const e = entry(call);
      const att = w.attachment(c, e, num(args, 'attachment'));
      const dir = num(args, 'direction');
      if (dir > 2) throw new SmafError('EINVAL', `invalid direction ${dir} (0 bidirectional, 1 to device, 2 from device)`);
      if (e.buffer.secure) w.checkSecureMaps(c, e.buffer);
      const n = e.buffer.map(att, dir as DmaDirection).length;
      call.made = att;
      return n;
    },
    undo: (call) => entry(call).buffer.unmap(call.made as Attachment),
  },
  UNMAP: { apply: (call) => (entry(call).buffer.unmap(call.w.attachment(call.c, entry(call), num(call.args, 'attachment'))), 0) },
  SET_NAME: { apply: (call) => (entry(call).buffer.setLabel(printable(call.args.name as string, 'line')), 0) },
  GENERATION: { apply: () => 0 },
  STAT: { apply: () => 0 },
  EXPORT: {
    apply: (call) => {
      const buf = entry(call).buffer;
      buf.markShared();
      call.w.exported.add(buf);
      return 0;
    },
  },
} satisfies Record<string, ReplayRow>;

/** CPU mappings, the CPU's reads and writes, and DMA by a device. */
const ioRows = {
  MMAP: makes<CpuMapping>({
    apply: (call) => {
      const { w, c, args, rec } = call;
      const e = entry(call);
      const offset = u64(args, 'offset');
      const bytes = u64(args, 'length');
      w.checkMappings(c, e); // the per-fd mapping limit first, as smafd (and the kernel's vma limit)
      // a protected heap's buffers have no mmap at all (as the kernel's TEE heaps): EINVAL, not EPERM
      const heap = w.exporters.get(e.buffer);
      if (e.buffer.secure && heap !== undefined) throw new SmafError('EINVAL', `buffer ${e.buffer.id} comes from the protected heap ${heap}, which has no mmap`);
      if (bytes === 0n || offset + bytes > BigInt(e.buffer.length)) throw new SmafError('EINVAL', `cannot map ${offset}+${bytes} of a ${e.buffer.length}-byte buffer`);
      const m = e.buffer.mmap(Number(offset), Number(bytes), num(args, 'prot'));
      call.made = m;
      return rec.result ?? m.id;
    },
    bind: (call, m) => void entry(call).mappings.set(call.rec.result!, m),
    undo: (call, m) => entry(call).buffer.munmap(m),
  }),
  MUNMAP: {
    apply: (call) => {
      const e = entry(call);
      const id = num(call.args, 'mapping');
      e.buffer.munmap(call.w.mapping(call.c, e, id));
      e.mappings.delete(id);
      return 0;
    },
  },
  READ: {
    apply: (call) => {
      const { w, c, args } = call;
      const e = entry(call);
      const m = w.mapping(c, e, num(args, 'mapping'));
      const length = num(args, 'length');
      const max = w.limits.maxIo;
      if (max !== undefined && length > max) throw new SmafError('EINVAL', `READ of ${length} bytes is over the ${max}-byte limit of one request`);
      m.check(safe(args, 'offset'), length, PROT_READ);
      return length;
    },
  },
  WRITE: {
    apply: (call) => {
      const e = entry(call);
      const m = call.w.mapping(call.c, e, num(call.args, 'mapping'));
      const length = safe(call.args, 'length');
      m.check(safe(call.args, 'offset'), length, PROT_WRITE);
      return length;
    },
  },
  DMA_COPY: {
    apply: (call) => {
      const { w, c, args } = call;
      const dst = w.attachment(c, entry(call), num(args, 'dst_attachment'));
      const src = w.attachment(c, w.entry(c, num(args, 'src_fd')), num(args, 'src_attachment'));
      return runSteps(dmaCopySteps(dst, safe(args, 'dst_offset'), src, safe(args, 'src_offset'), safe(args, 'length'), num(args, 'transform'), c.principal));
    },
  },
  DMA_SCANOUT: {
    apply: (call) => {
      const { w, c, args } = call;
      const att = w.attachment(c, entry(call), num(args, 'attachment'));
      return runSteps(dmaScanoutSteps(att, safe(args, 'offset'), safe(args, 'length')));
    },
  },
  DMA_CRC: {
    apply: (call) => {
      const { w, c, args } = call;
      const att = w.attachment(c, entry(call), num(args, 'attachment'));
      runSteps(dmaCrcSteps(att, safe(args, 'offset'), safe(args, 'length'), c.principal));
      return 0;
    },
  },
} satisfies Record<string, ReplayRow>;

/** A C program's dma-bufs (file-ops.ts): a heap's allocation at ALLOC, files, sync files. */
const fileRows = {
  ALLOCATE: {
    apply: (call) => {
      const buf = entry(call).buffer;
      const heap = call.args.heap as string;
      if (heap) call.w.exporters.set(buf, heap); // the heap is its exporter (fdinfo's exp_name), even if it cannot supply the memory
      try {
        buf.allocate(heap ? `alloc from heap ${heap}` : 'alloc');
      } catch (e) {
        // a heap that cannot supply the memory fails the ALLOC with ENOMEM, whatever the reason
        if (heap && e instanceof SmafError && (e.code === 'ENODEV' || e.code === 'ENOMEM')) throw new SmafError('ENOMEM', `heap ${heap} cannot supply ${buf.length} bytes: ${e.message}`);
        throw e;
      }
      return 0;
    },
  },
  // the files hold a reference from now on, and the fd is a handle (world.ts), once the recording says the program got the file
  FILE: makes<ReplayFd>({
    apply: (call) => {
      const e = entry(call);
      const access = num(call.args, 'access');
      if (access > 2) throw new SmafError('EINVAL', `FILE: access ${access} is none of O_RDONLY 0, O_WRONLY 1, O_RDWR 2`);
      if (access !== 0 && (e.buffer.flags & SMAF_RDWR) === 0) throw new SmafError('EACCES', `FILE: buffer ${e.buffer.id} was created read-only (no O_RDWR): its files cannot be writable`);
      call.made = e;
      return 0;
    },
    bind: (call, e) => call.w.handOut(call.c, e),
    undo: () => undefined,
  }),
  IDENTIFY: makes<SmafBuffer | null>({
    apply: (call) => {
      const { w, c, args, rec } = call;
      const handle = num(args, 'handle');
      if (handle > 1) throw new SmafError('EINVAL', `IDENTIFY: handle must be 0 or 1, got ${handle}`);
      // the file is the buffer the recording names; smafd knows it while the buffer's files are open
      const buf = rec.buffer !== undefined ? w.buffers.get(rec.buffer) : undefined;
      if (!buf || buf.released || !w.files.has(buf)) throw new SmafError('EINVAL', 'IDENTIFY: the file is not a dma-buf of smafd');
      call.made = null;
      if (handle === 0) return 0;
      const existing = c.handleOf(buf);
      if (existing) return existing.fd;
      w.checkFds(c);
      call.made = buf;
      return rec.result ?? 0;
    },
    bind: ({ w, c, rec }, buf) => {
      if (buf) w.installHandle(c, rec.result!, buf, rec.buffer);
    },
    undo: () => undefined,
  }),
  EXPORT_FENCE: { apply: (call) => (entry(call), fenceFlags(call, 'EXPORT_SYNC_FILE'), 0) },
  IMPORT_FENCE: { apply: (call) => (entry(call), fenceFlags(call, 'IMPORT_SYNC_FILE'), 0) },
  FENCE_INFO: { apply: () => 0, notReplayed: 'a sync file\'s state: it depends on when device work ended, and sync files hold no memory' },
  FENCE_MERGE: { apply: () => 0, notReplayed: 'a merge of sync files: they hold no memory, and the replay has none of them' },
} satisfies Record<string, ReplayRow>;

/** A sync file's flags, as fences.ts checks them (the sync files themselves are not replayed: they hold no memory). */
function fenceFlags(call: ReplayCall, what: string): void {
  const flags = num(call.args, 'flags');
  if ((flags & ~3) !== 0 || (flags & 3) === 0) throw new SmafError('EINVAL', `${what}: invalid flags 0x${flags.toString(16)} (DMA_BUF_SYNC_READ 1 and/or DMA_BUF_SYNC_WRITE 2)`);
}

/** Ops on the device, and the clients' arrivals and departures. */
const deviceRows = {
  IMPORT: makesFd((call) => {
    const { w, rec } = call;
    const buf = rec.buffer !== undefined ? w.buffers.get(rec.buffer) : undefined;
    if (!buf || buf.released || !w.exported.has(buf)) throw new SmafError('ENOENT', 'unknown token, or its buffer has been released');
    return newRef(call, buf.get(), rec.result ?? 0);
  }, (rec) => rec.result),
  HELLO: {
    apply: ({ c, args }) => {
      c.comm = printable(args.comm as string, 'line');
      c.pid = num(args, 'pid');
      return 0;
    },
  },
  CONNECT: { apply: ({ c, rec }) => ((c.native = rec.native === true), 0) },
  DISCONNECT: { apply: ({ w, c }) => (w.disconnect(c), 0) },
} satisfies Record<string, ReplayRow>;

/** What smafd does on its own (client 0). */
const daemonRows = {
  // the last open file of a buffer was closed somewhere: the files' reference goes (the buffer may go with it, its handles too)
  FILES_CLOSED: {
    apply: ({ w, rec }) => {
      const buf = rec.buffer !== undefined ? w.buffers.get(rec.buffer) : undefined;
      if (buf) w.filesClosed(buf, rec.buffer);
      return 0;
    },
  },
} satisfies Record<string, ReplayRow>;

/** A TEE call: the TA's behaviour needs its parameters and memrefs' bytes, which no recording holds. */
const teeCall: ReplayRow = { apply: () => 0, notReplayed: 'a TEE call: its parameters and the bytes of its memrefs are not recorded, so the TA cannot run again' };

/** What a shm op checks before it makes shared memory (as smafd's TeeClient: context, then flags). */
function shmCheck(call: ReplayCall, what: string): void {
  call.w.teeContext(call.c, num(call.args, 'ctx'), what);
  if (num(call.args, 'flags') !== 0) throw new SmafError('EINVAL', `${what}: flags must be 0 on input, got 0x${num(call.args, 'flags').toString(16)}`);
}

/** User shared memory (its bytes travel with each call: no SMAF memory): its size checked, its id filed. */
function userShm(what: string, sizeArg: string): ReplayRow {
  return {
    apply: (call) => {
      shmCheck(call, what);
      const size = u64(call.args, sizeArg);
      if (size === 0n) throw new SmafError('EINVAL', `${what}: size 0`);
      if (size > 256n * 1024n * 1024n) throw new SmafError('ENOMEM', `${what}: ${size} bytes is more than one shared memory of the client may have`);
      return call.rec.result ?? 0;
    },
    bind: ({ c, rec, args }) => void c.teeShms.set(rec.result!, { ctx: num(args, 'ctx') }),
  };
}

/**
 * The TEE subsystem (docs/tee.md) as far as it touches SMAF memory: contexts, shared memory, and a
 * dma-buf registered with the TEE, which gets its memory then and is held until released. Sessions
 * and calls are not replayed.
 */
const teeRows = {
  TEE_OPEN: { apply: (call) => call.rec.result ?? 0, bind: ({ c, rec }) => void c.teeContexts.add(rec.result!) },
  TEE_VERSION: { apply: (call) => (call.w.teeContext(call.c, num(call.args, 'ctx'), 'TEE_VERSION'), 0) },
  TEE_CLOSE: { apply: (call) => (call.w.teeContext(call.c, num(call.args, 'ctx'), 'TEE_CLOSE'), call.c.teeContexts.delete(num(call.args, 'ctx')), 0) },
  TEE_SHM_ALLOC: userShm('TEE_SHM_ALLOC', 'size'),
  TEE_SHM_REGISTER: userShm('TEE_SHM_REGISTER', 'length'),
  TEE_SHM_REGISTER_FD: makes<SmafBuffer>({
    apply: (call) => {
      const { c, rec } = call;
      // the kernel answers EINVAL for anything that is not a dma-buf, a bad fd included
      const e = rec.fd === -1 ? undefined : c.fds.get(rec.fd!);
      if (!e) throw new SmafError('EINVAL', `TEE_SHM_REGISTER_FD: fd ${rec.fd} is not a dma-buf`);
      shmCheck(call, 'TEE_SHM_REGISTER_FD');
      try {
        e.buffer.allocate(`registered with the TEE by ${c.label}`);
        e.buffer.get();
      } catch (err) {
        throw new SmafError('EINVAL', `TEE_SHM_REGISTER_FD: buffer ${e.buffer.id} cannot be registered: ${(err as Error).message}`);
      }
      call.made = e.buffer;
      return rec.result ?? 0;
    },
    bind: ({ c, rec, args }, buf) => void c.teeShms.set(rec.result!, { ctx: num(args, 'ctx'), buffer: buf }),
    undo: (_call, buf) => buf.put(),
  }),
  TEE_SHM_RELEASE: { apply: (call) => (call.w.releaseShm(call.c, num(call.args, 'shm')), 0) },
  TEE_OPEN_SESSION: teeCall,
  TEE_INVOKE: teeCall,
  TEE_CLOSE_SESSION: teeCall,
  TEE_CANCEL: teeCall,
} satisfies Record<string, ReplayRow>;

/** Every recorded operation's row. */
export const REPLAY_OPS: { readonly [K in ReplayedOpName]: ReplayRow } = { ...ioctlRows, ...bufferRows, ...ioRows, ...fileRows, ...deviceRows, ...daemonRows, ...teeRows };
