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
  opRowNamed, type OpName, type OpTableRow, type Reply, type Request, type RowOf,
} from '../uapi/index.ts';
import { devicesView } from './devices.ts';
import { heaps } from './heaps.ts';
import { eventsPage, explainReleased, traceOf } from './operator-ops.ts';
import { isSliced, mapWork, type HandlerSession, type OpCall, type OpHandler, type OpHandlers, type Outcome, type Work } from './op-types.ts';
import { processes } from './processes.ts';
import { snapshot } from './state.ts';
import { teeOps } from './tee-ops.ts';

/** Reads [offset, offset+length) of a CPU mapping, one slice at a time. */
function* readSteps(m: CpuMapping, offset: number, length: number): Generator<void, { result: number; payload: Uint8Array }> {
  const out = new Uint8Array(length);
  for (let done = 0; done < length; done += DMA_SLICE) {
    if (done > 0) yield;
    out.set(m.read(offset + done, Math.min(DMA_SLICE, length - done)), done);
  }
  return { result: length, payload: out };
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
    s.pid = value.pid;
    s.comm = printable(comm, 'line');
    return { result: 0 };
  },
} satisfies Pick<OpHandlers, 'IMPORT' | 'HELLO'>;

/** The extensions (JSON introspection). */
const extensionOps = {
  X_STATE: ({ session: s, value }) => ({ result: 0, payload: snapshot(s.ctx, { ...(value ?? {}), viewer: s.admin ? null : s }) }),
  X_PS: ({ session: s }) => ({ result: 0, payload: processes(s.ctx) }),
  X_HEAPS: ({ session: s }) => ({ result: 0, payload: heaps(s.ctx.smaf) }),
  // a client sees the devices' mappings of the buffers it holds; the operator sees all
  X_DEVICES: ({ session: s }) => ({ result: 0, payload: s.admin ? devicesView(s.ctx) : devicesView(s.ctx, (b) => s.holds(b.id), s.heldBuffers()) }),
  X_CHECK: ({ session: s }) => {
    const report = s.ctx.selfCheck();
    return { result: report.ok ? 0 : -Errno.EIO, payload: report };
  },
  X_EVENTS: ({ session: s, value }) => {
    // a client sees the events of the buffers it holds; the operator sees all
    const page = eventsPage(s.ctx, eventQueryFrom(value), s.admin ? null : (id) => s.holds(id));
    return { result: page.events.length, payload: page };
  },
  X_TRACE: ({ session: s, value }) => ({ result: 0, payload: traceOf(s.ctx, safe(value.since, 'X_TRACE: since')) }),
  X_EXPLAIN: ({ session: s, fd, value }) => {
    // the operator asking about a buffer that is gone gets its story from the journal
    if (fd === DEVICE_FD && s.admin && !s.ctx.smaf.find(value.buffer)) return { result: 0, payload: explainReleased(s.ctx, value.buffer) };
    const buf = fd === DEVICE_FD ? s.visibleBuffer(value.buffer) : s.entry(fd).buffer;
    // the TEE shared memory holding it: every client's for the operator, a client its own
    const teeShm = [...(s.admin ? s.ctx.sessions : [s])].flatMap((c) => (c.tee?.sharedMemory ?? [])
      .filter((m) => m.buffer === buf).map((m) => ({ client: c.id, label: c.label, shm: m.id })));
    return { result: 0, payload: { ...explain(buf), ...(teeShm.length ? { teeShm } : {}) } };
  },
} satisfies Pick<OpHandlers, 'X_STATE' | 'X_PS' | 'X_HEAPS' | 'X_DEVICES' | 'X_CHECK' | 'X_EVENTS' | 'X_TRACE' | 'X_EXPLAIN'>;

/** Ops on a buffer fd: the fd's references, devices and CPU mappings. */
const bufferOps = {
  CLOSE: ({ session: s, entry }) => {
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
    entry.attachments.set(att.id, att);
    return { result: att.id };
  },
  DETACH: ({ session: s, entry, value }) => {
    const att = s.attachment(entry, value.attachment);
    entry.buffer.detach(att);
    entry.attachments.delete(att.id);
    return { result: 0 };
  },
  MAP: ({ session: s, entry, value }) => {
    const att = s.attachment(entry, value.attachment);
    const dir = value.direction;
    if (dir > 2) throw new SmafError('EINVAL', `invalid direction ${dir} (0 bidirectional, 1 to device, 2 from device)`);
    const buf = entry.buffer;
    if (buf.secure) s.ctx.limits.checkSecureMaps(s, s.secureBuffersMapped(), s.secureBuffersMapped().has(buf));
    const segs = buf.map(att, dir as DmaDirection);
    return { result: segs.length, payload: segs.map((g) => ({ dma_addr: BigInt(g.dma), length: BigInt(g.length) })) };
  },
  UNMAP: ({ session: s, entry, value }) => {
    entry.buffer.unmap(s.attachment(entry, value.attachment));
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
  MMAP: ({ session: s, entry, value: { offset, length, prot } }) => {
    const buf = entry.buffer;
    if (length === 0n || offset + length > BigInt(buf.length)) throw new SmafError('EINVAL', `cannot map ${offset}+${length} of a ${buf.length}-byte buffer`);
    s.ctx.limits.checkMappings(s, entry.mappings.size);
    const m = buf.mmap(Number(offset), Number(length), prot);
    entry.mappings.set(m.id, m);
    return { result: m.id };
  },
  MUNMAP: ({ session: s, entry, value }) => {
    const m = s.mapping(entry, value.mapping);
    entry.buffer.munmap(m);
    entry.mappings.delete(m.id);
    return { result: 0 };
  },
  READ: ({ session: s, entry, value }) => {
    s.notSecure(entry.buffer, 'READ');
    const m = s.mapping(entry, value.mapping);
    const offset = safe(value.offset, 'offset');
    const length = value.length;
    if (length > s.ctx.limits.maxIo) throw new SmafError('EINVAL', `READ of ${length} bytes is over the ${s.ctx.limits.maxIo}-byte limit of one request`);
    m.check(offset, length, PROT_READ); // before any work
    return readSteps(m, offset, length);
  },
  WRITE: ({ session: s, entry, value }) => {
    s.notSecure(entry.buffer, 'WRITE');
    const m = s.mapping(entry, value.mapping);
    const offset = safe(value.offset, 'offset');
    m.check(offset, value.data.length, PROT_WRITE);
    return s.bumping(entry.buffer, writeSteps(m, offset, value.data));
  },
  DMA_COPY: ({ session: s, entry, value: v }) => {
    const dst = s.attachment(entry, v.dst_attachment);
    const src = s.attachment(s.entry(v.src_fd), v.src_attachment);
    const steps = dmaCopySteps(dst, safe(v.dst_offset, 'dst_offset'), src, safe(v.src_offset, 'src_offset'), safe(v.length, 'length'), v.transform, s.principal);
    return s.bumping(entry.buffer, mapWork(steps, (n) => ({ result: n })));
  },
  DMA_CRC: ({ session: s, entry, value: v }) => {
    const att = s.attachment(entry, v.attachment);
    const steps = dmaCrcSteps(att, safe(v.offset, 'offset'), safe(v.length, 'length'), s.principal);
    return mapWork(steps, (crc) => ({ result: 0, payload: { crc32: crc } }));
  },
  DMA_SCANOUT: ({ session: s, entry, value: v }) => {
    const att = s.attachment(entry, v.attachment);
    return mapWork(dmaScanoutSteps(att, safe(v.offset, 'offset'), safe(v.length, 'length')), (n) => ({ result: n }));
  },
} satisfies Pick<OpHandlers, 'MMAP' | 'MUNMAP' | 'READ' | 'WRITE' | 'DMA_COPY' | 'DMA_CRC' | 'DMA_SCANOUT'>;

export const OP_HANDLERS: OpHandlers = { ...deviceOps, ...extensionOps, ...bufferOps, ...ioOps, ...teeOps };

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
  if ('operator' in row) s.operatorOnly(row.operator);
  const entry = row.target === 'buffer' ? { entry: s.entry(req.fd) } : {};
  const call = { session: s, fd: req.fd, value, ...entry } as OpCall<K>; // entry is there exactly for buffer ops
  const handler: OpHandler<K> = OP_HANDLERS[name];
  const work = handler(call);
  const encode = (r: Reply<RowOf<K>>): Outcome => {
    const out = encodeOpReply(row, r);
    if (out.payload.length > MAX_FRAME - RESPONSE_HEADER) throw new SmafError('EOVERFLOW', `${row.name}: the reply is ${out.payload.length} bytes, over one frame: ask for less (a smaller page, a shorter span)`);
    return out;
  };
  return isSliced(work) ? mapWork(work, encode) : encode(work);
}
