/**
 * Pipeline scenarios: a YAML script of steps (create, attach, map, write, read, share...) run
 * against smafd through SmafClient, possibly from several clients. Each step may expect an errno.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { sizeSchema } from '../common/schema.ts';
import { SmafError } from '../common/errors.ts';
import { stepIssues } from './scenario-errors.ts';
import { parseSize } from '../common/units.ts';
import { frameLayout, isFrameSpec } from '../common/pixel-format.ts';

const size = sizeSchema;
/** A create's size: bytes, or a frame (1920x1080:NV12) whose planes one buffer holds (with `align`). */
const bufferSize = z.union([z.number(), z.string()]);
function frameSize<T extends { size: number | string; align?: number | undefined }>(v: T, ctx: z.RefinementCtx): Omit<T, 'size'> & { size: number; frame?: string } {
  try {
    if (typeof v.size === 'string' && isFrameSpec(v.size)) return { ...v, size: frameLayout(v.size, v.align ?? 1).size, frame: v.size };
    if (v.align !== undefined) throw new RangeError('align applies to a frame size (WIDTHxHEIGHT:FORMAT)');
    return { ...v, size: parseSize(v.size) };
  } catch (e) {
    ctx.addIssue({ code: 'custom', path: ['size'], message: (e as Error).message });
    return z.NEVER;
  }
}
const ident = z.string().min(1).max(64);
const common = { client: ident.optional(), expect_error: z.string().regex(/^E[A-Z]+$/).optional(), note: z.string().optional() };
const direction = z.enum(['bidirectional', 'to-device', 'from-device']).default('bidirectional');

const stepVariants = [
  z.strictObject({ create: z.strictObject({ ...common, buffer: ident, size: bufferSize, align: z.number().int().optional(), name: z.string().optional(), flags: z.number().int().optional(), secure: z.boolean().optional() }).transform(frameSize) }),
  z.strictObject({ secure: z.strictObject({ ...common, buffer: ident, on: z.boolean().default(true) }) }),
  z.strictObject({ attach: z.strictObject({ ...common, buffer: ident, device: z.string(), as: ident }) }),
  z.strictObject({ detach: z.strictObject({ ...common, attachment: ident }) }),
  z.strictObject({ map: z.strictObject({ ...common, attachment: ident, direction }) }),
  z.strictObject({ unmap: z.strictObject({ ...common, attachment: ident }) }),
  z.strictObject({ mmap: z.strictObject({ ...common, buffer: ident, as: ident.optional(), offset: size.default(0), length: size.optional(), prot: z.enum(['r', 'w', 'rw']).default('rw') }) }),
  z.strictObject({ munmap: z.strictObject({ ...common, mapping: ident }) }),
  z.strictObject({ write: z.strictObject({ ...common, mapping: ident, offset: size.default(0), text: z.string().optional(), hex: z.string().regex(/^([0-9a-f]{2})*$/i).optional(), fill: z.strictObject({ byte: z.number().int().min(0).max(255), length: size }).optional() }) }),
  z.strictObject({ read: z.strictObject({ ...common, mapping: ident, offset: size.default(0), length: size, expect_text: z.string().optional(), expect_hex: z.string().optional() }) }),
  z.strictObject({ sync: z.strictObject({ ...common, buffer: ident, phase: z.enum(['start', 'end']), access: z.enum(['read', 'write', 'rw']).default('rw') }) }),
  z.strictObject({ share: z.strictObject({ ...common, buffer: ident, to: ident, as: ident }) }),
  z.strictObject({ dup: z.strictObject({ ...common, buffer: ident, as: ident }) }),
  z.strictObject({ close: z.strictObject({ ...common, buffer: ident }) }),
  z.strictObject({ stat: z.strictObject({ ...common, buffer: ident, expect: z.strictObject({ allocated: z.boolean().optional(), secure: z.boolean().optional(), allocator: z.string().optional() }).optional() }) }),
  z.strictObject({ explain: z.strictObject({ ...common, buffer: ident }) }),
  z.strictObject({ dma_copy: z.strictObject({ ...common, dst: ident, src: ident, length: size, transform: z.enum(['copy', 'decrypt']).default('copy'), src_offset: size.default(0), dst_offset: size.default(0) }) }),
  z.strictObject({ dma_crc: z.strictObject({ ...common, attachment: ident, offset: size.default(0), length: size, as: ident.optional(), expect: z.union([z.number().int(), ident]).optional(), expect_text_crc: z.string().optional() }) }),
  z.strictObject({ disconnect: z.strictObject({ client: ident, note: z.string().optional() }) }),
  z.strictObject({ say: z.string() }),
] as const;
const stepSchema = z.union(stepVariants);
const ACTIONS = stepVariants.map((v) => Object.keys(v.shape)[0]!);

export const scenarioSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  steps: z.array(stepSchema).min(1),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type Step = Scenario['steps'][number];

export function parseScenario(text: string, source = 'scenario'): Scenario {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new SmafError('EINVAL', `${source} does not parse: ${(e as Error).message}`);
  }
  const r = scenarioSchema.safeParse(doc);
  if (!r.success) {
    // a step that failed: checked again against its own action, for the field and the problem
    const steps = (doc as { steps?: unknown } | null)?.steps;
    const issues = r.error.issues.flatMap((i) => (i.path.length === 2 && i.path[0] === 'steps' && typeof i.path[1] === 'number' && Array.isArray(steps)
      ? stepIssues(steps[i.path[1]], i.path[1], stepVariants, ACTIONS)
      : [i]));
    const lines = issues.slice(0, 8).map((i) => `  ${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '')}: ${i.message}`);
    throw new SmafError('EINVAL', `${source} is not a valid scenario:\n${lines.join('\n')}`);
  }
  return r.data;
}

