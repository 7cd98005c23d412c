/** `smaf ps`: the per-process report of X_PS as text, like Android's dmabuf_dump. */
import { formatSize } from '../common/units.ts';
import type { ProcessReport } from '../daemon/processes.ts';
import { printable } from '../common/printable.ts';

/** `TEE: 1 context; session 1 to sdp-basic; shm 2 (dma-buf of buffer 7, 16 KiB), shm 3 (registered, 8 B)` */
function teeText(t: NonNullable<ProcessReport['processes'][number]['tee']>): string {
  const parts = [`${t.contexts} context${t.contexts === 1 ? '' : 's'} open`];
  if (t.sessions.length) parts.push(t.sessions.map((x) => `session ${x.id} to ${x.ta}`).join(', '));
  if (t.shm.length) parts.push(t.shm.map((m) => `shm ${m.id} (${m.buffer !== null ? `dma-buf of buffer ${m.buffer}` : m.kind}, ${formatSize(m.size)})`).join(', '));
  return `TEE: ${parts.join('; ')}`;
}

export function formatProcesses(r: ProcessReport): string {
  const lines: string[] = [];
  lines.push(`${'PID'.padStart(7)}  ${'COMMAND'.padEnd(16)} ${'CLIENT'.padStart(6)} ${'BUFFERS'.padStart(7)} ${'SIZE'.padStart(10)} ${'CPU-MAPPED'.padStart(10)}`);
  // like dmabuf_dump, the table lists the processes that hold buffers (--json lists every client)
  const busy = (p: ProcessReport['processes'][number]): boolean => p.buffers.length > 0 || p.tee !== undefined;
  const idle = r.processes.filter((p) => !busy(p)).length;
  for (const p of r.processes.filter(busy)) {
    lines.push(`${String(p.pid ?? '-').padStart(7)}  ${(p.comm === null ? '(no hello)' : printable(p.comm, 'line')).padEnd(16)} ${String(p.client).padStart(6)} ${String(p.totals.buffers).padStart(7)} ${formatSize(p.totals.bytes).padStart(10)} ${formatSize(p.totals.cpuMappedBytes).padStart(10)}`);
    for (const b of p.buffers) {
      const name = b.name === null ? '' : ` "${printable(b.name, 'line')}"`;
      const where = b.allocator ?? `deferred${b.nameHint ? ` (asks ${b.nameHint})` : ''}`;
      const held = [...(b.fds.length ? [`smafd fd ${b.fds.join(',')}`] : []), ...(b.teeShm?.length ? [`TEE shm ${b.teeShm.join(',')}`] : [])].join(', ');
      lines.push(`           buffer ${String(b.buffer).padEnd(5)} ${formatSize(b.size).padStart(10)}  ${where}${b.secure ? ', secure' : ''}${b.cpuMapped ? ', CPU-mapped' : ''}${b.dmaMapped ? `, DMA-mapped by ${b.dmaDevices.join(', ')}` : ''}${name}; ${held}${b.sharedBy > 1 ? `; shared by ${b.sharedBy} processes` : ''}`);
    }
    if (p.tee) lines.push(`           ${teeText(p.tee)}`);
  }
  if (idle === r.processes.length) lines.push('  (no process holds a buffer)');
  if (idle > 0) lines.push(`  (${idle} other client${idle === 1 ? '' : 's'} hold${idle === 1 ? 's' : ''} nothing)`);
  lines.push('', 'per allocator (each buffer once):');
  for (const a of r.allocators) lines.push(`  ${a.allocator.padEnd(18)} ${String(a.buffers).padStart(5)} buffers ${formatSize(a.bytes).padStart(10)}`);
  lines.push(`  ${'total'.padEnd(18)} ${String(r.total.buffers).padStart(5)} buffers ${formatSize(r.total.bytes).padStart(10)}`);
  return lines.join('\n');
}
