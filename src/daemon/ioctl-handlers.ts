/**
 * The handler of every ioctl of the uapi's ioctl table (src/uapi/abi.ts), keyed by its name and
 * typed from its struct: a missing handler, or one that reads a field its struct lacks, does not
 * compile. `runIoctl` applies the dma-heap rules to every ioctl before its handler runs.
 */
import { SmafError } from '../common/errors.ts';
import {
  decodeName, decodeStruct, DEVICE_FD, dmaBufSync, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_VALID, DMA_BUF_SYNC_WRITE, encodeName, encodeStruct,
  findIoctl, fitStruct, iocSize, ioctlNamed, nonZeroReserved, SMAF_NAME_LEN, type IoctlName, type IoctlOf, type Request, type StructValue,
} from '../uapi/index.ts';
import { mapWork, type HandlerSession, type Outcome, type Work } from './op-types.ts';

/** What an ioctl copies out (the struct, updated), or null when it copies nothing out. */
type IoctlHandler<K extends IoctlName> = (s: HandlerSession, fd: number, v: StructValue<IoctlOf<K>['struct']>) => StructValue<IoctlOf<K>['struct']> | null;
type IoctlHandlers = { readonly [K in IoctlName]: IoctlHandler<K> };

function syncMode(flags: bigint): 'read' | 'write' | 'read-write' {
  if ((flags & ~DMA_BUF_SYNC_VALID) !== 0n || (flags & (DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE)) === 0n) {
    throw new SmafError('EINVAL', `DMA_BUF_IOCTL_SYNC: invalid flags 0x${flags.toString(16)} (READ 1 and/or WRITE 2, START 0 or END 4)`);
  }
  return (flags & 3n) === 3n ? 'read-write' : (flags & 1n) === 1n ? 'read' : 'write';
}

const IOCTL_HANDLERS: IoctlHandlers = {
  SMAF_IOC_CREATE: (s, _fd, v) => {
    if (v.fd !== 0) throw new SmafError('EINVAL', `SMAF_IOC_CREATE: fd must be 0 on input, got ${v.fd}`);
    let name: string;
    try {
      name = decodeName(v.name);
    } catch (e) {
      throw new SmafError('EINVAL', `SMAF_IOC_CREATE: name ${(e as Error).message}`);
    }
    s.ctx.limits.checkCreate(s, v.length);
    const buf = s.ctx.smaf.create(v.length, { flags: v.flags, ...(name ? { name } : {}) });
    const fd = s.install(buf, () => buf.put());
    if (s.ctx.verbose) s.ctx.log.debug({ client: s.id, fd, buffer: buf.id, length: buf.length }, 'created');
    return { ...v, fd };
  },
  SMAF_IOC_GET_SECURE_FLAG: (s, _fd, v) => ({ ...v, secure: s.entry(v.fd).buffer.secure ? 1 : 0 }),
  SMAF_IOC_SET_SECURE_FLAG: (s, _fd, v) => {
    const entry = s.entry(v.fd);
    if (v.secure !== 0 && v.secure !== 1) throw new SmafError('EINVAL', `SMAF_IOC_SET_SECURE_FLAG: secure must be 0 or 1, got ${v.secure}`);
    entry.buffer.setSecure(v.secure === 1);
    return v;
  },
  SMAF_IOC_GET_INFO: (s, _fd, v) => {
    const list = s.ctx.smaf.registry.allocators;
    if (v.index >= list.length) throw new SmafError('EINVAL', `SMAF_IOC_GET_INFO: index ${v.index} out of range (${list.length} allocators)`);
    return { ...v, count: list.length, name: encodeName(list[v.index]!.name, SMAF_NAME_LEN) };
  },
  DMA_BUF_IOCTL_SYNC: (s, fd, v) => {
    const { buffer } = s.entry(fd);
    const mode = syncMode(v.flags);
    // CPU access is tracked per dma-buf, as the kernel does: END may come on any fd of it
    const depth = s.cpuAccess.get(buffer) ?? 0;
    if ((v.flags & DMA_BUF_SYNC_END) !== 0n) {
      // the kernel does not pair START and END: an END without START is 0 (the count is for tools)
      if (depth === 0) return null;
      buffer.endCpuAccess(mode);
      if (depth === 1) s.cpuAccess.delete(buffer);
      else s.cpuAccess.set(buffer, depth - 1);
    } else {
      buffer.beginCpuAccess(mode);
      s.cpuAccess.set(buffer, depth + 1);
    }
    return null;
  },
};

/**
 * An ioctl, with the kernel's dma-heap rules: unknown command ENOTTY; a payload of other than
 * _IOC_SIZE bytes EINVAL; a caller's smaller struct zero-filled and a larger one's extra bytes
 * ignored (and copied back untouched); reserved fields and versions other than 0 EINVAL.
 */
export function runIoctl(s: HandlerSession, req: Request): Work<Outcome> {
  const def = findIoctl(req.op);
  if (!def) throw new SmafError('ENOTTY', `unknown ioctl 0x${req.op.toString(16)}`);
  const size = iocSize(req.op);
  if (req.payload.length !== size) throw new SmafError('EINVAL', `ioctl 0x${req.op.toString(16)} carries ${size} bytes (_IOC_SIZE), payload has ${req.payload.length}`);
  if (def.target === 'device' && req.fd !== DEVICE_FD) {
    s.entry(req.fd); // EBADF first for a bad fd, as the kernel would
    throw new SmafError('ENOTTY', `${def.name} is an ioctl of /dev/smaf (fd -1), not of a buffer fd`);
  }
  const data = fitStruct(def.struct, req.payload);
  const reserved = nonZeroReserved(def.struct, data);
  if (reserved.length) throw new SmafError('EINVAL', `${def.name}: reserved field${reserved.length > 1 ? 's' : ''} ${reserved.join(', ')} must be zero`);
  const finish = (): Outcome => {
    const out = act(s, def.name, req.fd, data);
    if (out === null) return { result: 0, payload: new Uint8Array(0) };
    // copy out what the caller's struct holds; its extra bytes come back untouched
    const reply = new Uint8Array(size);
    reply.set(req.payload);
    reply.set(out.subarray(0, Math.min(size, out.length)));
    return { result: 0, payload: reply };
  };
  const wait = def.name === 'DMA_BUF_IOCTL_SYNC' ? syncWait(s, req.fd, decodeStruct(dmaBufSync, data).flags) : null;
  return wait ? mapWork(wait, finish) : finish();
}

/**
 * DMA_BUF_IOCTL_SYNC START waits for the device work in its way, as dma_buf_begin_cpu_access waits
 * for the buffer's fences (a reader for the writes, a writer for everything): null when nothing is.
 * A bad fd or bad flags fail at once, before any wait.
 */
function syncWait(s: HandlerSession, fd: number, flags: bigint): Generator<void, void> | null {
  const { buffer } = s.entry(fd);
  syncMode(flags);
  if ((flags & DMA_BUF_SYNC_END) !== 0n) return null;
  const access = (flags & DMA_BUF_SYNC_WRITE) !== 0n ? 'write' : 'read';
  return s.ctx.fences.cpuMustWait(buffer, access) ? s.ctx.fences.cpuAccess(buffer, access) : null;
}

function act<K extends IoctlName>(s: HandlerSession, name: K, fd: number, data: Uint8Array): Uint8Array | null {
  const def = ioctlNamed(name).struct as IoctlOf<K>['struct']; // K's own row: TypeScript does not correlate the union
  const v = decodeStruct(def, data);
  if ('version' in v && v.version !== 0n) throw new SmafError('EINVAL', `${name}: unknown version ${v.version} (only 0)`);
  const handler: IoctlHandler<K> = IOCTL_HANDLERS[name];
  const out = handler(s, fd, v);
  return out === null ? null : encodeStruct(def, out);
}
