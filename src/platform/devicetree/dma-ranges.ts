/**
 * DMA addressing from a device tree, as the kernel reads it (drivers/of/address.c, device.c):
 * `dma-ranges` windows (of_dma_get_range: the first non-empty one from the node up; a missing one
 * above the node means no limit), translated through every parent bus to CPU addresses, and
 * `dma-coherent` (of_dma_is_coherent: on the node or a DMA parent).
 */
import { type FdtNode, cells, childCells, hasProp, joinCells } from './fdt.ts';

export interface DmaWindow {
  cpu: number;
  bus: number;
  size: number;
}

/** of_dma_get_range(): the DMA windows of a device, in CPU addresses, or none (no limit). */
export function dmaWindows(node: FdtNode): { windows?: DmaWindow[]; note?: string } {
  let n: FdtNode | null = node;
  let found = false;
  let prop: Uint8Array | undefined;
  while (n) {
    prop = n.props.get('dma-ranges');
    if (prop && prop.length > 0) break;
    if (found && !prop) return {};
    found = true;
    n = n.parent;
  }
  if (!n || !prop || prop.length === 0) return {};
  const bus = n;
  const child = childCells(bus);
  const parentAddr = bus.parent ? childCells(bus.parent).address : 2;
  const c = cells(bus, 'dma-ranges')!;
  const stride = child.address + parentAddr + child.size;
  if (c.length % stride !== 0) return { note: `${bus.path}: dma-ranges has ${c.length} cells, not a multiple of ${stride}: ignored` };
  const windows: DmaWindow[] = [];
  for (let i = 0; i < c.length; i += stride) {
    const busAddr = Number(joinCells(c, i, child.address));
    const parent = Number(joinCells(c, i + child.address, parentAddr));
    const size = Number(joinCells(c, i + child.address + parentAddr, child.size));
    const cpu = translateUp(bus, parent);
    if (cpu === undefined || size === 0) continue;
    windows.push({ cpu, bus: busAddr, size });
  }
  return windows.length > 0 ? { windows } : { note: `${bus.path}: no dma-ranges window translates to CPU addresses: ignored` };
}

/** An address in `bus.parent`'s space -> a CPU address, through the ancestors' dma-ranges (missing or empty: 1:1). */
function translateUp(bus: FdtNode, addr: number): number | undefined {
  let a = addr;
  for (let p = bus.parent; p && p.parent; p = p.parent) {
    const prop = p.props.get('dma-ranges');
    if (!prop || prop.length === 0) continue;
    const child = childCells(p);
    const pa = childCells(p.parent).address;
    const c = cells(p, 'dma-ranges')!;
    const stride = child.address + pa + child.size;
    if (c.length % stride !== 0) return undefined;
    let hit: number | undefined;
    for (let i = 0; i < c.length && hit === undefined; i += stride) {
      const from = Number(joinCells(c, i, child.address));
      const to = Number(joinCells(c, i + child.address, pa));
      const size = Number(joinCells(c, i + child.address + pa, child.size));
      if (a >= from && a < from + size) hit = to + (a - from);
    }
    if (hit === undefined) return undefined;
    a = hit;
  }
  return a;
}

/** of_dma_is_coherent(): `dma-coherent` on the node or a DMA parent. */
export function dmaCoherent(node: FdtNode): boolean {
  for (let n: FdtNode | null = node; n; n = n.parent) if (hasProp(n, 'dma-coherent')) return true;
  return false;
}

/** Number of address bits needed for `end` (ilog2(end) + 1). */
export function bitsFor(end: number): number {
  return end <= 0 ? 1 : Math.floor(Math.log2(end)) + 1;
}
