/** `smaf info` as text: allocators, regions, devices, limits, clients and named buffers. */
import { formatSize, hex, parseSize } from '../common/units.ts';
import { LIMIT_OPTIONS, type LimitSettings } from '../daemon/context.ts';
import type { DaemonState } from '../daemon/state.ts';
import { printable } from '../common/printable.ts';

function regionLine(r: DaemonState['regions'][number], width: number): string {
  const head = `  ${r.name.padEnd(width)} ${r.kind.padEnd(15)} ${hex(r.base)} ${formatSize(r.size).padStart(8)}`;
  if (r.kind === 'reserved') return `${head}  never handed out${r.description ? `: ${r.description}` : ''}`;
  return `${head}  in use ${formatSize(r.inUse).padStart(9)}  largest free ${formatSize(r.largestFree).padStart(9)}  fragmentation ${(r.fragmentation * 100).toFixed(1)}%`;
}

/** What each limit is per: a client (each connection) or the whole daemon; and how to print its value. */
const PER_CLIENT: readonly (keyof LimitSettings)[] = ['maxClientBytes', 'maxClientBuffers', 'maxFds', 'maxClientSecureMaps', 'maxAttachmentsPerFd', 'maxMappingsPerFd', 'maxIo', 'maxClientBacklog'];
const DAEMON_WIDE: readonly (keyof LimitSettings)[] = ['maxClients', 'maxBuffers', 'maxTotalFds', 'sdpReserve', 'maxTotalBacklog', 'maxPendingBytes', 'readTimeoutMs'];
const MEANING: Readonly<Record<keyof LimitSettings, string>> = {
  maxClientBytes: 'bytes of buffers held',
  maxClientBuffers: 'buffers held',
  maxFds: 'fds open',
  maxClientSecureMaps: 'secure buffers mapped at once',
  maxAttachmentsPerFd: 'attachments per fd',
  maxMappingsPerFd: 'CPU mappings per fd',
  maxIo: 'bytes of one READ',
  maxClientBacklog: 'answers queued before smafd stops reading it',
  maxClients: 'clients connected at once',
  maxBuffers: 'live buffers',
  maxTotalFds: 'fds open',
  sdpReserve: 'SDP table regions kept for clients with none mapped',
  maxTotalBacklog: 'answers queued for all clients',
  maxPendingBytes: 'bytes of half-sent requests',
  readTimeoutMs: 'a request left half-sent',
};

/** A limit's value in its unit: bytes as sizes (exact: 16 MiB - 64 B is not "16 MiB"), time in seconds. */
function limitValue(key: keyof LimitSettings, v: number): string {
  if (key === 'readTimeoutMs') return v % 1000 === 0 ? `${v / 1000} s` : `${v} ms`;
  if (!/Bytes|Backlog|Io/.test(key)) return String(v);
  const size = formatSize(v);
  return parseSize(size.replace(' ', '')) === v ? size : `${v} B`;
}

/** Limits smafd has no option for. */
const FIXED: ReadonlySet<keyof LimitSettings> = new Set(['maxAttachmentsPerFd', 'maxMappingsPerFd', 'maxIo']);

function limitLines(limits: Record<string, number>): string[] {
  const rows = (keys: readonly (keyof LimitSettings)[]) => keys.filter((k) => limits[k] !== undefined)
    .map((k) => `  ${(FIXED.has(k) ? '(fixed)' : `--${LIMIT_OPTIONS[k]}`).padEnd(26)} ${limitValue(k, limits[k]!).padStart(13)}  ${MEANING[k]}`);
  return ['\nlimits per client (each connection):', ...rows(PER_CLIENT), 'limits of the whole daemon:', ...rows(DAEMON_WIDE)];
}

function deviceLines(devices: DaemonState['devices']): string[] {
  const width = Math.max(6, ...devices.map((d) => String(d.name).length));
  return devices.map((d) => {
    const facts = `${String(d.class).padEnd(10)} ${String(d.dmaMask).padStart(2)}-bit DMA  ${d.iommu ? 'IOMMU   ' : 'no IOMMU'}  ${d.secure ? 'secure' : '      '}  max segment ${formatSize(d.maxSegmentSize as number)}`;
    // a long device-tree name keeps its column: the description goes on the next line
    return `  ${String(d.name).padEnd(width)}  ${facts}${d.description ? `\n  ${' '.repeat(width)}  ${String(d.description)}` : ''}`;
  });
}

export function formatInfo(s: DaemonState): string[] {
  const lines: string[] = [];
  if (s.scope === 'own') lines.push('(the admin socket is not reachable: showing only what this connection holds)');
  lines.push(`platform ${s.platform.name} (page ${s.platform.pageSize}); secure module: ${s.secureModule ?? 'none'}; firewall: ${s.firewall}`, '\nallocators (asked in this order):');
  for (const a of s.allocators) lines.push(`  ${String(a.name).padEnd(18)} ranking ${String(a.ranking).padStart(3)}  in use ${formatSize(a.bytesInUse as number).padStart(9)}  peak ${formatSize(a.peak as number).padStart(9)}  allocations ${a.allocations}  failures ${a.failures}\n      ${a.description}`);
  const regionWidth = Math.max(14, ...s.regions.map((r) => r.name.length));
  lines.push('\nregions:', ...s.regions.map((r) => regionLine(r, regionWidth)), '\ndevices:', ...deviceLines(s.devices));
  lines.push(...limitLines(s.limits), `\nclients: ${s.clients.length ? '' : 'none'}`);
  const label = (cl: { label: string }): string => printable(cl.label, 'line');
  const labelWidth = Math.max(0, ...s.clients.map((cl) => label(cl).length));
  for (const cl of s.clients) lines.push(`  ${label(cl).padEnd(labelWidth)}  ${String(cl.fds).padStart(4)} fds  ${String(cl.buffers).padStart(4)} buffers  ${formatSize(cl.bytes).padStart(9)}`);
  lines.push(`buffers: ${s.buffersTotal}, allocated ${s.buffers.filter((b) => b.allocated).length}${s.buffersTotal > s.buffers.length ? ` of the first ${s.buffers.length}` : ''}; firewall denials: ${s.eventCounts.denial ?? 0}`);
  for (const b of s.buffers.filter((x) => x.label !== null)) lines.push(`  buffer ${b.buffer} "${printable(b.label ?? '', 'line')}": ${formatSize(b.length)}${b.allocator ? ` from ${b.allocator}` : ', no memory yet'}`);
  return lines;
}
