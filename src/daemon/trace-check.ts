/**
 * A validator of the Chrome trace-event JSON this project emits, after the Trace Event Format
 * document (JSON Object Format): the fields every event needs, per phase. Tests and the
 * `smaf trace export` test use it; it returns the problems found (none: valid).
 */
import { z } from 'zod';

const base = { name: z.string().min(1), pid: z.number().int().nonnegative(), tid: z.number().int().nonnegative(), cat: z.string().optional() };
const ts = z.number().finite().nonnegative();
const args = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));
/** A recorded operation (docs/trace.md): its record is the event's args, nested arguments included. */
const opArgs = z.looseObject({ seq: z.number().int().positive(), t: z.number().nonnegative(), client: z.number().int().positive(), op: z.string().min(1) });

const eventSchema = z.discriminatedUnion('ph', [
  z.strictObject({ ...base, ph: z.literal('X'), ts, dur: z.number().finite().nonnegative(), args: args.optional() }),
  z.strictObject({ ...base, ph: z.literal('i'), ts, s: z.enum(['g', 'p', 't']), args: z.union([args, opArgs]).optional() }),
  z.strictObject({ ...base, ph: z.literal('b'), ts, cat: z.string().min(1), id2: z.strictObject({ local: z.string().min(1) }), args: args.optional() }),
  z.strictObject({ ...base, ph: z.literal('e'), ts, cat: z.string().min(1), id2: z.strictObject({ local: z.string().min(1) }), args: args.optional() }),
  z.strictObject({ ...base, ph: z.literal('C'), ts, args: z.record(z.string(), z.number().finite()) }),
  z.strictObject({ ...base, ph: z.literal('M'), name: z.enum(['process_name', 'process_sort_index', 'thread_name', 'thread_sort_index']), args: z.union([z.strictObject({ name: z.string() }), z.strictObject({ sort_index: z.number().int() })]) }),
]);

const chromeTraceSchema = z.strictObject({
  traceEvents: z.array(eventSchema),
  displayTimeUnit: z.enum(['ms', 'ns']),
  otherData: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  // metadata, as the format allows: the recording's header
  smaf_recording: z.looseObject({ version: z.literal(1), ops: z.number().int().nonnegative() }).optional(),
});

/** Problems with a parsed trace: schema violations, unbalanced async slices, overlapping children. */
export function checkChromeTrace(doc: unknown): string[] {
  const r = chromeTraceSchema.safeParse(doc);
  if (!r.success) return r.error.issues.slice(0, 10).map((i) => `${i.path.join('.')}: ${i.message}`);
  const problems: string[] = [];
  const ops = r.data.traceEvents.filter((e) => e.cat === 'smaf.op');
  if (ops.some((e) => e.ph !== 'i' || !opArgs.safeParse(e.args).success)) problems.push('a smaf.op event is not an instant event carrying its record');
  if (r.data.smaf_recording && r.data.smaf_recording.ops !== ops.length) problems.push(`smaf_recording says ${r.data.smaf_recording.ops} operations, the trace holds ${ops.length}`);
  const open = new Map<string, number>();
  for (const e of r.data.traceEvents) {
    if (e.ph === 'b' || e.ph === 'e') {
      const key = `${e.pid}/${e.cat}/${e.id2.local}`;
      const n = (open.get(key) ?? 0) + (e.ph === 'b' ? 1 : -1);
      if (n < 0) problems.push(`async slice ${key} ends before it begins`);
      open.set(key, n);
    }
  }
  for (const [key, n] of open) if (n !== 0) problems.push(`async slice ${key} is not closed`);
  // complete slices on one thread must nest (Perfetto drops slices that overlap partially)
  const byThread = new Map<string, { ts: number; end: number; name: string }[]>();
  for (const e of r.data.traceEvents) {
    if (e.ph !== 'X') continue;
    const k = `${e.pid}/${e.tid}`;
    if (!byThread.has(k)) byThread.set(k, []);
    byThread.get(k)!.push({ ts: e.ts, end: e.ts + e.dur, name: e.name });
  }
  for (const [k, slices] of byThread) {
    slices.sort((a, b) => a.ts - b.ts || b.end - a.end);
    const stack: { end: number; name: string }[] = [];
    for (const s of slices) {
      while (stack.length && stack.at(-1)!.end <= s.ts) stack.pop();
      const parent = stack.at(-1);
      if (parent && s.end > parent.end) problems.push(`${k}: slice "${s.name}" overlaps "${parent.name}" without nesting`);
      stack.push(s);
    }
  }
  return problems;
}
