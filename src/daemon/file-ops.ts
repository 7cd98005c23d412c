/**
 * The ops a C program's dma-bufs need beyond the uapi (docs/c-programs.md): a heap's allocation at
 * ALLOC, the buffer as a file (zero-copy), identifying a file a program was given, sync files.
 */
import { Errno, isSmafError, SmafError } from '../common/errors.ts';
import { SMAF_RDWR, type SmafBuffer } from '../core/index.ts';
import { decodeName, encodeName, EXP_NAME_LEN, DMA_BUF_NAME_LEN, SYNC_NAME_LEN } from '../uapi/index.ts';
import type { HandlerSession, OpHandlers } from './op-types.ts';

/** How mmap of the buffer fails for the CPU: EPERM for a secure /dev/smaf buffer, EINVAL for a protected heap's (it has no mmap). */
function mmapErrno(s: HandlerSession, buf: SmafBuffer): number {
  if (!buf.secure) return 0;
  return s.ctx.exporterOf(buf) === 'smaf' ? Errno.EPERM : Errno.EINVAL;
}

function heapName(bytes: Uint8Array): string {
  try {
    return decodeName(bytes);
  } catch (e) {
    throw new SmafError('EINVAL', `ALLOCATE: heap ${(e as Error).message}`);
  }
}

export const fileOps = {
  ALLOCATE: ({ session: s, entry: { buffer: buf }, value }) => {
    const heap = heapName(value.heap);
    if (heap) s.ctx.setExporter(buf, heap);
    try {
      buf.allocate(heap ? `alloc from heap ${heap}` : 'alloc');
    } catch (e) {
      // a heap that cannot supply the memory fails the ALLOC with ENOMEM, whatever the reason
      if (heap && (isSmafError(e, 'ENODEV') || isSmafError(e, 'ENOMEM'))) {
        throw new SmafError('ENOMEM', `heap ${heap} cannot supply ${buf.length} bytes: ${(e as Error).message}`);
      }
      throw e;
    }
    s.ctx.files?.share(buf);
    return { result: 0 };
  },
  FILE: ({ session: s, entry, value }) => {
    const files = s.ctx.requireFiles('FILE');
    const access = value.access;
    if (access > 2) throw new SmafError('EINVAL', `FILE: access ${access} is none of O_RDONLY 0, O_WRONLY 1, O_RDWR 2`);
    const buf = entry.buffer;
    if (access !== 0 && (buf.flags & SMAF_RDWR) === 0) throw new SmafError('EACCES', `FILE: buffer ${buf.id} was created read-only (no O_RDWR): its files cannot be writable`);
    const file = files.handOut(buf, access as 0 | 1 | 2);
    s.toHandle(entry);
    return { result: 0, file };
  },
  IDENTIFY: ({ session: s, value, file }) => {
    const files = s.ctx.requireFiles('IDENTIFY');
    if (value.handle > 1) throw new SmafError('EINVAL', `IDENTIFY: handle must be 0 or 1, got ${value.handle}`);
    const known = files.identify(file);
    if (!known) throw new SmafError('EINVAL', 'IDENTIFY: the file is not a dma-buf of smafd');
    const buf = known.buf;
    s.ctx.recorder.concerns(buf.id); // the recording names the buffer, even if the handle cannot be installed
    const result = value.handle === 1 ? s.handleFor(buf) : 0;
    return {
      result,
      payload: {
        size: BigInt(buf.length), buffer: buf.id, secure: buf.secure ? 1 : 0, count: known.open, mmap_errno: mmapErrno(s, buf),
        exp_name: encodeName(s.ctx.exporterOf(buf).slice(0, EXP_NAME_LEN - 1), EXP_NAME_LEN),
        name: encodeName((buf.label ?? '').slice(0, DMA_BUF_NAME_LEN - 1), DMA_BUF_NAME_LEN),
      },
    };
  },
  EXPORT_FENCE: ({ session: s, entry, value }) => ({ result: 0, file: s.ctx.fences.exportFence(entry.buffer, value.flags, s.account) }),
  IMPORT_FENCE: ({ session: s, entry, value, file }) => {
    s.ctx.fences.importFence(entry.buffer, value.flags, file);
    return { result: 0 };
  },
  FENCE_INFO: ({ session: s, file }) => {
    const entries = s.ctx.fences.info(file);
    const id = entries[0]!.id;
    s.fenceIds.delete(id);
    s.fenceIds.add(id);
    if (s.fenceIds.size > MAX_FENCE_IDS) s.fenceIds.delete(s.fenceIds.values().next().value!);
    const payload = entries.map((e) => ({ status: e.status, id: e.id, timestamp_ns: e.timestampNs, name: encodeName(e.name.slice(0, SYNC_NAME_LEN - 1), SYNC_NAME_LEN) }));
    return { result: entries.length, payload };
  },
  FENCE_MERGE: ({ session: s, value, file }) => {
    const first = s.fenceIds.has(value.fence) ? s.ctx.fences.byId(value.fence) : null;
    if (!first) throw new SmafError('EINVAL', `FENCE_MERGE: no sync file ${value.fence} on this connection (its id comes from FENCE_INFO)`);
    // the kernel NUL-terminates sync_merge_data.name where it stands
    const end = value.name.indexOf(0);
    const name = new TextDecoder().decode(value.name.subarray(0, end < 0 ? SYNC_NAME_LEN - 1 : Math.min(end, SYNC_NAME_LEN - 1)));
    return { result: 0, file: s.ctx.fences.merge(first, file, name, s.account) };
  },
} satisfies Pick<OpHandlers, 'ALLOCATE' | 'FILE' | 'IDENTIFY' | 'EXPORT_FENCE' | 'IMPORT_FENCE' | 'FENCE_INFO' | 'FENCE_MERGE'>;

/** The sync file ids a client may name in FENCE_MERGE: the ones it asked about last. */
const MAX_FENCE_IDS = 1024;
