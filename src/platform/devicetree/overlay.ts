/**
 * The YAML overlay of a device-tree platform: what a device tree does not say (short device names,
 * pipeline classes, secure capability, a CMA size, a secure carveout). An overlay is recognised by
 * its `device_tree:` key; any field of a YAML platform device may be set per device.
 */
import { z } from 'zod';
import { displayText, sizeSchema } from '../../common/schema.ts';
import { parseSize } from '../../common/units.ts';

const bank = z.strictObject({ base: sizeSchema.optional(), size: sizeSchema });

const cmaSchema = z.union([
  sizeSchema.transform((size) => ({ size })),
  z.strictObject({ size: sizeSchema, limit: sizeSchema.optional() }),
]);

const overlayDevice = z.strictObject({
  /** The device-tree node this name stands for; omitted, the key must name a device of the tree. */
  node: z.string().startsWith('/', 'a device-tree path starts with "/"').optional(),
  class: displayText(32).min(1).optional(),
  dma_mask: z.number().int().min(12).max(64).optional(),
  coherent_dma_mask: z.number().int().min(12).max(64).optional(),
  max_segment_size: sizeSchema.optional(),
  segment_boundary: sizeSchema.optional(),
  iommu: z.boolean().optional(),
  secure: z.boolean().optional(),
  memory_region: z.string().optional(),
  description: displayText(200).optional(),
  dma_coherent: z.boolean().optional(),
});

export const overlaySchema = z.strictObject({
  device_tree: z.string().min(1),
  name: displayText(63).min(1).optional(),
  /** Size (and limit) of the default CMA pool when the tree has none, or in place of its own (as `cma=` does). */
  cma: cmaSchema.optional(),
  /** DRAM, when the tree leaves it to the boot loader (`reg` size 0) or to override it. */
  dram: z.union([bank, z.array(bank).min(1)]).optional(),
  secure_carveout: z.strictObject({
    size: sizeSchema,
    name: z.string().regex(/^[a-z0-9][a-z0-9_.,+@-]{0,62}$/i).optional(),
    base: sizeSchema.optional(),
    /** Highest address (exclusive) for a placed carveout; default 4 GiB, for 32-bit secure devices. */
    limit: sizeSchema.optional(),
    alignment: sizeSchema.optional(),
  }).optional(),
  devices: z.record(z.string(), overlayDevice).default({}),
  tee: z.strictObject({ sdp_max_regions: z.number().int().min(1).max(1024) }).optional(),
});

export type DtOverlay = z.output<typeof overlaySchema>;
export type OverlayDevice = z.output<typeof overlayDevice>;
export type CmaRequest = { readonly size: number; readonly limit?: number | undefined };

/** Whether a parsed YAML document is a device-tree overlay rather than a platform. */
export function isOverlay(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && 'device_tree' in doc;
}

/** Validate an overlay; issues carry their path inside the overlay ("devices.vdec.dma_mask"). */
export function checkOverlay(doc: unknown): { ok: true; overlay: DtOverlay } | { ok: false; issues: { path: readonly PropertyKey[]; message: string }[] } {
  const r = overlaySchema.safeParse(doc);
  if (!r.success) return { ok: false, issues: r.error.issues.map((i) => ({ path: i.path, message: i.message })) };
  return { ok: true, overlay: r.data };
}

/** `--cma SIZE[@LIMIT]`: "128MiB", "64MiB@0xC0000000". */
export function parseCmaOption(text: string): CmaRequest {
  const [sizeText, limitText, extra] = text.split('@');
  if (extra !== undefined || sizeText === undefined || sizeText.trim() === '') throw new RangeError(`"${text}" is not SIZE[@LIMIT] (examples: 128MiB, 64MiB@4GiB)`);
  const size = parseSize(sizeText);
  return limitText === undefined ? { size } : { size, limit: parseSize(limitText) };
}
