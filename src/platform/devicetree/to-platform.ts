/**
 * A flattened device tree (plus an optional overlay) -> a platform document (the YAML platform
 * format, as an object) and its validated PlatformSpec, with a report of what was understood.
 *
 * The rules follow the kernel (drivers/of/fdt.c, of_reserved_mem.c, address.c, device.c;
 * kernel/dma/contiguous.c):
 * - DRAM: root children with `device_type = "memory"`, `reg` (or `linux,usable-memory`) read with
 *   the root's #address-cells/#size-cells; banks of size 0 are left to the boot loader.
 * - /memreserve/ entries and /reserved-memory children (root cell counts, as the kernel requires)
 *   are reserved: static `reg` first, then dynamic `size` nodes in tree order, placed top-down
 *   by memblock inside their `alloc-ranges` with their `alignment` (a reusable shared-dma-pool at
 *   least CMA's pageblock alignment).
 * - shared-dma-pool named by an enabled DMA master's `memory-region` -> that device's pool
 *   (carveout); else reusable -> CMA (`linux,cma-default` first, smaf-cma's pool); anything else
 *   -> reserved, never handed out.
 * - No default pool (or `--cma`/overlay `cma`, which bypass the tree's, as `cma=` does): one is
 *   placed as dma_contiguous_reserve() does, 64 MiB top-down below 4 GiB.
 * - DMA masters: enabled nodes with `iommus`, with a shared-dma-pool `memory-region`, or named by
 *   the overlay. `dma-ranges` as of_dma_get_range(): the first non-empty one from the node up,
 *   a missing one above the node means no limit; masks start at 32 bits and are ANDed with the
 *   window's end (of_dma_configure). `dma-coherent` on the node or a DMA parent is recorded.
 */
import { formatSize, hex } from '../../common/units.ts';
import { physLimit as physLimitOf } from '../device.ts';
import { checkPlatform, formatPlatformPath, type PlatformIssue, type PlatformSpec } from '../loader.ts';
import { type Fdt, type FdtNode, childCells, findPath, hasProp, isEnabled, phandles, regPairs, stringProp, strings, walk, cells, joinCells } from './fdt.ts';
import { bitsFor, dmaCoherent, dmaWindows } from './dma-ranges.ts';
import { Memblock } from './memblock.ts';
import type { CmaRequest, DtOverlay, OverlayDevice } from './overlay.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
/** dma_contiguous_reserve() without cma=: CONFIG_CMA_SIZE_MBYTES=64 below the 32-bit DMA zone's top. */
const DEFAULT_CMA_SIZE = 64 * MiB;
const DEFAULT_CMA_LIMIT = 4 * GiB;
/** CMA_MIN_ALIGNMENT_BYTES: one pageblock (order 9 with 4 KiB pages: 2 MiB). */
const CMA_MIN_ALIGNMENT = 2 * MiB;
/** When the tree leaves DRAM to the boot loader and the overlay does not say. */
const ASSUMED_DRAM_SIZE = 2 * GiB;
/** DRAM the emulator models at most (one bit and one stack slot per page: 64 GiB is 16 M pages). */
const MAX_EMULATED_DRAM = 64 * GiB;
/** The kernel's default DMA mask for platform devices. */
const DEFAULT_DMA_BITS = 32;
const MAX_NAME = 63;

export interface DtOptions {
  /** The .dtb/.dts name, for messages. */
  readonly source?: string;
  readonly overlay?: DtOverlay;
  readonly overlaySource?: string;
  /** `--cma SIZE[@LIMIT]`: wins over the overlay's `cma`. */
  readonly cma?: CmaRequest;
  readonly pageSize?: number;
}

/** What the loader understood about a region: why it is what it is. */
export interface DtRegionReport {
  readonly name: string;
  readonly kind: string;
  readonly base: number;
  readonly size: number;
  readonly node?: string;
  readonly why: string;
}

export interface DtDeviceReport {
  readonly name: string;
  readonly node: string;
  readonly compatible: string;
  readonly iommu: boolean;
  readonly dmaMask: number;
  /** Highest physical address the device reaches without an IOMMU. */
  readonly limit: number;
  readonly pool?: string;
  readonly coherent: boolean;
  readonly why: string;
}

export interface DtReport {
  readonly model: string;
  readonly compatible: readonly string[];
  readonly regions: readonly DtRegionReport[];
  readonly devices: readonly DtDeviceReport[];
  /** DMA masters left out, and why (disabled nodes). */
  readonly skipped: readonly { node: string; why: string }[];
  /** Assumptions and kernel behaviours worth knowing (bootloader-filled DRAM, bypassed pools...). */
  readonly notes: readonly string[];
}

/** The platform document: exactly the YAML platform format (what `smaf platform convert` prints). */
export interface PlatformDoc {
  name: string;
  page_size: number;
  memory: Record<string, unknown>[];
  devices: Record<string, unknown>[];
  tee?: { sdp_max_regions: number };
}

export interface DtPlatform {
  readonly doc: PlatformDoc;
  readonly spec: PlatformSpec;
  readonly report: DtReport;
}

/** A load error listing every problem with where it comes from (file, overlay field, node path). */
export class DtError extends TypeError {
  constructor(readonly problems: readonly string[], header: string) {
    super(`${header}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

interface Pending {
  node: FdtNode;
  name: string;
  base: number;
  size: number;
  nomap: boolean;
  reusable: boolean;
  compatible: string[];
  cmaDefault: boolean;
  dynamic: boolean;
}

interface Master {
  node: FdtNode;
  name: string;
  why: string[];
  iommu: boolean;
  iommuNote?: string;
  pool?: Pending;
  overlayKey?: string;
  overlay?: OverlayDevice;
}

const toNumber = (v: bigint, what: string): number => {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${what}: ${hex(v)} does not fit in 53 bits`);
  return Number(v);
};

/** Build a platform from a parsed tree. Throws DtError (a TypeError: EINVAL at the boundary) listing every problem. */
export function platformFromDeviceTree(fdt: Fdt, options: DtOptions = {}): DtPlatform {
  const pageSize = options.pageSize ?? 4096;
  const source = options.source ?? 'device tree';
  const overlay = options.overlay;
  const ovSource = options.overlaySource ?? 'overlay';
  const root = fdt.root;
  const notes: string[] = [];
  const problems: string[] = [];
  const rootCells = childCells(root);
  const byPhandle = phandles(root);
  const model = stringProp(root, 'model') ?? '';
  const compatible = strings(root, 'compatible') ?? [];

  // ---- DRAM ----
  let banks: { base: number; size: number; node?: string; from?: string }[] = [];
  const memoryNodes = root.children.filter((n) => stringProp(n, 'device_type') === 'memory' && isEnabled(n));
  for (const n of memoryNodes) {
    const pairs = regPairs(n, hasProp(n, 'linux,usable-memory') ? 'linux,usable-memory' : 'reg', rootCells.address, rootCells.size) ?? [];
    for (const p of pairs) {
      if (p.size === 0n) {
        notes.push(`${n.path}: reg size 0 (the boot loader fills it in)`);
        continue;
      }
      banks.push({ base: toNumber(p.address, `${n.path} reg`), size: toNumber(p.size, `${n.path} reg`), node: n.path });
    }
  }
  if (overlay?.dram) {
    const list = Array.isArray(overlay.dram) ? overlay.dram : [overlay.dram];
    const defaultBase = banks[0]?.base ?? unitAddress(memoryNodes[0]) ?? 0;
    banks = list.map((b) => ({ base: b.base ?? defaultBase, size: b.size, from: `"dram" of ${ovSource}` }));
    notes.push(`DRAM from ${ovSource}: ${banks.map((b) => `${formatSize(b.size)} at ${hex(b.base)}`).join(', ')}`);
  }
  const staticReservedEnd = (): number => {
    let end = 0;
    const rm = root.children.find((c) => c.name === 'reserved-memory');
    for (const c of rm?.children ?? []) for (const p of regPairs(c, 'reg', rootCells.address, rootCells.size) ?? []) end = Math.max(end, Number(p.address + p.size));
    return end;
  };
  if (banks.length === 0) {
    const base = unitAddress(memoryNodes[0]) ?? 0;
    const size = Math.max(ASSUMED_DRAM_SIZE, Math.ceil((staticReservedEnd() - base) / GiB) * GiB);
    banks.push({ base, size, from: 'assumed: the tree gives no size' });
    notes.push(`the tree gives no DRAM size: assumed ${formatSize(size)} at ${hex(base)} (set "dram: { size: ... }" in an overlay)`);
  }
  // DRAM in whole pages
  banks = banks.map((b) => {
    const base = Math.ceil(b.base / pageSize) * pageSize;
    const end = Math.floor((b.base + b.size) / pageSize) * pageSize;
    return { ...b, base, size: end - base };
  }).filter((b) => b.size > 0).sort((a, b) => a.base - b.base);
  const totalDram = banks.reduce((n, b) => n + b.size, 0);
  if (totalDram > MAX_EMULATED_DRAM) {
    throw new DtError([`${source}: ${formatSize(totalDram)} of DRAM is more than the ${formatSize(MAX_EMULATED_DRAM)} this emulator models; give a smaller "dram:" in an overlay`], `${source} does not make a valid platform`);
  }
  const memblock = new Memblock(banks, pageSize);

  // ---- reserved memory ----
  const reservedRanges: DtRegionReport[] = [];
  const pageOut = (base: number, size: number): { base: number; size: number } => {
    const b = Math.floor(base / pageSize) * pageSize;
    return { base: b, size: Math.ceil((base + size) / pageSize) * pageSize - b };
  };
  fdt.reservations.forEach((r, i) => {
    if (r.size === 0n) return;
    const { base, size } = pageOut(toNumber(r.address, '/memreserve/'), toNumber(r.size, '/memreserve/'));
    memblock.reserve(base, size);
    reservedRanges.push({ name: `memreserve-${i}`, kind: 'reserved', base, size, why: '/memreserve/ entry of the blob header (boot loader, firmware)' });
  });

  const pending: Pending[] = [];
  const rm = root.children.find((c) => c.name === 'reserved-memory');
  if (rm && isEnabled(rm)) {
    const rmCells = childCells(rm);
    if (rmCells.address !== rootCells.address || rmCells.size !== rootCells.size || !hasProp(rm, 'ranges')) {
      notes.push(`${rm.path}: its #address-cells/#size-cells differ from the root's or "ranges" is missing: the kernel ignores it, so does this loader`);
    } else {
      const cliCma = options.cma ?? overlay?.cma;
      for (const child of rm.children) {
        if (!isEnabled(child)) continue;
        const compat = strings(child, 'compatible') ?? [];
        const nomap = hasProp(child, 'no-map');
        const reusable = hasProp(child, 'reusable');
        const cmaDefault = hasProp(child, 'linux,cma-default');
        if (cmaDefault && cliCma && compat.includes('shared-dma-pool') && reusable) {
          notes.push(`${child.path}: bypassed, the ${options.cma ? '--cma option' : `"cma" of ${ovSource}`} gives the default CMA pool instead (as the kernel's cma= does)`);
          continue;
        }
        const regs = regPairs(child, 'reg', rootCells.address, rootCells.size);
        const base: Omit<Pending, 'name' | 'base' | 'size' | 'dynamic'> = { node: child, nomap, reusable, compatible: compat, cmaDefault };
        if (regs && regs.length > 0) {
          regs.forEach((r, k) => {
            if (r.size === 0n) return;
            pending.push({ ...base, name: k === 0 ? child.name : `${child.name}.${k}`, base: toNumber(r.address, `${child.path} reg`), size: toNumber(r.size, `${child.path} reg`), dynamic: false });
          });
        } else if (hasProp(child, 'size')) {
          pending.push({ ...base, name: child.name, base: 0, size: 0, dynamic: true });
        } else {
          notes.push(`${child.path}: neither "reg" nor "size": ignored`);
        }
      }
      // static ranges are reserved first (fdt_scan_reserved_mem), dynamic ones placed after, in tree order
      for (const p of pending.filter((x) => !x.dynamic)) {
        const poolish = p.compatible.includes('shared-dma-pool');
        if (poolish) {
          // a pool hands out whole pages inside its range
          const b = Math.ceil(p.base / pageSize) * pageSize;
          const e = Math.floor((p.base + p.size) / pageSize) * pageSize;
          if (b !== p.base || e !== p.base + p.size) notes.push(`${p.node.path}: range ${hex(p.base)}+${hex(p.size)} trimmed to whole pages`);
          memblock.reserve(p.base, p.size);
          p.base = b;
          p.size = Math.max(0, e - b);
        } else {
          const r = pageOut(p.base, p.size);
          memblock.reserve(r.base, r.size);
          p.base = r.base;
          p.size = r.size;
        }
      }
      for (const p of pending.filter((x) => x.dynamic)) {
        const placed = placeDynamic(p, rootCells, memblock, pageSize);
        if (typeof placed === 'string') {
          notes.push(`${p.node.path}: ${placed}: left out, as the kernel would`);
          p.size = 0;
        } else {
          p.base = placed.base;
          p.size = placed.size;
        }
      }
    }
  }
  const livePending = pending.filter((p) => p.size > 0);

  // ---- DMA masters ----
  const poolByNode = new Map<FdtNode, Pending>();
  // the default CMA pool stays everyone's even when a device names it
  for (const p of livePending) if (p.compatible.includes('shared-dma-pool') && !p.cmaDefault && !poolByNode.has(p.node)) poolByNode.set(p.node, p);
  const overlayByNode = new Map<string, { key: string; dev: OverlayDevice }>();
  const overlayByName = new Map<string, OverlayDevice>();
  for (const [key, dev] of Object.entries(overlay?.devices ?? {})) {
    if (dev.node === undefined) {
      overlayByName.set(key, dev);
      continue;
    }
    const target = findPath(root, dev.node);
    if (!target) {
      problems.push(`${ovSource}: devices.${key}.node: no node ${dev.node} in ${source}`);
      continue;
    }
    if (!enabledWithParents(target)) {
      problems.push(`${ovSource}: devices.${key}.node: ${target.path} is disabled (status = "${stringProp(target, 'status') ?? 'disabled'}" on it or a parent)`);
      continue;
    }
    if (overlayByNode.has(target.path)) {
      problems.push(`${ovSource}: devices.${key}.node: ${target.path} is already devices.${overlayByNode.get(target.path)!.key}`);
      continue;
    }
    overlayByNode.set(target.path, { key, dev });
  }

  const masters: Master[] = [];
  const skipped: { node: string; why: string }[] = [];
  const skipSubtrees = new Set(['reserved-memory', 'chosen', 'aliases', '__symbols__', '__fixups__', '__local_fixups__', 'memory']);
  for (const n of walk(root)) {
    if (n === root) continue;
    if (n.path.split('/').slice(1, 2).some((top) => skipSubtrees.has(top.split('@')[0]!))) continue;
    const why: string[] = [];
    let iommu = false;
    let iommuNote: string | undefined;
    if (hasProp(n, 'iommus')) {
      const c = cells(n, 'iommus') ?? [];
      const target = c[0] !== undefined ? byPhandle.get(c[0]) : undefined;
      if (target && !isEnabled(target)) iommuNote = `its IOMMU ${target.path} is disabled: DMA goes untranslated`;
      else iommu = true;
      why.push('iommus');
    }
    const pools = (cells(n, 'memory-region') ?? []).flatMap((ph) => {
      const p = poolByNode.get(byPhandle.get(ph) as FdtNode);
      return p ? [p] : [];
    });
    const pool = pools[0];
    if (pool) why.push(`memory-region ${pool.node.path}`);
    if (pools.length > 1) notes.push(`${n.path}: names ${pools.length} DMA pools; the first (${pool!.node.path}) becomes its pool, the others are classified as if no device named them`);
    const ov = overlayByNode.get(n.path);
    if (ov) why.push(`named by ${ovSource}`);
    if (why.length === 0) continue;
    if (!enabledWithParents(n)) {
      skipped.push({ node: n.path, why: `disabled (status = "${stringProp(n, 'status') ?? 'disabled'}" on it or a parent) although it has ${why.join(', ')}` });
      continue;
    }
    masters.push({ node: n, name: n.name, why, iommu, ...(iommuNote ? { iommuNote } : {}), ...(pool ? { pool } : {}), ...(ov ? { overlayKey: ov.key, overlay: ov.dev } : {}) });
  }

  // names: the node name; the full path when two masters share it; the overlay's alias first
  const count = new Map<string, number>();
  for (const m of masters) count.set(m.node.name, (count.get(m.node.name) ?? 0) + 1);
  for (const m of masters) {
    if (m.overlayKey !== undefined) m.name = m.overlayKey;
    else if ((count.get(m.node.name) ?? 0) > 1) m.name = m.node.path;
    if (utf8Length(m.name) > MAX_NAME) {
      problems.push(`${source}: node ${m.node.path}: the device name "${m.name}" is longer than the ${MAX_NAME} bytes ATTACH carries; give it a short name in an overlay (devices: { NAME: { node: ${m.node.path} } })`);
    }
  }
  for (const [key, dev] of overlayByName) {
    const m = masters.find((x) => x.name === key || x.node.path === key || x.node.name === key);
    if (!m) {
      problems.push(`${ovSource}: devices.${key}: no DMA master of ${source} is called "${key}"; add "node: /path/to/node" to name one`);
      continue;
    }
    m.overlay = { ...dev, ...m.overlay };
    m.overlayKey = m.overlayKey ?? key;
  }

  // ---- regions: classify ----
  const usedPools = new Set<Pending>(masters.flatMap((m) => (m.pool ? [m.pool] : [])));
  const poolRegions: DtRegionReport[] = [];
  const cmaRegions: DtRegionReport[] = [];
  let haveDefault = false;
  for (const p of livePending) {
    const flags = [p.compatible[0] ?? 'no compatible', p.reusable ? 'reusable' : '', p.nomap ? 'no-map' : ''].filter(Boolean).join(', ');
    if (p.compatible.includes('shared-dma-pool') && usedPools.has(p)) {
      const users = masters.filter((m) => m.pool === p).map((m) => m.name);
      poolRegions.push({ name: p.name, kind: 'carveout', base: p.base, size: p.size, node: p.node.path, why: `device pool of ${users.join(', ')} (${flags})` });
    } else if (p.compatible.includes('shared-dma-pool') && p.reusable && !p.nomap) {
      const r = { name: p.name, kind: 'cma', base: p.base, size: p.size, node: p.node.path, why: `${p.cmaDefault ? 'default CMA pool (linux,cma-default)' : 'CMA pool'} (${flags})` };
      if (p.cmaDefault && !haveDefault) {
        cmaRegions.unshift(r);
        haveDefault = true;
      } else cmaRegions.push(r);
    } else {
      const why = p.nomap ? `no-map: ${describeOwner(p)}, never handed out` : `reserved: ${describeOwner(p)}, never handed out`;
      reservedRanges.push({ name: p.name, kind: 'reserved', base: p.base, size: p.size, node: p.node.path, why: `${why} (${flags})` });
    }
  }

  // the overlay's secure carveout, placed like a reserved-memory node would be
  const secureRegions: DtRegionReport[] = [];
  if (overlay?.secure_carveout) {
    const sc = overlay.secure_carveout;
    const name = sc.name ?? 'sdp';
    const size = Math.ceil(sc.size / pageSize) * pageSize;
    if (sc.base !== undefined) {
      memblock.reserve(sc.base, size);
      secureRegions.push({ name, kind: 'secure-carveout', base: sc.base, size, why: `secure carveout for the SDP path (${ovSource}, fixed at ${hex(sc.base)})` });
    } else {
      const limit = sc.limit ?? DEFAULT_CMA_LIMIT;
      const base = memblock.allocate(size, sc.alignment ?? MiB, 0, limit);
      if (base === null) problems.push(`${ovSource}: secure_carveout: no free ${formatSize(size)} of DRAM below ${hex(limit)}`);
      else secureRegions.push({ name, kind: 'secure-carveout', base, size, why: `secure carveout for the SDP path (${ovSource}), carved from DRAM below ${hex(limit)}` });
    }
  }

  // the default CMA pool, as dma_contiguous_reserve() places it
  if (!haveDefault) {
    const req: CmaRequest | undefined = options.cma ?? overlay?.cma;
    const size = req?.size ?? DEFAULT_CMA_SIZE;
    const limit = req?.limit ?? DEFAULT_CMA_LIMIT;
    const by = options.cma ? '--cma' : overlay?.cma ? `"cma" of ${ovSource}` : 'the kernel default (cma=64M)';
    if (size === 0) notes.push(`no default CMA pool (${by} asks for 0)`);
    else {
      const aligned = Math.ceil(size / CMA_MIN_ALIGNMENT) * CMA_MIN_ALIGNMENT;
      const base = memblock.allocate(aligned, CMA_MIN_ALIGNMENT, 0, limit);
      if (base === null) {
        const msg = `no free ${formatSize(aligned)} of DRAM below ${hex(limit)} for the default CMA pool (${by})`;
        if (req) problems.push(`${options.cma ? '--cma' : `${ovSource}: cma`}: ${msg}`);
        else notes.push(`${msg}: the platform has no CMA`);
      } else {
        const name = cmaRegions.some((r) => r.name === 'cma') ? 'cma-default' : 'cma';
        cmaRegions.unshift({ name, kind: 'cma', base, size: aligned, why: `default CMA pool: ${formatSize(aligned)} top-down below ${hex(limit)} (${by})` });
      }
    }
  }

  // ---- the document ----
  const drams: DtRegionReport[] = banks.map((b, i) => ({ name: i === 0 ? 'dram' : `dram${i}`, kind: 'system', base: b.base, size: b.size, ...(b.node ? { node: b.node } : {}), why: b.node ? `DRAM (${b.node})` : `DRAM (${b.from ?? 'assumed'})` }));
  const regions = [...drams, ...cmaRegions, ...poolRegions, ...secureRegions, ...reservedRanges];
  // names must be unique: a second "foo" becomes "foo-2"
  const seen = new Set<string>();
  for (const r of regions) {
    let n = r.name;
    for (let k = 2; seen.has(n); k++) n = `${r.name}-${k}`;
    seen.add(n);
    (r as { name: string }).name = n;
  }
  const poolName = new Map<Pending, string>();
  for (const p of usedPools) poolName.set(p, regions.find((r) => r.node === p.node.path && r.kind === 'carveout' && r.base === p.base)!.name);

  const devices: Record<string, unknown>[] = [];
  const deviceOrigins: Master[] = [];
  const deviceReports: DtDeviceReport[] = [];
  for (const m of masters) {
    const dma = dmaWindows(m.node);
    if (dma.note) notes.push(dma.note);
    const busEnd = dma.windows ? Math.max(...dma.windows.map((w) => w.bus + w.size - 1)) : undefined;
    const bits = busEnd !== undefined ? Math.min(DEFAULT_DMA_BITS, bitsFor(busEnd)) : DEFAULT_DMA_BITS;
    const coherent = dmaCoherent(m.node);
    const compat = strings(m.node, 'compatible')?.[0] ?? '';
    const doc: Record<string, unknown> = {
      name: m.name,
      class: 'generic',
      dma_mask: bits,
      iommu: m.iommu,
      secure: false,
      ...(m.pool ? { memory_region: poolName.get(m.pool) } : {}),
      ...(compat ? { description: compat.slice(0, 200) } : {}),
      node: m.node.path,
      ...(coherent ? { dma_coherent: true } : {}),
      ...(dma.windows ? { dma_ranges: dma.windows } : {}),
    };
    for (const [k, v] of Object.entries(m.overlay ?? {})) if (k !== 'node' && v !== undefined) doc[k] = v;
    devices.push(doc);
    deviceOrigins.push(m);
    if (m.iommuNote) notes.push(`${m.node.path}: ${m.iommuNote}`);
  }

  const doc: PlatformDoc = {
    name: overlay?.name ?? (model || compatible[0] || source).slice(0, 63),
    page_size: pageSize,
    memory: regions.map((r) => ({ name: r.name, base: hex(r.base), size: hex(r.size), kind: r.kind, ...(r.node ? { node: r.node } : {}), description: r.why.slice(0, 200) })),
    devices,
    ...(overlay?.tee ? { tee: { sdp_max_regions: overlay.tee.sdp_max_regions } } : {}),
  };
  const checked = checkPlatform(doc);
  if (!checked.ok) for (const issue of checked.issues) problems.push(describeIssue(issue, deviceOrigins, regions, source, ovSource));
  if (problems.length > 0 || !checked.ok) {
    throw new DtError(problems, `${source}${options.overlaySource ? ` with ${options.overlaySource}` : ''} does not make a valid platform`);
  }
  const spec = checked.spec;
  for (const d of spec.devices) {
    const m = deviceOrigins[spec.devices.indexOf(d)]!;
    deviceReports.push({
      name: d.name, node: m.node.path, compatible: strings(m.node, 'compatible')?.[0] ?? '', iommu: d.iommu, dmaMask: d.dmaMask,
      limit: physLimitOf(d), ...(d.memoryRegion ? { pool: d.memoryRegion } : {}), coherent: d.dmaCoherent ?? false, why: m.why.join(', '),
    });
  }
  return { doc, spec, report: { model, compatible, regions, devices: deviceReports, skipped, notes } };
}


function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

function unitAddress(n: FdtNode | undefined): number | undefined {
  const at = n?.name.split('@')[1];
  if (at === undefined || !/^[0-9a-f]+$/i.test(at)) return undefined;
  const v = parseInt(at, 16);
  return Number.isSafeInteger(v) ? v : undefined;
}

function enabledWithParents(n: FdtNode): boolean {
  for (let p: FdtNode | null = n; p; p = p.parent) if (!isEnabled(p)) return false;
  return true;
}

function describeOwner(p: Pending): string {
  const base = p.node.name.split('@')[0]!;
  if (/secmon|tz|trust|optee|bl31|atf|qtee|tee/i.test(base)) return `secure world firmware (${base})`;
  if (/hyp|xen|gunyah/i.test(base)) return `hypervisor (${base})`;
  if (/rproc|adsp|cdsp|mpss|modem|wlan|venus|slpi|ipa|dsp|mcu|m4|remoteproc|pil/i.test(base)) return `remote processor memory (${base})`;
  if (/ramoops|pstore/i.test(base)) return `crash log (${base})`;
  return base;
}

function placeDynamic(p: Pending, rootCells: { address: number; size: number }, memblock: Memblock, pageSize: number): { base: number; size: number } | string {
  const sizeCells = cells(p.node, 'size') ?? [];
  if (sizeCells.length !== rootCells.size) return `"size" is ${sizeCells.length} cells, the root's #size-cells is ${rootCells.size}`;
  let size = Number(joinCells(sizeCells, 0, rootCells.size));
  size = Math.ceil(size / pageSize) * pageSize;
  let align = 0;
  const a = cells(p.node, 'alignment');
  if (a) {
    if (a.length !== rootCells.address) return `"alignment" is ${a.length} cells, the root's #address-cells is ${rootCells.address}`;
    align = Number(joinCells(a, 0, rootCells.address));
  }
  if (p.compatible.includes('shared-dma-pool') && p.reusable && !p.nomap) align = Math.max(align, CMA_MIN_ALIGNMENT);
  const ranges = regPairs(p.node, 'alloc-ranges', rootCells.address, rootCells.size);
  if (ranges) {
    for (const r of ranges) {
      const start = Number(r.address);
      const base = memblock.allocate(size, align, start, start + Number(r.size));
      if (base !== null) return { base, size };
    }
    return `no free ${formatSize(size)} inside its alloc-ranges`;
  }
  const base = memblock.allocate(size, align, 0, 0);
  return base === null ? `no free ${formatSize(size)} of DRAM` : { base, size };
}

function describeIssue(issue: PlatformIssue, origins: readonly Master[], regions: readonly DtRegionReport[], source: string, ovSource: string): string {
  const [section, index, ...rest] = issue.path;
  if (section === 'devices' && typeof index === 'number') {
    const m = origins[index];
    const field = rest.length ? formatPlatformPath(rest) : '';
    const fromOverlay = m?.overlay !== undefined && typeof rest[0] === 'string' && rest[0] in m.overlay;
    if (m && fromOverlay) return `${ovSource}: devices.${m.overlayKey}${field ? `.${field}` : ''} (node ${m.node.path}): ${issue.message}`;
    return `${source}: node ${m?.node.path ?? '?'}${field ? ` (${field})` : ''}: ${issue.message}`;
  }
  if (section === 'memory' && typeof index === 'number') {
    const r = regions[index];
    const field = rest.length ? ` (${formatPlatformPath(rest)})` : '';
    const origin = (x: DtRegionReport | undefined): string => (x?.kind === 'secure-carveout' ? `${ovSource}: secure_carveout` : x?.node ? `${source}: node ${x.node}` : `${source}: region "${x?.name}"`);
    // an overlap names the other region: say where that one comes from too
    const other = /overlaps "([^"]+)"/.exec(issue.message)?.[1];
    const otherRegion = other !== undefined ? regions.find((x) => x.name === other) : undefined;
    return `${origin(r)}${field}: ${issue.message}${otherRegion ? ` (${origin(otherRegion)})` : ''}`;
  }
  return `${source}: ${formatPlatformPath(issue.path)}: ${issue.message}`;
}
