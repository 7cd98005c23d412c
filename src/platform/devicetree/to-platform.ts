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
import { checkPlatform, formatPlatformPath, PLATFORM_LIMITS, type PlatformIssue, type PlatformSpec } from '../loader.ts';
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
/** Notes and skipped nodes kept in a report; more are counted, not listed (a crafted tree could ask for one per node). */
const MAX_REPORT_LINES = 200;

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

interface Bank {
  base: number;
  size: number;
  node?: string;
  from?: string;
}

type Cells = { address: number; size: number };

/** What every step of the conversion reads, and the notes and problems they add to (in order). */
interface Build {
  readonly fdt: Fdt;
  readonly root: FdtNode;
  readonly options: DtOptions;
  readonly overlay: DtOverlay | undefined;
  readonly pageSize: number;
  readonly source: string;
  readonly ovSource: string;
  readonly rootCells: Cells;
  readonly byPhandle: Map<number, FdtNode>;
  readonly notes: string[];
  readonly problems: string[];
  /** Notes past MAX_REPORT_LINES, counted. */
  readonly dropped: { notes: number };
  /** Regions the tree asks for so far (DRAM banks, /memreserve/, reserved-memory ranges): checked against the platform's limit before they are placed. */
  regions: number;
}

/** The overlay's `devices`: those that name a node, and those that name a master by its name. */
interface OverlayDevices {
  readonly byNode: Map<FdtNode, { key: string; dev: OverlayDevice }>;
  readonly byName: Map<string, OverlayDevice>;
}

/** The reserved regions sorted by what they become. */
interface Classified {
  readonly poolRegions: DtRegionReport[];
  readonly cmaRegions: DtRegionReport[];
  readonly haveDefault: boolean;
}

const toNumber = (v: bigint, what: string): number => {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${what}: ${hex(v)} does not fit in 53 bits`);
  return Number(v);
};

/** Build a platform from a parsed tree. Throws DtError (a TypeError: EINVAL at the boundary) listing every problem. */
export function platformFromDeviceTree(fdt: Fdt, options: DtOptions = {}): DtPlatform {
  const root = fdt.root;
  const b: Build = {
    fdt, root, options, overlay: options.overlay, pageSize: options.pageSize ?? 4096, source: options.source ?? 'device tree',
    ovSource: options.overlaySource ?? 'overlay', rootCells: childCells(root), byPhandle: phandles(root), notes: [], problems: [], dropped: { notes: 0 }, regions: 0,
  };
  const model = stringProp(root, 'model') ?? '';
  const compatible = strings(root, 'compatible') ?? [];

  const banks = readDram(b);
  const memblock = new Memblock(banks, b.pageSize);
  const reservedRanges = reserveMemreserve(b, memblock);
  const livePending = readReservedMemory(b, memblock).filter((p) => p.size > 0);

  const overlayDevices = readOverlayDevices(b);
  const { masters, skipped } = findMasters(b, livePending, overlayDevices.byNode);
  nameMasters(b, masters, overlayDevices.byName);

  const usedPools = new Set<Pending>(masters.flatMap((m) => (m.pool ? [m.pool] : [])));
  const { poolRegions, cmaRegions, haveDefault } = classifyReserved(livePending, masters, usedPools, reservedRanges);
  const secureRegions = placeSecureCarveout(b, memblock);
  if (!haveDefault) placeDefaultCma(b, memblock, cmaRegions);

  const regions = uniqueNames([...dramRegions(banks), ...cmaRegions, ...poolRegions, ...secureRegions, ...reservedRanges]);
  const poolName = new Map<Pending, string>();
  for (const p of usedPools) poolName.set(p, regions.find((r) => r.node === p.node.path && r.kind === 'carveout' && r.base === p.base)!.name);
  const devices = masters.map((m) => deviceDoc(b, m, poolName));

  const doc: PlatformDoc = {
    name: b.overlay?.name ?? clip(model || compatible[0] || b.source, 63),
    page_size: b.pageSize,
    memory: regions.map((r) => ({ name: r.name, base: hex(r.base), size: hex(r.size), kind: r.kind, ...(r.node ? { node: r.node } : {}), description: clip(r.why, 200) })),
    devices,
    ...(b.overlay?.tee ? { tee: { sdp_max_regions: b.overlay.tee.sdp_max_regions } } : {}),
  };
  const spec = checkDoc(b, doc, masters, regions);
  const notes = b.dropped.notes > 0 ? [...b.notes, `(${b.dropped.notes} more notes not shown)`] : b.notes;
  return { doc, spec, report: { model, compatible, regions, devices: deviceReports(spec, masters), skipped, notes } };
}

/** A note for the report, while there is room (MAX_REPORT_LINES); past it, only counted. */
function note(b: Build, text: string | (() => string)): void {
  if (b.notes.length < MAX_REPORT_LINES) b.notes.push(typeof text === 'string' ? text : text());
  else b.dropped.notes++;
}

/**
 * Count `n` more regions the tree asks for, before any of them is built or placed: past the
 * platform's limit the tree is refused at once (a crafted tree with thousands of ranges costs no
 * placement work).
 */
function countRegions(b: Build, n: number, where: () => string): void {
  b.regions += n;
  if (b.regions > PLATFORM_LIMITS.maxRegions) {
    throw new DtError([`${b.source}: ${where()}: the tree asks for more than ${PLATFORM_LIMITS.maxRegions} memory regions (DRAM banks, /memreserve/ entries and reserved-memory ranges), the most a platform has`], `${b.source} does not make a valid platform`);
  }
}

/** How many (address, size) pairs a reg-like property holds, from its length alone (nothing decoded). */
function pairCount(node: FdtNode, prop: string, c: Cells): number {
  const stride = (c.address + c.size) * 4;
  return stride === 0 ? 0 : Math.floor((node.props.get(prop)?.length ?? 0) / stride);
}

// ---- DRAM ----

/** The DRAM banks, in whole pages: the tree's, the overlay's instead, or an assumed one. */
function readDram(b: Build): Bank[] {
  const memoryNodes = b.root.children.filter((n) => stringProp(n, 'device_type') === 'memory' && isEnabled(n));
  let banks = dramFromTree(b, memoryNodes);
  if (b.overlay?.dram) {
    const list = Array.isArray(b.overlay.dram) ? b.overlay.dram : [b.overlay.dram];
    const defaultBase = banks[0]?.base ?? unitAddress(memoryNodes[0]) ?? 0;
    banks = list.map((d) => ({ base: d.base ?? defaultBase, size: d.size, from: `"dram" of ${b.ovSource}` }));
    note(b, `DRAM from ${b.ovSource}: ${banks.map((d) => `${formatSize(d.size)} at ${hex(d.base)}`).join(', ')}`);
  }
  if (banks.length === 0) {
    const base = unitAddress(memoryNodes[0]) ?? 0;
    const size = Math.max(ASSUMED_DRAM_SIZE, Math.ceil((staticReservedEnd(b) - base) / GiB) * GiB);
    banks.push({ base, size, from: 'assumed: the tree gives no size' });
    note(b, `the tree gives no DRAM size: assumed ${formatSize(size)} at ${hex(base)} (set "dram: { size: ... }" in an overlay)`);
  }
  banks = wholePages(banks, b.pageSize);
  const totalDram = banks.reduce((n, d) => n + d.size, 0);
  if (totalDram > MAX_EMULATED_DRAM) {
    throw new DtError([`${b.source}: ${formatSize(totalDram)} of DRAM is more than the ${formatSize(MAX_EMULATED_DRAM)} this emulator models; give a smaller "dram:" in an overlay`], `${b.source} does not make a valid platform`);
  }
  return banks;
}

function dramFromTree(b: Build, memoryNodes: readonly FdtNode[]): Bank[] {
  const banks: Bank[] = [];
  for (const n of memoryNodes) {
    const prop = hasProp(n, 'linux,usable-memory') ? 'linux,usable-memory' : 'reg';
    countRegions(b, pairCount(n, prop, b.rootCells), () => `${n.path} ${prop}`);
    const pairs = regPairs(n, prop, b.rootCells.address, b.rootCells.size) ?? [];
    for (const p of pairs) {
      if (p.size === 0n) {
        note(b, `${n.path}: reg size 0 (the boot loader fills it in)`);
        continue;
      }
      banks.push({ base: toNumber(p.address, `${n.path} reg`), size: toNumber(p.size, `${n.path} reg`), node: n.path });
    }
  }
  return banks;
}

function staticReservedEnd(b: Build): number {
  let end = 0;
  const rm = b.root.children.find((c) => c.name === 'reserved-memory');
  for (const c of rm?.children ?? []) for (const p of regPairs(c, 'reg', b.rootCells.address, b.rootCells.size) ?? []) end = Math.max(end, Number(p.address + p.size));
  return end;
}

/** DRAM in whole pages, sorted by base. */
function wholePages(banks: readonly Bank[], pageSize: number): Bank[] {
  return banks.map((d) => {
    const base = Math.ceil(d.base / pageSize) * pageSize;
    const end = Math.floor((d.base + d.size) / pageSize) * pageSize;
    return { ...d, base, size: end - base };
  }).filter((d) => d.size > 0).sort((x, y) => x.base - y.base);
}

function dramRegions(banks: readonly Bank[]): DtRegionReport[] {
  return banks.map((d, i) => ({ name: i === 0 ? 'dram' : `dram${i}`, kind: 'system', base: d.base, size: d.size, ...(d.node ? { node: d.node } : {}), why: d.node ? `DRAM (${d.node})` : `DRAM (${d.from ?? 'assumed'})` }));
}

// ---- reserved memory ----

/** A range widened to whole pages. */
function pageOut(base: number, size: number, pageSize: number): { base: number; size: number } {
  const b = Math.floor(base / pageSize) * pageSize;
  return { base: b, size: Math.ceil((base + size) / pageSize) * pageSize - b };
}

function reserveMemreserve(b: Build, memblock: Memblock): DtRegionReport[] {
  countRegions(b, b.fdt.reservations.filter((r) => r.size !== 0n).length, () => '/memreserve/');
  const reserved: DtRegionReport[] = [];
  b.fdt.reservations.forEach((r, i) => {
    if (r.size === 0n) return;
    const { base, size } = pageOut(toNumber(r.address, '/memreserve/'), toNumber(r.size, '/memreserve/'), b.pageSize);
    memblock.reserve(base, size);
    reserved.push({ name: `memreserve-${i}`, kind: 'reserved', base, size, why: '/memreserve/ entry of the blob header (boot loader, firmware)' });
  });
  return reserved;
}

/** /reserved-memory's children, reserved in memblock: static ranges first (fdt_scan_reserved_mem), dynamic ones placed after, in tree order. */
function readReservedMemory(b: Build, memblock: Memblock): Pending[] {
  const rm = b.root.children.find((c) => c.name === 'reserved-memory');
  if (!rm || !isEnabled(rm)) return [];
  const rmCells = childCells(rm);
  if (rmCells.address !== b.rootCells.address || rmCells.size !== b.rootCells.size || !hasProp(rm, 'ranges')) {
    note(b, `${rm.path}: its #address-cells/#size-cells differ from the root's or "ranges" is missing: the kernel ignores it, so does this loader`);
    return [];
  }
  const pending = rm.children.flatMap((child) => (isEnabled(child) ? pendingOf(b, child) : []));
  for (const p of pending.filter((x) => !x.dynamic)) reserveStatic(b, memblock, p);
  for (const p of pending.filter((x) => x.dynamic)) {
    const placed = placeDynamic(p, b.rootCells, memblock, b.pageSize);
    if (typeof placed === 'string') {
      note(b, `${p.node.path}: ${placed}: left out, as the kernel would`);
      p.size = 0;
    } else {
      p.base = placed.base;
      p.size = placed.size;
    }
  }
  return pending;
}

/** The ranges one enabled /reserved-memory child asks for (none when bypassed or malformed). */
function pendingOf(b: Build, child: FdtNode): Pending[] {
  const compat = strings(child, 'compatible') ?? [];
  const nomap = hasProp(child, 'no-map');
  const reusable = hasProp(child, 'reusable');
  const cmaDefault = hasProp(child, 'linux,cma-default');
  const cliCma = b.options.cma ?? b.overlay?.cma;
  if (cmaDefault && cliCma && compat.includes('shared-dma-pool') && reusable) {
    note(b, `${child.path}: bypassed, the ${b.options.cma ? '--cma option' : `"cma" of ${b.ovSource}`} gives the default CMA pool instead (as the kernel's cma= does)`);
    return [];
  }
  countRegions(b, Math.max(pairCount(child, 'reg', b.rootCells), hasProp(child, 'size') ? 1 : 0), () => child.path);
  const regs = regPairs(child, 'reg', b.rootCells.address, b.rootCells.size);
  const base: Omit<Pending, 'name' | 'base' | 'size' | 'dynamic'> = { node: child, nomap, reusable, compatible: compat, cmaDefault };
  if (regs && regs.length > 0) {
    return regs.flatMap((r, k) => (r.size === 0n ? [] : [{
      ...base, name: k === 0 ? child.name : `${child.name}.${k}`, base: toNumber(r.address, `${child.path} reg`), size: toNumber(r.size, `${child.path} reg`), dynamic: false,
    }]));
  }
  if (hasProp(child, 'size')) return [{ ...base, name: child.name, base: 0, size: 0, dynamic: true }];
  note(b, () => `${child.path}: neither "reg" nor "size": ignored`);
  return [];
}

function reserveStatic(b: Build, memblock: Memblock, p: Pending): void {
  const pageSize = b.pageSize;
  if (p.compatible.includes('shared-dma-pool')) {
    // a pool hands out whole pages inside its range
    const start = Math.ceil(p.base / pageSize) * pageSize;
    const end = Math.floor((p.base + p.size) / pageSize) * pageSize;
    if (start !== p.base || end !== p.base + p.size) note(b, `${p.node.path}: range ${hex(p.base)}+${hex(p.size)} trimmed to whole pages`);
    memblock.reserve(p.base, p.size);
    p.base = start;
    p.size = Math.max(0, end - start);
  } else {
    const r = pageOut(p.base, p.size, pageSize);
    memblock.reserve(r.base, r.size);
    p.base = r.base;
    p.size = r.size;
  }
}

// ---- DMA masters ----

function readOverlayDevices(b: Build): OverlayDevices {
  const byNode = new Map<FdtNode, { key: string; dev: OverlayDevice }>();
  const byName = new Map<string, OverlayDevice>();
  for (const [key, dev] of Object.entries(b.overlay?.devices ?? {})) {
    if (dev.node === undefined) {
      byName.set(key, dev);
      continue;
    }
    const target = findPath(b.root, dev.node);
    const problem = !target ? `no node ${dev.node} in ${b.source}`
      : !enabledWithParents(target) ? `${target.path} is disabled (status = "${stringProp(target, 'status') ?? 'disabled'}" on it or a parent)`
        : byNode.has(target) ? `${target.path} is already devices.${byNode.get(target)!.key}`
          : undefined;
    if (problem !== undefined) b.problems.push(`${b.ovSource}: devices.${key}.node: ${problem}`);
    else byNode.set(target!, { key, dev });
  }
  return { byNode, byName };
}

const SKIP_SUBTREES = new Set(['reserved-memory', 'chosen', 'aliases', '__symbols__', '__fixups__', '__local_fixups__', 'memory']);

function findMasters(b: Build, livePending: readonly Pending[], overlayByNode: OverlayDevices['byNode']): { masters: Master[]; skipped: { node: string; why: string }[] } {
  const poolByNode = new Map<FdtNode, Pending>();
  // the default CMA pool stays everyone's even when a device names it
  for (const p of livePending) if (p.compatible.includes('shared-dma-pool') && !p.cmaDefault && !poolByNode.has(p.node)) poolByNode.set(p.node, p);
  const masters: Master[] = [];
  const skipped: { node: string; why: string }[] = [];
  let moreSkipped = 0;
  for (const top of b.root.children) {
    if (SKIP_SUBTREES.has(top.name.split('@')[0]!)) continue;
    for (const n of walk(top)) {
      const m = masterOf(b, n, poolByNode, overlayByNode);
      if (!m) continue;
      if (!enabledWithParents(n)) {
        if (skipped.length < MAX_REPORT_LINES) skipped.push({ node: n.path, why: `disabled (status = "${stringProp(n, 'status') ?? 'disabled'}" on it or a parent) although it has ${m.why.join(', ')}` });
        else moreSkipped++;
        continue;
      }
      if (masters.length === PLATFORM_LIMITS.maxDevices) {
        throw new DtError([`${b.source}: node ${n.path}: more than ${PLATFORM_LIMITS.maxDevices} DMA masters (nodes with iommus or a memory-region pool), the most a platform has`], `${b.source} does not make a valid platform`);
      }
      masters.push(m);
    }
  }
  if (moreSkipped > 0) skipped.push({ node: '...', why: `${moreSkipped} more disabled DMA masters not listed` });
  return { masters, skipped };
}

/** The node as a DMA master (iommus, a pool in memory-region, or named by the overlay), or undefined. */
function masterOf(b: Build, n: FdtNode, poolByNode: ReadonlyMap<FdtNode, Pending>, overlayByNode: OverlayDevices['byNode']): Master | undefined {
  const why: string[] = [];
  let iommu = false;
  let iommuNote: string | undefined;
  if (hasProp(n, 'iommus')) {
    const c = cells(n, 'iommus') ?? [];
    const target = c[0] !== undefined ? b.byPhandle.get(c[0]) : undefined;
    if (target && !isEnabled(target)) iommuNote = `its IOMMU ${target.path} is disabled: DMA goes untranslated`;
    else iommu = true;
    why.push('iommus');
  }
  const pools = (cells(n, 'memory-region') ?? []).flatMap((ph) => {
    const p = poolByNode.get(b.byPhandle.get(ph) as FdtNode);
    return p ? [p] : [];
  });
  const pool = pools[0];
  if (pool) why.push(`memory-region ${pool.node.path}`);
  if (pools.length > 1) note(b, `${n.path}: names ${pools.length} DMA pools; the first (${pool!.node.path}) becomes its pool, the others are classified as if no device named them`);
  const ov = overlayByNode.get(n);
  if (ov) why.push(`named by ${b.ovSource}`);
  if (why.length === 0) return undefined;
  return { node: n, name: n.name, why, iommu, ...(iommuNote ? { iommuNote } : {}), ...(pool ? { pool } : {}), ...(ov ? { overlayKey: ov.key, overlay: ov.dev } : {}) };
}

/** Names: the node name; the full path when two masters share it; the overlay's alias first. Then the overlay's devices named by name. */
function nameMasters(b: Build, masters: readonly Master[], overlayByName: OverlayDevices['byName']): void {
  const count = new Map<string, number>();
  for (const m of masters) count.set(m.node.name, (count.get(m.node.name) ?? 0) + 1);
  for (const m of masters) {
    if (m.overlayKey !== undefined) m.name = m.overlayKey;
    else if ((count.get(m.node.name) ?? 0) > 1) m.name = m.node.path;
    if (utf8Length(m.name) > MAX_NAME) {
      b.problems.push(`${b.source}: node ${m.node.path}: the device name "${m.name}" is longer than the ${MAX_NAME} bytes ATTACH carries; give it a short name in an overlay (devices: { NAME: { node: ${m.node.path} } })`);
    }
  }
  for (const [key, dev] of overlayByName) {
    const m = masters.find((x) => x.name === key || x.node.path === key || x.node.name === key);
    if (!m) {
      b.problems.push(`${b.ovSource}: devices.${key}: no DMA master of ${b.source} is called "${key}"; add "node: /path/to/node" to name one`);
      continue;
    }
    m.overlay = { ...dev, ...m.overlay };
    m.overlayKey = m.overlayKey ?? key;
  }
}

// ---- regions ----

/** Each live reserved range becomes a device pool, a CMA pool, or reserved (appended to `reserved`). */
function classifyReserved(livePending: readonly Pending[], masters: readonly Master[], usedPools: ReadonlySet<Pending>, reserved: DtRegionReport[]): Classified {
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
      reserved.push({ name: p.name, kind: 'reserved', base: p.base, size: p.size, node: p.node.path, why: `${why} (${flags})` });
    }
  }
  return { poolRegions, cmaRegions, haveDefault };
}

/** The overlay's secure carveout, placed like a reserved-memory node would be. */
function placeSecureCarveout(b: Build, memblock: Memblock): DtRegionReport[] {
  const sc = b.overlay?.secure_carveout;
  if (!sc) return [];
  const name = sc.name ?? 'sdp';
  const size = Math.ceil(sc.size / b.pageSize) * b.pageSize;
  if (sc.base !== undefined) {
    memblock.reserve(sc.base, size);
    return [{ name, kind: 'secure-carveout', base: sc.base, size, why: `secure carveout for the SDP path (${b.ovSource}, fixed at ${hex(sc.base)})` }];
  }
  const limit = sc.limit ?? DEFAULT_CMA_LIMIT;
  const base = memblock.allocate(size, sc.alignment ?? MiB, 0, limit);
  if (base === null) {
    b.problems.push(`${b.ovSource}: secure_carveout: no free ${formatSize(size)} of DRAM below ${hex(limit)}`);
    return [];
  }
  return [{ name, kind: 'secure-carveout', base, size, why: `secure carveout for the SDP path (${b.ovSource}), carved from DRAM below ${hex(limit)}` }];
}

/** The default CMA pool, as dma_contiguous_reserve() places it (first in `cmaRegions`). */
function placeDefaultCma(b: Build, memblock: Memblock, cmaRegions: DtRegionReport[]): void {
  const req: CmaRequest | undefined = b.options.cma ?? b.overlay?.cma;
  const size = req?.size ?? DEFAULT_CMA_SIZE;
  const limit = req?.limit ?? DEFAULT_CMA_LIMIT;
  const by = b.options.cma ? '--cma' : b.overlay?.cma ? `"cma" of ${b.ovSource}` : 'the kernel default (cma=64M)';
  if (size === 0) {
    note(b, `no default CMA pool (${by} asks for 0)`);
    return;
  }
  const aligned = Math.ceil(size / CMA_MIN_ALIGNMENT) * CMA_MIN_ALIGNMENT;
  const base = memblock.allocate(aligned, CMA_MIN_ALIGNMENT, 0, limit);
  if (base === null) {
    const msg = `no free ${formatSize(aligned)} of DRAM below ${hex(limit)} for the default CMA pool (${by})`;
    if (req) b.problems.push(`${b.options.cma ? '--cma' : `${b.ovSource}: cma`}: ${msg}`);
    else note(b, `${msg}: the platform has no CMA`);
    return;
  }
  const name = cmaRegions.some((r) => r.name === 'cma') ? 'cma-default' : 'cma';
  cmaRegions.unshift({ name, kind: 'cma', base, size: aligned, why: `default CMA pool: ${formatSize(aligned)} top-down below ${hex(limit)} (${by})` });
}

/** Names must be unique: a second "foo" becomes "foo-2" (renamed in place). */
function uniqueNames(regions: DtRegionReport[]): DtRegionReport[] {
  const seen = new Set<string>();
  /** The next suffix to try per name: each name is tried from where the last one stopped. */
  const next = new Map<string, number>();
  for (const r of regions) {
    let n = r.name;
    for (let k = next.get(r.name) ?? 2; seen.has(n); k++) {
      n = `${r.name}-${k}`;
      next.set(r.name, k + 1);
    }
    seen.add(n);
    (r as { name: string }).name = n;
  }
  return regions;
}

// ---- the document ----

function deviceDoc(b: Build, m: Master, poolName: ReadonlyMap<Pending, string>): Record<string, unknown> {
  const dma = dmaWindows(m.node);
  if (dma.note) note(b, dma.note);
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
    ...(compat ? { description: clip(compat, 200) } : {}),
    node: m.node.path,
    ...(coherent ? { dma_coherent: true } : {}),
    ...(dma.windows ? { dma_ranges: dma.windows } : {}),
  };
  for (const [k, v] of Object.entries(m.overlay ?? {})) if (k !== 'node' && v !== undefined) doc[k] = v;
  if (m.iommuNote) note(b, `${m.node.path}: ${m.iommuNote}`);
  return doc;
}

/** The document validated as a platform; throws DtError with every problem found on the way. */
function checkDoc(b: Build, doc: PlatformDoc, masters: readonly Master[], regions: readonly DtRegionReport[]): PlatformSpec {
  const checked = checkPlatform(doc);
  if (!checked.ok) for (const issue of checked.issues) b.problems.push(describeIssue(issue, masters, regions, b.source, b.ovSource));
  if (b.problems.length > 0 || !checked.ok) {
    throw new DtError(b.problems, `${b.source}${b.options.overlaySource ? ` with ${b.options.overlaySource}` : ''} does not make a valid platform`);
  }
  return checked.spec;
}

function deviceReports(spec: PlatformSpec, origins: readonly Master[]): DtDeviceReport[] {
  return spec.devices.map((d, i) => {
    const m = origins[i]!;
    return {
      name: d.name, node: m.node.path, compatible: strings(m.node, 'compatible')?.[0] ?? '', iommu: d.iommu, dmaMask: d.dmaMask,
      limit: physLimitOf(d), ...(d.memoryRegion ? { pool: d.memoryRegion } : {}), coherent: d.dmaCoherent ?? false, why: m.why.join(', '),
    };
  });
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

function placeDynamic(p: Pending, rootCells: Cells, memblock: Memblock, pageSize: number): { base: number; size: number } | string {
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
  const origin = section === 'name' ? ' (the platform\'s name: the tree\'s model, else its first compatible; an overlay\'s "name:" replaces it)' : '';
  return `${source}: ${formatPlatformPath(issue.path)}${origin}: ${issue.message}`;
}

/** The first `max` UTF-16 units of `s`, never half of a surrogate pair. */
function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.charCodeAt(max - 1) >= 0xd800 && s.charCodeAt(max - 1) < 0xdc00 ? max - 1 : max;
  return s.slice(0, cut);
}
