/**
 * Pipeline scenarios: a YAML script of steps (create, attach, map, write, read, share...) run
 * against smafd through SmafClient, possibly from several clients. Each step may expect an errno.
 */
import crc32 from 'crc-32';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { sizeSchema } from '../common/schema.ts';
import { SmafError, toSmafError } from '../common/errors.ts';
import { formatExplanation } from '../core/explain.ts';
import { stepIssues } from './scenario-errors.ts';
import { formatSize, hex, parseSize } from '../common/units.ts';
import { frameLayout, isFrameSpec } from '../common/pixel-format.ts';
import type { SmafClient } from '../client/client.ts';

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

export interface StepResult {
  readonly index: number;
  readonly action: string;
  readonly client: string;
  /** true when the step did what it should (succeeded, or failed with the expected errno). */
  readonly ok: boolean;
  readonly detail: string;
  readonly errno?: string;
  readonly note?: string;
}

export interface ScenarioResult {
  readonly name: string;
  readonly ok: boolean;
  readonly steps: readonly StepResult[];
  /** With `keepOpen`, the clients still connected (the caller closes them). */
  readonly clients?: ReadonlyMap<string, SmafClient>;
}

interface Handle {
  readonly client: string;
  readonly fd: number;
}

const DIRS = { bidirectional: 0, 'to-device': 1, 'from-device': 2 } as const;
const PROT = { r: 1, w: 2, rw: 3 } as const;
const ACCESS = { read: 1, write: 2, rw: 3 } as const;
/** Bytes of a `fill` sent per WRITE. */
const FILL_PIECE = 1 << 20;

/** Run a scenario; `connect` opens a new client connection (one per client name). */
export async function runScenario(
  scenario: Scenario,
  connect: () => Promise<SmafClient>,
  onStep?: (r: StepResult) => void,
  options: { keepOpen?: boolean; beforeStep?: (index: number, action: string) => Promise<void> } = {},
): Promise<ScenarioResult> {
  const clients = new Map<string, SmafClient>();
  const buffers = new Map<string, Handle>();
  const attachments = new Map<string, Handle & { id: number; device: string }>();
  const mappings = new Map<string, Handle & { id: number }>();
  const crcs = new Map<string, number>();
  const results: StepResult[] = [];

  const client = async (name: string): Promise<SmafClient> => {
    let c = clients.get(name);
    if (!c) {
      c = await connect();
      clients.set(name, c);
    }
    return c;
  };
  const need = <T>(m: Map<string, T>, key: string, what: string): T => {
    const v = m.get(key);
    if (v === undefined) throw new SmafError('EINVAL', `scenario: no ${what} named "${key}" (define it in an earlier step)`);
    return v;
  };

  try {
    for (const [index, step] of scenario.steps.entries()) {
      const action = Object.keys(step)[0]!;
      if ('say' in step) {
        const r = { index, action, client: '-', ok: true, detail: step.say };
        results.push(r);
        onStep?.(r);
        continue;
      }
      const args = (step as Record<string, { client?: string; expect_error?: string; note?: string }>)[action]!;
      const who = args.client ?? 'main';
      await options.beforeStep?.(index, action);
      let detail = '';
      let errno: string | undefined;
      try {
        detail = await runStep(step, who);
      } catch (e) {
        const err = toSmafError(e);
        errno = err.code;
        detail = err.message;
      }
      const ok = args.expect_error ? errno === args.expect_error : errno === undefined;
      if (!ok && args.expect_error && errno === undefined) detail = `expected ${args.expect_error} but it succeeded: ${detail}`;
      else if (!ok && args.expect_error) detail = `expected ${args.expect_error}, got ${errno}: ${detail}`;
      const r: StepResult = { index, action, client: who, ok, detail, ...(errno ? { errno } : {}), ...(args.note ? { note: args.note } : {}) };
      results.push(r);
      onStep?.(r);
      if (!ok) break;
    }
  } finally {
    if (!options.keepOpen) for (const c of clients.values()) await c.close();
  }
  const ok = results.every((r) => r.ok) && results.length === scenario.steps.length;
  return { name: scenario.name, ok, steps: results, ...(options.keepOpen ? { clients } : {}) };

  async function runStep(step: Step, who: string): Promise<string> {
    if ('create' in step) {
      const s = step.create;
      const c = await client(who);
      const fd = await c.create(s.size, { ...(s.flags !== undefined ? { flags: s.flags } : {}), ...(s.name ? { name: s.name } : {}) });
      buffers.set(s.buffer, { client: who, fd });
      if (s.secure) await c.setSecure(fd, true);
      const what = s.frame ? `a ${s.frame} frame, ${s.size} bytes (${formatSize(Math.ceil(s.size / 4096) * 4096)} in pages)` : formatSize(s.size);
      return `fd ${fd}: ${what}${s.secure ? ', secure' : ''}, no memory yet`;
    }
    if ('secure' in step) {
      const b = need(buffers, step.secure.buffer, 'buffer');
      await (await client(b.client)).setSecure(b.fd, step.secure.on);
      return `secure flag ${step.secure.on ? 'set' : 'cleared'} on fd ${b.fd}`;
    }
    if ('attach' in step) {
      const s = step.attach;
      const b = need(buffers, s.buffer, 'buffer');
      const id = await (await client(b.client)).attach(b.fd, s.device);
      attachments.set(s.as, { ...b, id, device: s.device });
      return `${s.device} attached (attachment ${id})`;
    }
    if ('detach' in step) {
      const a = need(attachments, step.detach.attachment, 'attachment');
      await (await client(a.client)).detach(a.fd, a.id);
      return `${a.device} detached`;
    }
    if ('map' in step) {
      const a = need(attachments, step.map.attachment, 'attachment');
      const c = await client(a.client);
      const segs = await c.map(a.fd, a.id, DIRS[step.map.direction]);
      const st = await c.stat(a.fd);
      return `${a.device} mapped ${step.map.direction}: ${segs.length} segment${segs.length > 1 ? 's' : ''} at ${hex(segs[0]?.dma ?? 0n)}; memory from ${st.allocator}`;
    }
    if ('unmap' in step) {
      const a = need(attachments, step.unmap.attachment, 'attachment');
      await (await client(a.client)).unmap(a.fd, a.id);
      return `${a.device} unmapped`;
    }
    if ('mmap' in step) {
      const s = step.mmap;
      const b = need(buffers, s.buffer, 'buffer');
      const c = await client(b.client);
      const length = s.length ?? Number((await c.stat(b.fd)).size) - s.offset;
      const id = await c.mmap(b.fd, s.offset, length, PROT[s.prot]);
      if (s.as) mappings.set(s.as, { ...b, id });
      return `CPU mapping ${id} of ${formatSize(length)} (${s.prot})`;
    }
    if ('munmap' in step) {
      const m = need(mappings, step.munmap.mapping, 'mapping');
      await (await client(m.client)).munmap(m.fd, m.id);
      return 'CPU mapping removed';
    }
    if ('write' in step) {
      const s = step.write;
      const m = need(mappings, s.mapping, 'mapping');
      const c = await client(m.client);
      if (s.fill) {
        // a fill is streamed in 1 MiB pieces: its length costs the CLI nothing
        const piece = new Uint8Array(Math.min(s.fill.length, FILL_PIECE)).fill(s.fill.byte);
        let n = 0;
        while (n < s.fill.length) n += await c.write(m.fd, m.id, s.offset + n, piece.subarray(0, Math.min(piece.length, s.fill.length - n)));
        return `wrote ${n} bytes at ${s.offset}`;
      }
      const data = s.text !== undefined ? new TextEncoder().encode(s.text) : s.hex !== undefined ? Uint8Array.from(Buffer.from(s.hex, 'hex')) : new Uint8Array(0);
      const n = await c.write(m.fd, m.id, s.offset, data);
      return `wrote ${n} bytes at ${s.offset}`;
    }
    if ('read' in step) {
      const s = step.read;
      const m = need(mappings, s.mapping, 'mapping');
      const bytes = await (await client(m.client)).read(m.fd, m.id, s.offset, s.length);
      const text = new TextDecoder().decode(bytes);
      if (s.expect_text !== undefined && text !== s.expect_text) throw new SmafError('EIO', `read "${text}", expected "${s.expect_text}"`);
      const hx = Buffer.from(bytes).toString('hex');
      if (s.expect_hex !== undefined && hx !== s.expect_hex.toLowerCase()) throw new SmafError('EIO', `read ${hx}, expected ${s.expect_hex}`);
      return `read ${bytes.length} bytes: ${/^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : hx.slice(0, 64)}`;
    }
    if ('sync' in step) {
      const s = step.sync;
      const b = need(buffers, s.buffer, 'buffer');
      await (await client(b.client)).sync(b.fd, ACCESS[s.access] | (s.phase === 'end' ? 4 : 0));
      return `DMA_BUF_IOCTL_SYNC ${s.phase} ${s.access}`;
    }
    if ('share' in step) {
      const s = step.share;
      const b = need(buffers, s.buffer, 'buffer');
      const token = await (await client(b.client)).exportToken(b.fd);
      const fd = await (await client(s.to)).importToken(token);
      buffers.set(s.as, { client: s.to, fd });
      return `exported by ${b.client} (token ${Buffer.from(token).toString('hex').slice(0, 8)}...), imported by ${s.to} as fd ${fd}`;
    }
    if ('dup' in step) {
      const b = need(buffers, step.dup.buffer, 'buffer');
      const fd = await (await client(b.client)).dup(b.fd);
      buffers.set(step.dup.as, { client: b.client, fd });
      return `fd ${b.fd} duplicated as fd ${fd}`;
    }
    if ('close' in step) {
      const b = need(buffers, step.close.buffer, 'buffer');
      await (await client(b.client)).closeFd(b.fd);
      buffers.delete(step.close.buffer);
      return `fd ${b.fd} closed`;
    }
    if ('stat' in step) {
      const s = step.stat;
      const b = need(buffers, s.buffer, 'buffer');
      const st = await (await client(b.client)).stat(b.fd);
      const e = s.expect;
      if (e && ((e.allocated !== undefined && e.allocated !== st.allocated) || (e.secure !== undefined && e.secure !== st.secure) || (e.allocator !== undefined && e.allocator !== st.allocator))) {
        throw new SmafError('EIO', `stat ${JSON.stringify({ ...st, size: Number(st.size) })} does not match ${JSON.stringify(e)}`);
      }
      return `${formatSize(Number(st.size))}, ${st.allocated ? `allocated by ${st.allocator}` : 'not allocated'}${st.secure ? ', secure' : ''}`;
    }
    if ('explain' in step) {
      const b = need(buffers, step.explain.buffer, 'buffer');
      const e = await (await client(b.client)).explainFd(b.fd);
      return formatExplanation(e);
    }
    if ('dma_copy' in step) {
      const s = step.dma_copy;
      const dst = need(attachments, s.dst, 'attachment');
      const src = need(attachments, s.src, 'attachment');
      if (dst.client !== src.client) throw new SmafError('EINVAL', 'scenario: dma_copy attachments must be in the same client');
      const n = await (await client(dst.client)).dmaCopy(dst.fd, dst.id, src.fd, src.id, s.length, { transform: s.transform === 'decrypt' ? 1 : 0, srcOffset: s.src_offset, dstOffset: s.dst_offset });
      return `${dst.device} ${s.transform === 'decrypt' ? 'decrypted' : 'copied'} ${formatSize(n)}`;
    }
    if ('dma_crc' in step) {
      const s = step.dma_crc;
      const a = need(attachments, s.attachment, 'attachment');
      const crc = await (await client(a.client)).dmaCrc(a.fd, a.id, s.offset, s.length);
      if (s.as) crcs.set(s.as, crc);
      // the expected content: the text, then zeros up to the length (buffers start zeroed)
      const padded = (t: string): Uint8Array => {
        const b = new Uint8Array(s.length);
        b.set(new TextEncoder().encode(t).subarray(0, s.length));
        return b;
      };
      const want = s.expect_text_crc !== undefined ? crc32.buf(padded(s.expect_text_crc)) >>> 0 : typeof s.expect === 'string' ? need(crcs, s.expect, 'crc') : s.expect;
      if (want !== undefined && want !== crc) throw new SmafError('EIO', `crc 0x${crc.toString(16)} differs from the expected 0x${want.toString(16)}`);
      return `${a.device} CRC of ${formatSize(s.length)}: 0x${crc.toString(16).padStart(8, '0')}${want !== undefined ? ' (as expected)' : ''}`;
    }
    if ('disconnect' in step) {
      const c = clients.get(step.disconnect.client);
      if (!c) throw new SmafError('EINVAL', `scenario: no client "${step.disconnect.client}"`);
      c.destroy();
      clients.delete(step.disconnect.client);
      for (const m of [buffers, attachments, mappings] as Map<string, Handle>[]) for (const [k, v] of m) if (v.client === step.disconnect.client) m.delete(k);
      await new Promise((r) => setTimeout(r, 50));
      return `client ${step.disconnect.client} dropped its connection (as a crash would)`;
    }
    throw new SmafError('EINVAL', 'scenario: unknown step');
  }
}
