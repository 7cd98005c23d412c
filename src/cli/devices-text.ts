/** `smaf devices` as text: each device, its IOMMU domain and every buffer it maps. */
import { formatSize, hex } from '../common/units.ts';
import type { DevicesReport, DeviceView } from '../uapi/index.ts';

function facts(d: DeviceView): string {
  const parts = [d.class, `${d.dmaMask}-bit DMA`, d.iommu ? 'IOMMU' : 'no IOMMU (physical addresses)', d.secure ? 'secure-capable' : 'not secure-capable', `max segment ${formatSize(d.maxSegmentSize)}`];
  return parts.join(', ');
}

function domain(d: DeviceView): string | null {
  if (!d.domain) return null;
  const dm = d.domain;
  if (dm.mappedBytes === null) return `IOMMU domain: ${formatSize(dm.size)} of IOVA (its use is the operator's to see)`;
  return `IOMMU domain: ${formatSize(dm.size)} of IOVA, ${formatSize(dm.mappedBytes)} mapped in ${dm.mappings} range${dm.mappings === 1 ? '' : 's'}, largest free range ${formatSize(dm.largestFree ?? 0)}`;
}

function mappingLines(d: DeviceView, pad: string): string[] {
  const lines = d.mappings.map((m) => {
    const ranges = m.ranges.map((r) => `${hex(r.start)}+${formatSize(r.length)}`).join(', ') + (m.rangesTotal > m.ranges.length ? ` (+${m.rangesTotal - m.ranges.length} more)` : '');
    const grants = m.secure ? `; granted ${m.grantsTotal ? m.grants.map((g) => `${hex(g.addr)}+${formatSize(g.size)}`).join(', ') : 'nothing'}` : '';
    const who = m.holders.length ? `; held by ${m.holders.join(', ')}` : '';
    return `${pad}buffer ${m.buffer}${m.label ? ` "${m.label}"` : ''} ${formatSize(m.length)}${m.secure ? ' secure' : ''}, ${m.direction}: ${d.iommu ? 'IOVA' : 'phys'} ${ranges}${grants}${who}`;
  });
  if (d.mappingsTotal > d.mappings.length) lines.push(`${pad}... and ${d.mappingsTotal - d.mappings.length} more mappings`);
  if (d.mappingsTotal === 0) lines.push(`${pad}(maps no buffer now)`);
  return lines;
}

export function formatDevices(r: DevicesReport): string {
  const width = Math.max(6, ...r.devices.map((d) => d.name.length));
  const pad = ' '.repeat(width + 4);
  const lines = r.scope === 'own' ? ['(the admin socket is not reachable: showing only the buffers this connection holds)'] : [];
  for (const d of r.devices) {
    lines.push(`  ${d.name.padEnd(width)}  ${facts(d)}`);
    if (d.node || d.description) lines.push(`${pad}${[d.description, d.node].filter(Boolean).join('; ')}`);
    const dom = domain(d);
    if (dom) lines.push(`${pad}${dom}`);
    if (d.bus) lines.push(`${pad}bus: ${formatSize(d.bus.bytesRead)} read, ${formatSize(d.bus.bytesWritten)} written${d.bus.denials ? `, ${d.bus.denials} denied` : ''}`);
    lines.push(...mappingLines(d, pad));
  }
  const total = r.devices.reduce((n, d) => n + d.mappingsTotal, 0);
  lines.unshift(`devices: ${r.devices.length}, ${total} DMA mapping${total === 1 ? '' : 's'} now`);
  return lines.join('\n');
}
