/**
 * Per-process accounting of dma-buf memory, as Android's `dmabuf_dump` reports it: every client
 * process (pid and command name as announced with HELLO), the buffers it holds with size, name,
 * allocator, whether it maps them with the CPU and which devices map them for DMA, and totals per
 * process and per allocator. `smaf ps` prints it.
 *
 * It shows the clients a scope sees (scope.ts): every client's holdings for the operator, who alone
 * may ask for it (the op is the operator's).
 */
import type { SmafBuffer } from '../core/index.ts';
import type { SessionLike } from './context.ts';
import type { Scope } from './scope.ts';
import type { ProcessBuffer, ProcessView, ProcessReport } from '../uapi/replies.ts';
// the wire types live in uapi (the client reads them without importing the daemon)
export type { ProcessReport } from '../uapi/replies.ts';

const DEFERRED = '(deferred)';

/** A process's TEE contexts, sessions and shared memory (absent when it has none). */
function teeOf(s: SessionLike): Pick<ProcessView, 'tee'> {
  const t = s.tee;
  if (!t || (t.contextCount === 0 && t.sharedMemory.length === 0)) return {};
  return {
    tee: {
      contexts: t.contextCount,
      sessions: t.sessions.map((x) => ({ id: x.id, uuid: x.uuid, ta: x.ta })),
      shm: t.sharedMemory.map((m) => ({ id: m.id, kind: m.kind, size: m.size, buffer: m.buffer?.id ?? null })),
    },
  };
}

export function processes(scope: Scope): ProcessReport {
  const holders = new Map<number, number>();
  const sessions = [...scope.sessions()].sort((a, b) => a.id - b.id);
  for (const s of sessions) for (const id of new Set(s.heldBuffers().map((b) => b.id))) holders.set(id, (holders.get(id) ?? 0) + 1);

  const distinct = new Map<number, { allocator: string; bytes: number }>();
  const views = sessions.map((s): ProcessView => {
    type Held = { fds: number[]; mapped: boolean; buf: SmafBuffer; shm: number[] };
    const byBuffer = new Map<number, Held>();
    const held = (buf: SmafBuffer): Held => {
      let e = byBuffer.get(buf.id);
      if (!e) byBuffer.set(buf.id, (e = { fds: [], mapped: false, buf, shm: [] }));
      return e;
    };
    for (const h of s.holdings()) {
      const e = held(h.buffer);
      e.fds.push(h.fd);
      e.mapped ||= h.mappings > 0;
    }
    for (const m of s.tee?.sharedMemory ?? []) if (m.buffer) held(m.buffer).shm.push(m.id);
    const buffers = [...byBuffer.values()].sort((a, b) => a.buf.id - b.buf.id).map(({ fds, mapped, buf, shm }): ProcessBuffer => {
      const allocator = buf.backing?.allocator ?? null;
      distinct.set(buf.id, { allocator: allocator ?? DEFERRED, bytes: buf.length });
      const dmaDevices = [...new Set(buf.attachments.filter((a) => a.mapped).map((a) => a.device.name))];
      return {
        buffer: buf.id, size: buf.length, name: buf.label, allocator, nameHint: buf.nameHint ?? null, secure: buf.secure, fds: fds.sort((a, b) => a - b),
        cpuMapped: mapped, dmaMapped: dmaDevices.length > 0, dmaDevices, sharedBy: holders.get(buf.id) ?? 1, ...(shm.length ? { teeShm: shm } : {}),
      };
    });
    return {
      client: s.id,
      pid: s.pid,
      comm: s.comm,
      buffers,
      totals: { buffers: buffers.length, bytes: buffers.reduce((n, b) => n + b.size, 0), cpuMappedBytes: buffers.filter((b) => b.cpuMapped).reduce((n, b) => n + b.size, 0) },
      ...teeOf(s),
    };
  });

  const perAllocator = new Map<string, { buffers: number; bytes: number }>();
  for (const { allocator, bytes } of distinct.values()) {
    const t = perAllocator.get(allocator) ?? { buffers: 0, bytes: 0 };
    t.buffers++;
    t.bytes += bytes;
    perAllocator.set(allocator, t);
  }
  const allocators = [...perAllocator.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([allocator, t]) => ({ allocator, ...t }));
  return { processes: views, allocators, total: { buffers: distinct.size, bytes: [...distinct.values()].reduce((n, d) => n + d.bytes, 0) } };
}
