/** `smaf info` as text: allocators, regions, devices, limits, clients and named buffers. */
import { formatSize, hex } from '../common/units.ts';
import type { DaemonState } from '../daemon/state.ts';
import { printable } from '../common/printable.ts';

function regionLine(r: DaemonState['regions'][number]): string {
  const head = `  ${r.name.padEnd(14)} ${r.kind.padEnd(15)} ${hex(r.base)} ${formatSize(r.size).padStart(8)}`;
  if (r.kind === 'reserved') return `${head}  never handed out${r.description ? `: ${r.description}` : ''}`;
  return `${head}  in use ${formatSize(r.inUse).padStart(9)}  largest free ${formatSize(r.largestFree).padStart(9)}  fragmentation ${(r.fragmentation * 100).toFixed(1)}%`;
}

export function formatInfo(s: DaemonState): string[] {
  const lines: string[] = [];
  if (s.scope === 'own') lines.push('(the admin socket is not reachable: showing only what this connection holds)');
  lines.push(`platform ${s.platform.name} (page ${s.platform.pageSize}); secure module: ${s.secureModule ?? 'none'}; firewall: ${s.firewall}`, '\nallocators (asked in this order):');
  for (const a of s.allocators) lines.push(`  ${String(a.name).padEnd(18)} ranking ${String(a.ranking).padStart(3)}  in use ${formatSize(a.bytesInUse as number).padStart(9)}  peak ${formatSize(a.peak as number).padStart(9)}  allocations ${a.allocations}  failures ${a.failures}\n      ${a.description}`);
  lines.push('\nregions:', ...s.regions.map(regionLine), '\ndevices:');
  for (const d of s.devices) lines.push(`  ${String(d.name).padEnd(8)} ${String(d.class).padEnd(10)} dma_mask ${d.dmaMask} ${d.iommu ? 'iommu' : 'no-iommu'}${d.secure ? ' secure' : ''} max_seg ${formatSize(d.maxSegmentSize as number)}${d.description ? `  (${d.description})` : ''}`);
  lines.push(`\nlimits per client: ${Object.entries(s.limits).map(([k, v]) => `${k}=${/Bytes|Io/.test(k) ? formatSize(v) : v}`).join(', ')}`, `\nclients: ${s.clients.length ? '' : 'none'}`);
  const label = (cl: { label: string }): string => printable(cl.label, 'line');
  const labelWidth = Math.max(0, ...s.clients.map((cl) => label(cl).length));
  for (const cl of s.clients) lines.push(`  ${label(cl).padEnd(labelWidth)}  ${String(cl.fds).padStart(4)} fds  ${String(cl.buffers).padStart(4)} buffers  ${formatSize(cl.bytes).padStart(9)}`);
  lines.push(`buffers: ${s.buffersTotal}, allocated ${s.buffers.filter((b) => b.allocated).length}${s.buffersTotal > s.buffers.length ? ` of the first ${s.buffers.length}` : ''}; firewall denials: ${s.eventCounts.denial ?? 0}`);
  for (const b of s.buffers.filter((x) => x.label !== null)) lines.push(`  buffer ${b.buffer} "${printable(b.label ?? '', 'line')}": ${formatSize(b.length)}${b.allocator ? ` from ${b.allocator}` : ', no memory yet'}`);
  return lines;
}
