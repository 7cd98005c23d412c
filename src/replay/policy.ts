/**
 * Allocation policies a replay runs a recording under, over the core's public API (the core itself
 * always defers):
 *
 * - `deferred`: SMAF's own. A buffer gets its memory at first need, from every device attached
 *   then; a device that attaches later and cannot use it makes the memory move when nothing pins it.
 * - `eager`: ION and dma-heaps. The heap is chosen at create and the memory allocated at once; it
 *   never moves. The heap is the one the program asked for by name, else the one its first device
 *   needs (the first allocator, in ranking order, that accepts the buffer with that device alone:
 *   the system heap for a device behind an IOMMU, CMA for one without, the secure carveout for a
 *   buffer made secure before its first use), as a program that knows its pipeline opens that
 *   heap. A device that attaches later and cannot use the memory is refused (ION cannot move it).
 */
import { SmafError } from '../common/errors.ts';
import { DmaDirection, unsuitableReason, type BufferInfo, type Smaf, type SmafBuffer } from '../core/index.ts';
import type { Device } from '../platform/index.ts';
import type { OpRecord } from '../uapi/index.ts';

export type PolicyName = 'deferred' | 'eager';
export const POLICIES: readonly PolicyName[] = ['deferred', 'eager'];

/** What the recording says will happen to a buffer (eager looks ahead, as its program knows its pipeline). */
export interface BufferFuture {
  /** The first device attached to it, and the direction of its first DMA map (if any). */
  readonly firstDevice?: string;
  readonly firstDirection?: DmaDirection;
  /** Made secure before its first use (a protected heap). */
  readonly secure: boolean;
}

const USES = new Set(['MAP', 'MMAP', 'DMA_BUF_IOCTL_SYNC']);

/** Each recorded buffer's future, from one pass over the recording. */
export function buffersFuture(records: readonly OpRecord[]): ReadonlyMap<number, BufferFuture> {
  const out = new Map<number, { firstDevice?: string; firstDirection?: DmaDirection; secure: boolean; used: boolean }>();
  for (const r of records) {
    if (r.buffer === undefined) continue;
    let f = out.get(r.buffer);
    if (!f) out.set(r.buffer, (f = { secure: false, used: false }));
    if (r.op === 'ATTACH' && f.firstDevice === undefined && typeof r.args?.device === 'string') f.firstDevice = r.args.device;
    if (r.op === 'MAP' && f.firstDirection === undefined && typeof r.args?.direction === 'number' && r.args.direction <= 2) f.firstDirection = r.args.direction as DmaDirection;
    if (r.op === 'SMAF_IOC_SET_SECURE_FLAG' && r.args?.secure === 1 && r.result !== undefined && !f.used) f.secure = true;
    if (USES.has(r.op)) f.used = true;
  }
  return out;
}

export interface Policy {
  readonly name: PolicyName;
  /** Create a buffer as the program did (`future`: what the recording does with it next). */
  create(smaf: Smaf, length: bigint | number, flags: number, name: string | undefined, future: BufferFuture | undefined): SmafBuffer;
  /** Before a device attaches to a buffer. */
  attaching(buf: SmafBuffer, device: Device): void;
}

const deferred: Policy = {
  name: 'deferred',
  create: (smaf, length, flags, name) => smaf.create(length, name ? { flags, name } : { flags }),
  attaching: () => undefined,
};

/** The allocator a program that knows its first device would ask for. */
function heapFor(smaf: Smaf, length: number, future: BufferFuture | undefined): string | undefined {
  let device: Device | undefined;
  try {
    if (future?.firstDevice !== undefined) device = smaf.platform.device(future.firstDevice);
  } catch {
    device = undefined; // a device this platform lacks: its attach will fail as recorded
  }
  const probe: BufferInfo = { id: 0, length, secure: future?.secure ?? false, nameHint: undefined, devices: device ? [device] : [] };
  for (const a of smaf.registry.allocators) {
    try {
      const v = a.match(probe);
      if (typeof v === 'boolean' ? v : v.match) return a.name;
    } catch {
      continue;
    }
  }
  return undefined;
}

/**
 * Memory now, through the core's public API: a kernel mapping for a normal buffer (its heap's
 * allocate); a secure one, which no CPU may map, through its first device (attach, map in the
 * direction of its first recorded map, unmap, detach).
 */
function allocateNow(smaf: Smaf, buf: SmafBuffer, future: BufferFuture | undefined): void {
  if (!buf.secure) {
    buf.munmap(buf.vmap());
    return;
  }
  if (future?.firstDevice === undefined) return; // never used by a device: nothing can allocate it
  const att = buf.attach(smaf.platform.device(future.firstDevice));
  try {
    buf.map(att, future.firstDirection ?? DmaDirection.BIDIRECTIONAL);
    buf.unmap(att);
  } finally {
    buf.detach(att);
  }
}

const eager: Policy = {
  name: 'eager',
  create(smaf, length, flags, name, future) {
    const page = smaf.pageSize;
    const n = typeof length === 'bigint' ? (length <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(length) : 0) : length;
    const heap = name ?? heapFor(smaf, Math.ceil(n / page) * page, future);
    const buf = smaf.create(length, { flags, ...(heap ? { name: heap } : {}) });
    try {
      if (future?.secure && smaf.secureModule) buf.setSecure(true);
      allocateNow(smaf, buf, future);
    } catch (e) {
      buf.put(); // the heap had no memory for it: the allocation fails, as ION's does
      throw e;
    }
    return buf;
  },
  attaching(buf, device) {
    const backing = buf.backing;
    if (!backing) return;
    if (buf.secure && !device.secure) return; // the buffer's own rule refuses it (EPERM), whatever the policy
    const problem = unsuitableReason(backing, device);
    if (problem) throw new SmafError('EINVAL', `Cannot attach device "${device.name}" to buffer ${buf.id}: ${problem}; under the eager policy memory never moves (it was chosen at create, from ${backing.allocator})`);
  },
};

export function policyNamed(name: PolicyName): Policy {
  return name === 'eager' ? eager : deferred;
}
