/** `smaf platform show|convert FILE`: what a platform file (YAML, .dtb, .dts, overlay) makes, without a daemon. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { formatSize, hex } from '../common/units.ts';
import { physLimit, platformDocument } from '../platform/index.ts';
import { parseCmaOption, type CmaRequest } from '../platform/devicetree/index.ts';
import { parser } from '../daemon/options.ts';
import { loadPlatformFile, type LoadedPlatform } from '../platform-file/load.ts';
import { out } from './context.ts';


const span = (base: number, size: number): string => `${hex(base)}-${hex(base + size - 1)}`;

/** The human report of `smaf platform show`. */
function formatPlatform(file: string, loaded: LoadedPlatform): string {
  const { spec, dt } = loaded;
  const lines: string[] = [];
  lines.push(`platform "${spec.name}" from ${file} (${loaded.format === 'platform' ? 'YAML platform' : loaded.format === 'overlay' ? 'device tree + overlay' : `device tree, ${loaded.format}`})`);
  if (loaded.treeFile && loaded.format === 'overlay') lines.push(`  device tree: ${loaded.treeFile}`);
  if (dt?.report.compatible.length) lines.push(`  compatible: ${dt.report.compatible.join(', ')}`);
  const why = new Map((dt?.report.regions ?? []).map((r) => [r.name, r.why]));
  const pools = spec.memory.filter((r) => r.kind !== 'reserved');
  const reserved = spec.memory.filter((r) => r.kind === 'reserved');
  const w = Math.max(8, ...spec.memory.map((r) => r.name.length));
  lines.push('\nmemory (handed out by allocators):');
  for (const r of pools) lines.push(`  ${r.name.padEnd(w)}  ${r.kind.padEnd(15)} ${span(r.base, r.size)}  ${formatSize(r.size).padStart(9)}  ${why.get(r.name) ?? r.description ?? ''}`);
  lines.push(`\nreserved (never handed out): ${reserved.length ? `${reserved.length} ranges, ${formatSize(reserved.reduce((n, r) => n + r.size, 0))}` : 'none'}`);
  for (const r of reserved) lines.push(`  ${r.name.padEnd(w)}  ${span(r.base, r.size)}  ${formatSize(r.size).padStart(9)}  ${why.get(r.name) ?? r.description ?? ''}`);
  lines.push(`\ndevices (DMA masters): ${spec.devices.length}`);
  const dw = Math.max(8, ...spec.devices.map((d) => d.name.length));
  for (const d of spec.devices) {
    const rep = dt?.report.devices.find((x) => x.name === d.name);
    const reach = d.iommu ? `IOMMU, IOVA below ${hex(2 ** d.dmaMask)}` : `direct, reaches ${hex(physLimit(d))}`;
    const extra = [d.class !== 'generic' ? d.class : '', d.secure ? 'secure' : '', d.memoryRegion ? `pool ${d.memoryRegion}` : '', d.dmaCoherent ? 'dma-coherent' : ''].filter(Boolean).join(', ');
    lines.push(`  ${d.name.padEnd(dw)}  ${String(d.dmaMask).padStart(2)}-bit  ${reach}${extra ? `  [${extra}]` : ''}`);
    if (d.node && d.node !== d.name) lines.push(`  ${''.padEnd(dw)}  ${d.node}${rep ? ` (${rep.compatible || 'no compatible'}; ${rep.why})` : ''}`);
    else if (rep) lines.push(`  ${''.padEnd(dw)}  ${rep.compatible || 'no compatible'}; ${rep.why}`);
  }
  if (dt?.report.skipped.length) {
    lines.push('\nskipped:');
    for (const s of dt.report.skipped) lines.push(`  ${s.node}: ${s.why}`);
  }
  if (dt?.report.notes.length) {
    lines.push('\nnotes:');
    for (const n of dt.report.notes) lines.push(`  ${n}`);
  }
  return lines.join('\n');
}

/** The YAML platform equivalent to a loaded file (`smaf platform convert`). */
export function convertPlatform(file: string, loaded: LoadedPlatform): string {
  const doc = loaded.dt?.doc ?? platformDocument(loaded.spec);
  return `# ${loaded.spec.name}: converted by "smaf platform convert ${file}"\n${stringify(doc, { lineWidth: 0 })}`;
}

export function registerPlatformCommands(program: Command, json: () => boolean): void {
  const platform = program.command('platform').description('inspect or convert a platform file (YAML, .dtb, .dts, device-tree overlay) without a daemon');
  const cmaOption = ['--cma <size[@limit]>', 'default CMA pool of a device tree (as the kernel\'s cma=)'] as const;
  platform.command('show')
    .description('what was understood: regions, reserved ranges and why, devices with IOMMU, mask and pool')
    .argument('<file>')
    .option(...cmaOption, parser(parseCmaOption))
    .action((file: string, o: { cma?: CmaRequest }) => {
      const loaded = loadPlatformFile(file, o.cma ? { cma: o.cma } : {});
      if (json()) out(JSON.stringify({ format: loaded.format, platform: loaded.dt?.doc ?? platformDocument(loaded.spec), ...(loaded.dt ? { report: loaded.dt.report } : {}) }, null, 2));
      else out(formatPlatform(file, loaded));
    });
  platform.command('convert')
    .description('print the equivalent YAML platform (loading it gives the same platform)')
    .argument('<file>')
    .option(...cmaOption, parser(parseCmaOption))
    .action((file: string, o: { cma?: CmaRequest }) => {
      out(convertPlatform(file, loadPlatformFile(file, o.cma ? { cma: o.cma } : {})));
    });
}
