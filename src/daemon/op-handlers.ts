/**
 * The handler of every wire op, keyed by the op's name in the table (src/uapi/ops.ts). The
 * dispatcher (`runOp`) decodes the request from the row, checks the fd the row asks for, calls
 * the handler and encodes its reply from the row: a handler only acts.
 */
import { Errno, SmafError } from '../common/errors.ts';
import { printable } from '../common/printable.ts';
import { DMA_SLICE, dmaCopySteps, dmaCrcSteps, dmaScanoutSteps, explain, PROT_READ, PROT_WRITE, type CpuMapping, type DmaDirection } from '../core/index.ts';
import {
  decodeName, decodeOpRequest, DEVICE_FD, DMA_BUF_NAME_LEN, encodeName, encodeOpReply, eventQueryFrom, MAX_FRAME, RESPONSE_HEADER,
  opRowNamed, X_RECORDING_MAX_LIMIT, type HandlerReply, type OpName, type OpTableRow, type Request, type RowOf,
} from '../uapi/index.ts';
import { fileOps } from './file-ops.ts';
import { traceOf } from './operator-ops.ts';
import { isEncoded, isSliced, isStreamed, mapWork, type Encoded, type HandlerSession, type IntrospectionOp, type OpHandlers, type Outcome, type Streamed, type Work } from './op-types.ts';
import { eventPageJson } from './journal.ts';
import { processes } from './processes.ts';
import { snapshotJson } from './state.ts';
import { teeOps } from './tee-ops.ts';

/** [offset, offset+length) of a CPU mapping, streamed one slice at a time: never held whole. */
function readStream(m: CpuMapping, offset: number, length: number): Streamed {
  function* chunks(): Generator<Uint8Array, void> {
    for (let done = 0; done < length; done += DMA_SLICE) yield m.read(offset + done, Math.min(DMA_SLICE, length - done));
  }
  return { streamed: true, result: length, length, chunks: chunks() };
}

function* writeSteps(m: CpuMapping, offset: number, data: Uint8Array): Generator<void, { result: number }> {
  for (let done = 0; done < data.length; done += DMA_SLICE) {
    if (done > 0) yield;
    m.write(offset + done, data.subarray(done, done + DMA_SLICE));
  }
  return { result: data.length };
}

/** A u64 from the wire as a safe JS number, or EINVAL naming the field. */
function safe(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SmafError('EINVAL', `${what} ${v} is out of range`);
  return Number(v);
}

/** A NUL-terminated name field, or EINVAL saying what is wrong with it. */
function name(bytes: Uint8Array, what: string, note = ''): string {
  try {
    return decodeName(bytes);
  } catch (e) {
    throw new SmafError('EINVAL', `${what}${(e as Error).message}${note}`);
  }
}

/** Ops on the device (fd -1). */
const deviceOps = {
  IMPORT: ({ session: s, value }) => {
    const buf = s.ctx.tokens.lookup(value.token);
    buf.get();
    return { result: s.install(buf, () => buf.put()) };
  },
  HELLO: ({ session: s, value }) => {
    const comm = name(value.comm, 'HELLO: comm ');
    if (!s.native) s.pid = value.pid; // a native connection's pid is the kernel's, not what it says
    s.comm = printable(comm, 'line');
    return { result: 0 };
  },
} satisfies Pick<OpHandlers, 'IMPORT' | 'HELLO'>;

/** The extensions (JSON introspection): each sees what the asker's scope shows, nothing else. */
const extensionOps = {
  X_STATE: ({ scope, value }) => mapWork(snapshotJson(scope, value ?? {}), (json): Encoded => ({ encoded: true, result: 0, payload: new TextEncoder().encode(json) })),
  X_PS: ({ scope }) => ({ result: 0, payload: processes(scope) }),
  X_HEAPS: ({ scope }) => ({ result: 0, payload: scope.heaps() }),
  X_CHECK: ({ scope }) => {
    const report = scope.selfCheck();
    return { result: report.ok ? 0 : -Errno.EIO, payload: report };
  },
  X_EVENTS: ({ scope, value }) => mapWork(scope.eventSteps(eventQueryFrom(value)), (page): Encoded => ({ encoded: true, result: page.events.length, payload: new TextEncoder().encode(eventPageJson(page)) })),
  X_TRACE: ({ scope, value }) => ({ result: 0, payload: traceOf(scope, safe(value.since, 'X_TRACE: since')) }),
  X_RECORDING: ({ scope, value }) => {
    if (value.limit < 1 || value.limit > X_RECORDING_MAX_LIMIT) throw new SmafError('EINVAL', `X_RECORDING: limit ${value.limit} is not 1..${X_RECORDING_MAX_LIMIT}`);
    const page = scope.recording(value.from, value.limit);
    return { result: page.records.length, payload: page };
  },
  X_EXPLAIN: ({ scope, fd, value }) => {
    // the operator asking about a buffer that is gone gets its story from the journal
    const gone = fd === DEVICE_FD ? scope.released(value.buffer) : null;
    if (gone) return { result: 0, payload: gone };
    const buf = fd === DEVICE_FD ? scope.buffer(value.buffer) : scope.bufferOfFd(fd);
    const teeShm = scope.teeShmOf(buf); // the TEE shared memory holding it, as far as the scope sees
    return { result: 0, payload: { ...explain(buf), ...(teeShm.length ? { teeShm } : {}) } };
  },
  X_NATIVE: ({ scope }) => ({ result: 0, payload: scope.native() }),
  // a client sees the devices' mappings of the buffers it holds; the operator sees all
  X_DEVICES: ({ scope }) => ({ result: 0, payload: scope.devices() }),
} satisfies Pick<OpHandlers, IntrospectionOp>;

/** Ops on a buffer fd: the fd's references, devices and CPU mappings. */
const bufferOps = {
  CLOSE: ({ session: s, entry }) => {
    if (entry.handle) throw new SmafError('EINVAL', `fd ${entry.fd} is a handle of buffer ${entry.buffer.id}: it lives as long as the buffer's files (close those)`);
    s.closeFd(entry);
    return { result: 0 };
  },
  DUP: ({ session: s, entry: { buffer: buf } }) => {
    buf.get();
    return { result: s.install(buf, () => buf.put()) };
  },
  ATTACH: ({ session: s, entry, value }) => {
    const device = name(value.device, 'device name: ');
    s.ctx.limits.checkAttachments(s, entry.attachments.size);
    const att = entry.buffer.attach(s.ctx.platform.device(device));
    entry.addAttachment(att);
    return { result: att.id };
  },
  DETACH: ({ session: s, entry, value }) => {
    const att = s.attachment(entry, value.attachment);
    entry.buffer.detach(att);
    entry.removeAttachment(att.id);
    return { result: 0 };
  },
  MAP: ({ session: s, entry, value }) => {
    const att = s.attachment(entry, value.attachment);
    const buf = entry.buffer;
    if (buf.secure) s.ctx.limits.checkSecureMap(s, buf);
    const segs = buf.map(att, value.direction as DmaDirection); // the core refuses a direction other than 0, 1, 2
    if (buf.secure) s.account.noteSecureMap(buf, 1);
    return { result: segs.length, payload: segs.map((g) => ({ dma_addr: BigInt(g.dma), length: BigInt(g.length) })) };
  },
  UNMAP: ({ session: s, entry, value }) => {
    const buf = entry.buffer;
    buf.unmap(s.attachment(entry, value.attachment));
    if (buf.secure) s.account.noteSecureMap(buf, -1);
    return { result: 0 };
  },
  SET_NAME: ({ entry, value }) => {
    entry.buffer.setLabel(printable(name(value.name, 'SET_NAME: ', ` (at most ${DMA_BUF_NAME_LEN - 1} bytes)`), 'line'));
    return { result: 0 };
  },
  GENERATION: ({ session: s, entry }) => ({ result: s.ctx.generations.get(entry.buffer) }),
  EXPORT: ({ session: s, entry: { buffer: buf } }) => {
    buf.markShared();
    return { result: 0, payload: s.ctx.tokens.export(buf) };
  },
  STAT: ({ entry: { buffer: buf } }) => ({
    result: 0,
    payload: { size: BigInt(buf.length), allocated: buf.allocated ? 1 : 0, secure: buf.secure ? 1 : 0, allocator: buf.backing ? encodeName(buf.backing.allocator, 64) : new Uint8Array(64) },
  }),
} satisfies Pick<OpHandlers, 'CLOSE' | 'DUP' | 'ATTACH' | 'DETACH' | 'MAP' | 'UNMAP' | 'SET_NAME' | 'GENERATION' | 'EXPORT' | 'STAT'>;

/** CPU access through a mapping, and the DMA a device does on the client's behalf (sliced). */
const ioOps = {
  MMAP: ({ session: s, entry, value }) => {
    s.ctx.limits.checkMappings(s, entry.mappings.size);
    const buf = entry.buffer;
    // a protected heap's buffers have no mmap at all (as the kernel's TEE heaps): EINVAL, not EPERM
    if (buf.secure && s.ctx.exporterOf(buf) !== 'smaf') throw new SmafError('EINVAL', `buffer ${buf.id} comes from the protected heap ${s.ctx.exporterOf(buf)}, which has no mmap`);
    // the core checks the range and prot; a u64 past 2^53 is refused here, where it is decoded
    const m = buf.mmap(safe(value.offset, 'MMAP: offset'), safe(value.length, 'MMAP: length'), value.prot);
    entry.addMapping(m);
    s.ctx.files?.share(buf); // a C program's mapping is the memory itself from now on
    return { result: m.id };
  },
  MUNMAP: ({ session: s, entry, value }) => {
    const m = s.mapping(entry, value.mapping);
    entry.buffer.munmap(m);
    entry.removeMapping(m.id);
    return { result: 0 };
  },
  READ: ({ session: s, entry, value }) => {
    const m = s.mapping(entry, value.mapping);
    const offset = safe(value.offset, 'offset');
    const length = value.length;
    if (length > s.ctx.limits.maxIo) throw new SmafError('EINVAL', `READ of ${length} bytes is over the ${s.ctx.limits.maxIo}-byte limit of one request`);
    m.check(offset, length, PROT_READ); // before the answer's head is sent
    return readStream(m, offset, length);
  },
  WRITE: ({ session: s, entry, value }) => {
    const m = s.mapping(entry, value.mapping);
    const offset = safe(value.offset, 'offset');
    m.check(offset, value.data.length, PROT_WRITE);
    return s.bumping(entry.buffer, writeSteps(m, offset, value.data));
  },
  DMA_COPY: ({ session: s, entry, value: v }) => {
    const dst = s.attachment(entry, v.dst_attachment);
    const srcEntry = s.entry(v.src_fd);
    const src = s.attachment(srcEntry, v.src_attachment);
    const steps = dmaCopySteps(dst, safe(v.dst_offset, 'dst_offset'), src, safe(v.src_offset, 'src_offset'), safe(v.length, 'length'), v.transform, s.principal);
    const fenced = s.ctx.fences.device([[entry.buffer, 'write'], [srcEntry.buffer, 'read']], steps);
    return s.bumping(entry.buffer, mapWork(fenced, (n) => ({ result: n })));
  },
  DMA_CRC: ({ session: s, entry, value: v }) => {
    const att = s.attachment(entry, v.attachment);
    const steps = dmaCrcSteps(att, safe(v.offset, 'offset'), safe(v.length, 'length'), s.principal);
    return mapWork(s.ctx.fences.device([[entry.buffer, 'read']], steps), (crc) => ({ result: 0, payload: { crc32: crc } }));
  },
  DMA_SCANOUT: ({ session: s, entry, value: v }) => {
    const att = s.attachment(entry, v.attachment);
    const steps = dmaScanoutSteps(att, safe(v.offset, 'offset'), safe(v.length, 'length'));
    return mapWork(s.ctx.fences.device([[entry.buffer, 'read']], steps), (n) => ({ result: n }));
  },
} satisfies Pick<OpHandlers, 'MMAP' | 'MUNMAP' | 'READ' | 'WRITE' | 'DMA_COPY' | 'DMA_CRC' | 'DMA_SCANOUT'>;

export const OP_HANDLERS: OpHandlers = { ...deviceOps, ...extensionOps, ...bufferOps, ...ioOps, ...fileOps, ...teeOps };

/** Run `f` with the file the client passed with the request (EINVAL without one); the file is closed after. */
function withFile<T>(s: HandlerSession, op: string, f: (file: number) => T): T {
  const file = s.takeFile();
  if (file === null) throw new SmafError('EINVAL', `${op} needs a file passed with the request (SCM_RIGHTS)`);
  try {
    const r = f(file);
    if (isSliced(r as Work<object>)) throw new SmafError('EIO', `${op}: an op that takes a file must finish at once`);
    return r;
  } finally {
    s.closeFile(file);
  }
}

/**
 * Run one op of the table: decode its request (EINVAL on a bad length or reserved field), check
 * its fd (the device: EINVAL otherwise; a buffer: EBADF when this client does not hold it) and the
 * operator's privilege (EPERM), call its handler, encode the reply (EOVERFLOW past one frame).
 */
export function runOp(s: HandlerSession, row: OpTableRow, req: Request): Work<Outcome> {
  return run(s, row.name, req);
}

function run<K extends OpName>(s: HandlerSession, name: K, req: Request): Work<Outcome> {
  const row = opRowNamed(name);
  const value = decodeOpRequest(row, req.payload);
  if (row.target === 'device' && req.fd !== DEVICE_FD) throw new SmafError('EINVAL', `${row.name} goes to the device (fd -1)`);
  if ('operator' in row) s.scope.requireOperator(row.operator);
  if ('file' in row && !s.native) throw new SmafError('EOPNOTSUPP', `${row.name} passes a file: only smafd's native socket carries files (X_NATIVE names it)`);
  const handler = OP_HANDLERS[name] as (call: object) => Work<HandlerReply<RowOf<K>>>; // the call built below is K's: TypeScript does not correlate the union
  const call = (extra: object): Work<HandlerReply<RowOf<K>>> => handler(isIntrospection(name)
    ? { scope: s.scope, fd: req.fd, value }
    : { session: s, fd: req.fd, value, ...(row.target === 'buffer' ? { entry: s.entry(req.fd) } : {}), ...extra });
  // the file passed with the request, for the ops that take one
  const work = 'file' in row && 'in' in row.file ? withFile(s, row.name, (file) => call({ file })) : call({});
  const encode = (r: HandlerReply<RowOf<K>> | Encoded): Outcome => {
    const out = isEncoded(r) ? r : encodeOpReply(row, r);
    if (out.payload.length > MAX_FRAME - RESPONSE_HEADER) throw new SmafError('EOVERFLOW', `${row.name}: the reply is ${out.payload.length} bytes, over one frame: ask for less (a smaller page, a shorter span)`);
    return out;
  };
  if (isStreamed(work)) {
    if (work.length > MAX_FRAME - RESPONSE_HEADER) throw new SmafError('EOVERFLOW', `${row.name}: the reply is ${work.length} bytes, over one frame: ask for less`);
    return work;
  }
  return isSliced(work) ? mapWork(work, encode) : encode(work);
}

/** Every X_* op is an introspection op: it gets the asker's scope, never the session. */
function isIntrospection(name: OpName): name is IntrospectionOp {
  return name.startsWith('X_');
}
