/**
 * Pipeline scenarios: a YAML script of steps (create, attach, map, write, read, share, pools of
 * frames streamed through devices...) run against smafd through SmafClient, possibly from several
 * clients. Each step may expect an errno. Parsing keeps the line of each step, for error messages.
 */
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { sizeSchema } from '../common/schema.ts';
import { SmafError } from '../common/errors.ts';
import { stepIssues } from './scenario-errors.ts';
import { parseSize } from '../common/units.ts';
import { frameLayout, isFrameSpec, type FrameLayout } from '../common/pixel-format.ts';

const size = sizeSchema;
/** A buffer's size: bytes, or a frame (1920x1080:NV12) whose planes one buffer holds (with its alignments and modifier). */
const bufferSize = z.union([z.number(), z.string()]);
const frameFields = {
  align: z.number().int().optional(),
  align_plane: z.union([z.number(), z.string()]).optional(),
  align_height: z.number().int().optional(),
  modifier: z.string().optional(),
};
type FrameFields = { size: number | string; align?: number | undefined; align_plane?: number | string | undefined; align_height?: number | undefined; modifier?: string | undefined };

function frameOf(v: FrameFields): FrameLayout | null {
  if (typeof v.size === 'string' && isFrameSpec(v.size)) {
    return frameLayout(v.size, {
      ...(v.align !== undefined ? { align: v.align } : {}),
      ...(v.align_plane !== undefined ? { alignPlane: parseSize(v.align_plane) } : {}),
      ...(v.align_height !== undefined ? { alignHeight: v.align_height } : {}),
      ...(v.modifier !== undefined ? { modifier: v.modifier } : {}),
    });
  }
  const frameOnly = (['align', 'align_plane', 'align_height', 'modifier'] as const).filter((k) => v[k] !== undefined);
  if (frameOnly.length) throw new RangeError(`${frameOnly.join(', ')} appl${frameOnly.length > 1 ? 'y' : 'ies'} to a frame size (WIDTHxHEIGHT:FORMAT)`);
  return null;
}

function frameSize<T extends FrameFields>(v: T, ctx: z.RefinementCtx): Omit<T, 'size'> & { size: number; frame?: string; layout?: FrameLayout } {
  try {
    const layout = frameOf(v);
    if (layout) return { ...v, size: layout.size, frame: v.size as string, layout };
    return { ...v, size: parseSize(v.size) };
  } catch (e) {
    ctx.addIssue({ code: 'custom', path: ['size'], message: (e as Error).message });
    return z.NEVER;
  }
}
const ident = z.string().min(1).max(64);
const common = { client: ident.optional(), expect_error: z.string().regex(/^E[A-Z]+$/).optional(), note: z.string().optional() };
const direction = z.enum(['bidirectional', 'to-device', 'from-device']).default('bidirectional');

/** One stage of a stream: a device's DMA on the frame's buffer(s). */
const stage = z.strictObject({
  device: z.string().min(1),
  /** The client (connection) that drives this device; it is given the buffers it touches. Default: the buffers' owner. */
  client: ident.optional(),
  reads: ident.optional(),
  writes: ident.optional(),
  from: ident.optional(),
  transform: z.enum(['copy', 'decrypt']).default('copy'),
  bytes: size.optional(),
  expect_crc_text: z.string().optional(),
}).refine((s) => s.reads !== undefined || s.writes !== undefined, { message: 'a stage reads a pool, writes one, or both' })
  .refine((s) => !(s.from !== undefined && s.reads !== undefined), { message: 'a stage reads either a pool (reads) or a buffer (from), not both' })
  .refine((s) => !(s.writes !== undefined && s.reads === undefined && s.from === undefined), { message: 'a stage that only writes needs what its device reads: from: BUFFER (a sensor\'s raw frame, the ciphertext)' })
  .refine((s) => s.expect_crc_text === undefined || (s.reads !== undefined && s.writes === undefined), { message: 'expect_crc_text applies to a stage that only reads (a CRC capture)' });

const stepVariants = [
  z.strictObject({ create: z.strictObject({ ...common, buffer: ident, size: bufferSize, ...frameFields, name: z.string().optional(), flags: z.number().int().optional(), secure: z.boolean().optional() }).transform(frameSize) }),
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
  z.strictObject({ pool: z.strictObject({ ...common, name: z.string().regex(/^[A-Za-z_][\w-]{0,40}$/, 'a pool name is a word (its buffers are NAME[0], NAME[1]...)'), count: z.number().int().min(1).max(32), size: bufferSize, ...frameFields, secure: z.boolean().optional() }).transform(frameSize) }),
  z.strictObject({ stream: z.strictObject({ ...common, frames: z.number().int().min(1).max(10_000), stages: z.array(stage).min(1).max(8) }) }),
  z.strictObject({ say: z.string() }),
] as const;
const stepSchema = z.union(stepVariants);
const ACTIONS = stepVariants.map((v) => Object.keys(v.shape)[0]!);

export const scenarioSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  steps: z.array(stepSchema).min(1),
});

export type Scenario = z.output<typeof scenarioSchema> & {
  /** Where each step is in its file (1-based lines), when parsed from text. */
  readonly lines?: readonly number[];
  readonly source?: string;
};
export type Step = Scenario['steps'][number];
export type StageSpec = z.output<typeof stage>;

/** `line N, ` of step `index` (its line in the scenario file), or `` when unknown. */
export function atLine(scenario: Pick<Scenario, 'lines'>, index: number): string {
  const line = scenario.lines?.[index];
  return line ? `line ${line}, ` : '';
}

/** The 1-based line of each step of a parsed YAML document. */
function stepLines(text: string): number[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const steps = isMap(doc.contents) ? doc.contents.get('steps', true) : undefined;
  if (!isSeq(steps)) return [];
  return steps.items.map((item) => {
    const at = (item as { range?: [number, number, number] }).range?.[0];
    return at === undefined ? 0 : lineCounter.linePos(at).line;
  });
}

export function parseScenario(text: string, source = 'scenario'): Scenario {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new SmafError('EINVAL', `${source} does not parse: ${doc.errors[0]!.message}`);
  const data: unknown = doc.toJS();
  const lines = stepLines(text);
  const r = scenarioSchema.safeParse(data);
  if (!r.success) {
    // a step that failed: checked again against its own action, for the field and the problem
    const steps = (data as { steps?: unknown } | null)?.steps;
    const issues = r.error.issues.flatMap((i) => (i.path.length === 2 && i.path[0] === 'steps' && typeof i.path[1] === 'number' && Array.isArray(steps)
      ? stepIssues(steps[i.path[1]], i.path[1], stepVariants, ACTIONS)
      : [i]));
    const at = (path: PropertyKey[]): string => (path[0] === 'steps' && typeof path[1] === 'number' ? atLine({ lines }, path[1]) : '');
    const rows = issues.slice(0, 8).map((i) => `  ${at(i.path)}${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '')}: ${i.message}`);
    throw new SmafError('EINVAL', `${source} is not a valid scenario:\n${rows.join('\n')}`);
  }
  return { ...r.data, lines, source };
}
