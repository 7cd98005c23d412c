/**
 * Platform files (YAML or JSON) -> a validated PlatformSpec. Errors name the path of the bad field
 * ("memory[1].base: ..."). Rules: unique names; page-aligned bases and sizes; system regions do not
 * overlap each other, reserved regions (cma, carveouts) do not overlap each other and, when they
 * overlap a system region, lie entirely inside it (reserved-memory carved out of DRAM); a device's
 * memory_region names a carveout. `reserved` regions (firmware, secure monitor: never handed out) may
 * overlap each other and straddle DRAM; nothing else may overlap them. Device-tree platforms use the
 * same model (src/platform/devicetree/): `node`, `dma_ranges`, `dma_coherent` and region
 * `description`s come from there, so a converted tree loads back as the same platform.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { displayText, sizeSchema } from '../common/schema.ts';
import { SmafError } from '../common/errors.ts';
import { hex } from '../common/units.ts';
import { DEFAULT_MAX_SEGMENT_SIZE, DEFAULT_SEGMENT_BOUNDARY, type Device, type DmaRange } from './device.ts';
import { REGION_KINDS, type MemoryRegion } from './region.ts';

export interface TeeSpec {
  /** Capacity of the SDP trusted application's region table. */
  readonly sdpMaxRegions: number;
}

export interface PlatformSpec {
  readonly name: string;
  readonly pageSize: number;
  readonly memory: readonly MemoryRegion[];
  readonly devices: readonly Device[];
  readonly tee: TeeSpec;
}

/**
 * Bounds no real SoC reaches, so that a hostile platform file cannot make the loader (or the pools
 * it builds, whose page bitmaps are proportional to a region's size) take the machine's memory or
 * minutes: physical addresses below 2^48 (arm64's largest), a region of at most 256 GiB, 1 TiB in all,
 * 1,024 regions, 4,096 devices.
 */
export const PLATFORM_LIMITS = {
  maxAddress: 2 ** 48,
  maxRegionSize: 256 * 2 ** 30,
  maxTotalSize: 2 ** 40,
  maxRegions: 1024,
  maxDevices: 4096,
} as const;

const size = sizeSchema;

const name = z.string().regex(/^[a-z0-9][a-z0-9_.,+@-]{0,62}$/i, 'names are 1-63 characters: letters, digits, "_", "-", ".", ",", "+", "@"');
/** A device name may also be a device-tree path (when two nodes share a name). */
const deviceName = z.union([name, z.string().regex(/^(\/[a-z0-9][a-z0-9_.,+@-]*)+$/i, 'a device-tree path').max(63, 'longer than the 63 bytes ATTACH carries')]);
const nodePath = z.string().regex(/^\/([a-z0-9][a-z0-9_.,+@-]*(\/[a-z0-9][a-z0-9_.,+@-]*)*)?$/i, 'a device-tree path such as /soc@0/video-codec@aa00000').max(1024);

const regionSchema = z.strictObject({
  name,
  base: size,
  size,
  kind: z.enum(REGION_KINDS as [string, ...string[]]),
  description: displayText(200).optional(),
  node: nodePath.optional(),
});

const dmaRangeSchema = z.strictObject({ cpu: size, bus: size, size });

const deviceSchema = z.strictObject({
  name: deviceName,
  class: displayText(32).min(1).default('generic'),
  dma_mask: z.number().int().min(12).max(64),
  coherent_dma_mask: z.number().int().min(12).max(64).optional(),
  max_segment_size: size.optional(),
  segment_boundary: size.optional(),
  iommu: z.boolean().default(false),
  secure: z.boolean().default(false),
  memory_region: name.optional(),
  description: displayText(200).optional(),
  node: nodePath.optional(),
  dma_coherent: z.boolean().optional(),
  dma_ranges: z.array(dmaRangeSchema).min(1).max(64).optional(),
});

const platformSchema = z.strictObject({
  name: displayText(63).min(1).default('custom'),
  page_size: z.literal(4096).default(4096),
  memory: z.array(regionSchema).min(1).max(PLATFORM_LIMITS.maxRegions),
  devices: z.array(deviceSchema).max(PLATFORM_LIMITS.maxDevices).default([]),
  tee: z.strictObject({ sdp_max_regions: z.number().int().min(1).max(1024).default(16) }).default({ sdp_max_regions: 16 }),
});

type RawPlatform = z.output<typeof platformSchema>;

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '') || '(root)';
}

function crossCheck(p: RawPlatform, ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], message: string): void => ctx.addIssue({ code: 'custom', path, message });
  const seen = new Map<string, number>();
  p.memory.forEach((r, i) => {
    if (seen.has(r.name)) issue(['memory', i, 'name'], `duplicate region name "${r.name}" (also memory[${seen.get(r.name)}])`);
    seen.set(r.name, i);
    if (r.base % p.page_size !== 0) issue(['memory', i, 'base'], `${hex(r.base)} is not aligned to the page size (${p.page_size})`);
    if (r.size === 0 || r.size % p.page_size !== 0) issue(['memory', i, 'size'], `${r.size} is not a non-zero multiple of the page size (${p.page_size})`);
    if (r.base + r.size > PLATFORM_LIMITS.maxAddress) issue(['memory', i], `region ends above 2^48, the largest physical address of arm64`);
    if (r.size > PLATFORM_LIMITS.maxRegionSize) issue(['memory', i, 'size'], `${hex(r.size)} is more than ${PLATFORM_LIMITS.maxRegionSize / 2 ** 30} GiB, the largest region this emulator models`);
  });
  const total = p.memory.reduce((n, r) => n + (r.kind === 'reserved' ? 0 : r.size), 0);
  if (total > PLATFORM_LIMITS.maxTotalSize) issue(['memory'], `the regions declare ${hex(total)} bytes in all, more than the 1 TiB this emulator models`);
  checkOverlaps(p.memory, issue);
  const devs = new Map<string, number>();
  p.devices.forEach((d, i) => {
    if (devs.has(d.name)) issue(['devices', i, 'name'], `duplicate device name "${d.name}" (also devices[${devs.get(d.name)}])`);
    devs.set(d.name, i);
    if (d.memory_region !== undefined) {
      const r = p.memory.find((m) => m.name === d.memory_region);
      if (!r) issue(['devices', i, 'memory_region'], `unknown region "${d.memory_region}"`);
      else if (r.kind !== 'carveout' && r.kind !== 'secure-carveout') issue(['devices', i, 'memory_region'], `region "${r.name}" is ${r.kind}, not a carveout`);
    }
    if (d.segment_boundary !== undefined && (d.segment_boundary < p.page_size || !isPowerOfTwo(d.segment_boundary))) {
      issue(['devices', i, 'segment_boundary'], `must be a power of two of at least ${p.page_size}`);
    }
    if (d.max_segment_size !== undefined && d.max_segment_size < p.page_size) issue(['devices', i, 'max_segment_size'], `must be at least the page size (${p.page_size})`);
    if (d.node !== undefined) {
      const other = devs.get(d.node);
      if (other !== undefined && other !== i) issue(['devices', i, 'node'], `"${d.node}" is also the name of devices[${other}]`);
    }
    d.dma_ranges?.forEach((r, k) => {
      if (r.size === 0) issue(['devices', i, 'dma_ranges', k, 'size'], 'an empty DMA window');
    });
  });
  const nodes = new Map<string, number>();
  p.devices.forEach((d, i) => {
    if (d.node === undefined) return;
    if (nodes.has(d.node)) issue(['devices', i, 'node'], `node ${d.node} is already devices[${nodes.get(d.node)}]`);
    nodes.set(d.node, i);
  });
}

/** Exact for every safe integer (bit operators would truncate to 32 bits). */
export function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n <= 0) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

type RawRegion = RawPlatform['memory'][number];

/**
 * System regions must not overlap each other, nor reserved regions each other; a reserved region
 * that overlaps a system region lies inside it. A sweep over the regions sorted by base: each region
 * is compared only with those still open where it starts (n log n, not n^2).
 */
function checkOverlaps(memory: readonly RawRegion[], issue: (path: PropertyKey[], message: string) => void): void {
  const order = memory.map((r, i) => ({ r, i })).sort((a, b) => a.r.base - b.r.base || a.i - b.i);
  let open: { r: RawRegion; i: number }[] = [];
  for (const cur of order) {
    open = open.filter((o) => o.r.base + o.r.size > cur.r.base);
    for (const o of open) {
      const [first, second] = o.i < cur.i ? [o, cur] : [cur, o];
      const a = first.r;
      const b = second.r;
      const aSys = a.kind === 'system';
      const bSys = b.kind === 'system';
      const aRes = a.kind === 'reserved';
      const bRes = b.kind === 'reserved';
      // reserved ranges only describe: they may overlap each other and straddle DRAM
      if ((aRes && bRes) || (aRes && bSys) || (bRes && aSys)) continue;
      const inside = (r: RawRegion, outer: RawRegion): boolean => r.base >= outer.base && r.base + r.size <= outer.base + outer.size;
      if (aSys !== bSys && (aSys ? inside(b, a) : inside(a, b))) continue;
      issue(['memory', second.i], `region "${b.name}" overlaps "${a.name}"` + (aSys !== bSys ? ' without lying inside it' : ''));
    }
    open.push(cur);
  }
}

export interface PlatformIssue {
  /** Where in the platform document: ['devices', 2, 'dma_mask']. */
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** Validate an already-parsed object; every bad field is listed (for loaders that map paths back to their own sources). */
export function checkPlatform(input: unknown): { ok: true; spec: PlatformSpec } | { ok: false; issues: PlatformIssue[] } {
  const result = platformSchema.superRefine(crossCheck).safeParse(input);
  if (!result.success) return { ok: false, issues: result.error.issues.map((i) => ({ path: i.path, message: i.message })) };
  return { ok: true, spec: toSpec(result.data) };
}

export { formatPath as formatPlatformPath };

/** Validate an already-parsed object. Throws SmafError(EINVAL) listing every bad field. */
export function validatePlatform(input: unknown, source = 'platform'): PlatformSpec {
  const checked = checkPlatform(input);
  if (!checked.ok) {
    const lines = checked.issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`);
    throw new SmafError('EINVAL', `${source} is not a valid platform:\n${lines.join('\n')}`);
  }
  return checked.spec;
}

function toSpec(p: RawPlatform): PlatformSpec {
  return {
    name: p.name,
    pageSize: p.page_size,
    memory: p.memory.map((r): MemoryRegion => ({
      name: r.name, base: r.base, size: r.size, kind: r.kind as MemoryRegion['kind'],
      ...(r.description !== undefined ? { description: r.description } : {}),
      ...(r.node !== undefined ? { node: r.node } : {}),
    })),
    devices: p.devices.map((d): Device => ({
      name: d.name,
      class: d.class,
      dmaMask: d.dma_mask,
      coherentDmaMask: d.coherent_dma_mask ?? d.dma_mask,
      maxSegmentSize: d.max_segment_size ?? DEFAULT_MAX_SEGMENT_SIZE,
      segmentBoundary: d.segment_boundary ?? DEFAULT_SEGMENT_BOUNDARY,
      iommu: d.iommu,
      secure: d.secure,
      ...(d.memory_region !== undefined ? { memoryRegion: d.memory_region } : {}),
      ...(d.description !== undefined ? { description: d.description } : {}),
      ...(d.node !== undefined ? { node: d.node } : {}),
      ...(d.dma_coherent !== undefined ? { dmaCoherent: d.dma_coherent } : {}),
      ...(d.dma_ranges !== undefined ? { dmaRanges: d.dma_ranges.map((r): DmaRange => ({ cpu: r.cpu, bus: r.bus, size: r.size })) } : {}),
    })),
    tee: { sdpMaxRegions: p.tee.sdp_max_regions },
  };
}

/**
 * The platform document of a spec: exactly the YAML platform format (what `smaf platform convert`
 * prints, and what a recording carries); `validatePlatform` of it gives the same spec back.
 */
export function platformDocument(spec: PlatformSpec): Record<string, unknown> {
  return {
    name: spec.name,
    page_size: spec.pageSize,
    memory: spec.memory.map((r) => ({ name: r.name, base: hex(r.base), size: hex(r.size), kind: r.kind, ...(r.node ? { node: r.node } : {}), ...(r.description ? { description: r.description } : {}) })),
    devices: spec.devices.map((d) => ({
      name: d.name, class: d.class, dma_mask: d.dmaMask, coherent_dma_mask: d.coherentDmaMask, max_segment_size: d.maxSegmentSize, segment_boundary: d.segmentBoundary,
      iommu: d.iommu, secure: d.secure, ...(d.memoryRegion ? { memory_region: d.memoryRegion } : {}), ...(d.description ? { description: d.description } : {}),
      ...(d.node ? { node: d.node } : {}), ...(d.dmaCoherent !== undefined ? { dma_coherent: d.dmaCoherent } : {}), ...(d.dmaRanges ? { dma_ranges: d.dmaRanges.map((r) => ({ cpu: hex(r.cpu), bus: hex(r.bus), size: hex(r.size) })) } : {}),
    })),
    tee: { sdp_max_regions: spec.tee.sdpMaxRegions },
  };
}

/** Parse platform text; JSON when it starts with "{", else YAML (a JSON superset). */
export function parsePlatform(text: string, source = 'platform'): PlatformSpec {
  let doc: unknown;
  try {
    doc = text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new SmafError('EINVAL', `${source} does not parse: ${(e as Error).message}`);
  }
  return validatePlatform(doc, source);
}
