/**
 * The trace file (docs/trace.md): the Chrome trace-event JSON that Perfetto opens, which is also
 * a replayable recording. Written one trace event per line; the recording's header is the
 * top-level `smaf_recording`, and each recorded operation is an instant event of category
 * `smaf.op` whose `args` is the record. A recording may also be written as JSON Lines (one record
 * per line, an optional header line `{"smaf_recording": {...}}` first), for traces made from
 * other logs. The reader refuses a file that is not well formed with the line and field at fault.
 */
import { Errno, SmafError } from '../common/errors.ts';
import { nearest } from '../common/edit-distance.ts';
import { JsonSyntaxError, scanJson } from './json-scan.ts';
import { isIntrospection, RECORDED_ARGS, type ArgSpec, type RecordedOpName } from './recording.ts';
import { RECORDING_VERSION, type ChromeTrace, type OpRecord, type RecordingHeader } from './replies.ts';

/** The category of the trace events that carry recorded operations. */
export const OP_CATEGORY = 'smaf.op';
/** The trace's process of client tracks (one thread per client). */
const CLIENTS_PID = 3;

/** A recording read from a file, checked field by field. */
export interface Recording {
  readonly source: string;
  readonly format: 'chrome' | 'json-lines';
  /** Absent in a JSON Lines trace without a header line. */
  readonly header: RecordingHeader | null;
  readonly records: readonly OpRecord[];
  /** The line of the file each record is on. */
  readonly lines: readonly number[];
}

/** Problems found, each `file:line: field: what is wrong`, at most this many. */
const MAX_PROBLEMS = 10;

/** EINVAL listing where a trace is not well formed. */
export class TraceFileError extends SmafError {
  constructor(readonly source: string, readonly problems: readonly string[]) {
    super('EINVAL', `${source} is not a valid trace:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

// ---- writing ---------------------------------------------------------------------------------

/** Each client's name from its HELLO: `client 7 (gst-launch-1.0, pid 4242)`. */
function clientNames(records: readonly OpRecord[]): Map<number, string> {
  const names = new Map<number, string>();
  for (const r of records) {
    if (!names.has(r.client)) names.set(r.client, `client ${r.client}`);
    if (r.op === 'HELLO' && r.result !== undefined && typeof r.args?.comm === 'string') names.set(r.client, `client ${r.client} (${r.args.comm}, pid ${r.args.pid})`);
  }
  return names;
}

/**
 * The trace file: the journal's trace (X_TRACE) with the recording added, one event per line.
 * Operations go on one track per client, at their time; `trace.otherData.origin_epoch_us` is the
 * journal trace's time 0.
 */
export function traceFileText(trace: ChromeTrace, header: RecordingHeader, records: readonly OpRecord[]): string {
  const origin = Number(trace.otherData.origin_epoch_us ?? header.origin_us);
  const offset = header.origin_us - origin;
  const lines: string[] = [];
  lines.push(JSON.stringify({ name: 'process_name', ph: 'M', pid: CLIENTS_PID, tid: 0, args: { name: 'clients (recorded operations)' } }));
  for (const [client, name] of clientNames(records)) lines.push(JSON.stringify({ name: 'thread_name', ph: 'M', pid: CLIENTS_PID, tid: client, args: { name } }));
  for (const e of trace.traceEvents) lines.push(JSON.stringify(e));
  for (const r of records) {
    const name = r.errno !== undefined ? `${r.op} ${r.errno}` : r.op;
    lines.push(JSON.stringify({ name, cat: OP_CATEGORY, ph: 'i', s: 't', pid: CLIENTS_PID, tid: r.client, ts: Math.max(0, r.t + offset), args: r }));
  }
  return `{"smaf_recording":${JSON.stringify(header)},\n"displayTimeUnit":"ms",\n"otherData":${JSON.stringify(trace.otherData)},\n"traceEvents":[\n${lines.join(',\n')}\n]}\n`;
}

// ---- reading ---------------------------------------------------------------------------------

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const show = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v)?.slice(0, 60) ?? String(v));

const U32_MAX = 2 ** 32 - 1;
const U64_MAX = 2n ** 64n - 1n;

function argProblem(spec: ArgSpec, v: unknown): string | null {
  switch (spec.kind) {
    case 'u32': return isInt(v) && v >= 0 && v <= U32_MAX ? null : `must be a whole number 0..${U32_MAX}, got ${show(v)}`;
    case 's32': return isInt(v) && v >= -(2 ** 31) && v < 2 ** 31 ? null : `must be a whole number -2^31..2^31-1, got ${show(v)}`;
    case 'u64': {
      if (isInt(v) && v >= 0) return null;
      if (typeof v === 'string' && /^\d{1,20}$/.test(v) && BigInt(v) <= U64_MAX) return null;
      return `must be a whole number 0..2^64-1 (a decimal string past 2^53), got ${show(v)}`;
    }
    case 'char': {
      if (typeof v !== 'string') return `must be a string, got ${show(v)}`;
      if (v.includes('\0')) return 'must not contain a NUL';
      return new TextEncoder().encode(v).length < spec.size! ? null : `is longer than ${spec.size! - 1} bytes`;
    }
  }
}

const KNOWN_OPS = [...RECORDED_ARGS.keys()];

function opProblem(op: unknown): string | null {
  if (typeof op !== 'string') return `must be an operation name, got ${show(op)}`;
  if (RECORDED_ARGS.has(op as RecordedOpName)) return null;
  if (isIntrospection(op)) return `${op} is introspection: it changes nothing, a recording never holds it (remove the record)`;
  const near = nearest(op, KNOWN_OPS);
  return `unknown operation "${op}"${near ? ` (did you mean ${near}?)` : ''}; operations: ${KNOWN_OPS.join(', ')}`;
}

/** The problems of one record (as `field: what`), in field order. */
function recordProblems(r: Raw): string[] {
  const p: string[] = [];
  const op = opProblem(r.op);
  if (op) return [`op: ${op}`];
  const specs = RECORDED_ARGS.get(r.op as RecordedOpName)!;
  const session = specs.length === 0 && (r.op === 'CONNECT' || r.op === 'DISCONNECT');
  if (r.seq !== undefined && !(isInt(r.seq) && r.seq >= 1)) p.push(`seq: must be a whole number >= 1, got ${show(r.seq)}`);
  if (r.t !== undefined && !(typeof r.t === 'number' && r.t >= 0 && Number.isFinite(r.t))) p.push(`t: must be microseconds >= 0, got ${show(r.t)}`);
  if (!(isInt(r.client) && r.client >= 1)) p.push(`client: must be a client id (a whole number >= 1), got ${show(r.client)}`);
  if (!session && !(isInt(r.fd) && r.fd >= -(2 ** 31) && r.fd < 2 ** 31)) p.push(`fd: must be the fd the request went to (-1 for the device), got ${show(r.fd)}`);
  const args = r.args ?? {};
  if (!isObject(args)) p.push(`args: must be an object, got ${show(args)}`);
  else {
    for (const s of specs) {
      const problem = argProblem(s, args[s.name]);
      if (problem) p.push(`args.${s.name}: ${problem}`);
    }
    for (const k of Object.keys(args)) {
      if (!specs.some((s) => s.name === k)) p.push(`args.${k}: not an argument of ${String(r.op)} (its arguments: ${specs.map((s) => s.name).join(', ') || 'none'})`);
    }
  }
  p.push(...outcomeProblems(r, session));
  for (const k of ['buffer', 'src_buffer'] as const) if (r[k] !== undefined && !(isInt(r[k]) && r[k] >= 1)) p.push(`${k}: must be a buffer id (a whole number >= 1), got ${show(r[k])}`);
  if (r.new_fd !== undefined && !isInt(r.new_fd)) p.push(`new_fd: must be an fd, got ${show(r.new_fd)}`);
  if (r.admin !== undefined && typeof r.admin !== 'boolean') p.push(`admin: must be true or false, got ${show(r.admin)}`);
  if (r.message !== undefined && typeof r.message !== 'string') p.push(`message: must be a string, got ${show(r.message)}`);
  return p;
}

function outcomeProblems(r: Raw, session: boolean): string[] {
  if (r.result !== undefined && r.errno !== undefined) return ['result, errno: an operation has a result (it succeeded) or an errno (it failed), not both'];
  if (r.errno !== undefined) return typeof r.errno === 'string' && r.errno in Errno ? [] : [`errno: unknown errno ${show(r.errno)} (${Object.keys(Errno).join(', ')})`];
  if (r.result !== undefined) return isInt(r.result) && r.result >= 0 ? [] : [`result: must be a whole number >= 0 (a failure is an errno), got ${show(r.result)}`];
  return session ? [] : ['result: missing: every operation has its outcome, a result (>= 0) or an errno'];
}

function headerProblems(h: unknown): string[] {
  if (!isObject(h)) return [`must be an object, got ${show(h)}`];
  const p: string[] = [];
  if (h.version !== RECORDING_VERSION) p.push(`version: this smaf reads version ${RECORDING_VERSION}, got ${show(h.version)}`);
  if (!isObject(h.platform)) p.push(`platform: must be a platform document (the YAML platform format, as JSON), got ${show(h.platform)}`);
  for (const k of ['ops', 'dropped', 'limit'] as const) if (!(isInt(h[k]) && h[k] >= 0)) p.push(`${k}: must be a whole number >= 0, got ${show(h[k])}`);
  if (typeof h.complete !== 'boolean') p.push(`complete: must be true or false, got ${show(h.complete)}`);
  if (h.limits !== undefined && !(isObject(h.limits) && Object.values(h.limits).every(isInt))) p.push('limits: must map each limit to a whole number');
  return p;
}

/** The header with its defaults (a hand-written one may leave the counters out). */
function headerOf(h: Raw): RecordingHeader {
  return {
    version: RECORDING_VERSION, platform: h.platform as Record<string, unknown>, ...(isObject(h.limits) ? { limits: h.limits as Record<string, number> } : {}),
    ops: h.ops as number, complete: h.complete as boolean, dropped: h.dropped as number, limit: h.limit as number,
    unrecorded: isObject(h.unrecorded) ? (h.unrecorded as unknown as RecordingHeader['unrecorded']) : { unknown: 0, malformed: 0, introspection: 0 },
    origin_us: typeof h.origin_us === 'number' ? h.origin_us : 0,
  };
}

class Problems {
  readonly list: string[] = [];
  constructor(private readonly source: string) {}
  add(line: number | null, what: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push(`${this.source}${line !== null ? `:${line}` : ''}: ${what}`);
    else if (this.list.length === MAX_PROBLEMS) this.list.push('(further problems not listed)');
  }
  get full(): boolean {
    return this.list.length > MAX_PROBLEMS;
  }
  throwIfAny(): void {
    if (this.list.length) throw new TraceFileError(this.source, this.list);
  }
}

/**
 * Records in order: `seq` (when given) 1, 2, 3... with none missing and none out of order; `t`
 * never going back. Records without `seq` take their place in the file; without `t`, the last time.
 */
function ordered(raws: readonly Raw[], lines: readonly number[], problems: Problems): OpRecord[] {
  const out: OpRecord[] = [];
  let lastT = 0;
  let seqReported = false;
  const withSeq = raws.filter((r) => r.seq !== undefined).length;
  if (withSeq !== 0 && withSeq !== raws.length) problems.add(lines[raws.findIndex((r) => r.seq === undefined)] ?? null, 'seq: missing (every record has a seq, or none does)');
  raws.forEach((r, i) => {
    const seq = i + 1;
    if (r.seq !== undefined && r.seq !== seq && !seqReported) {
      seqReported = true; // the first one says it: every later record is off by the same step
      const prev = i > 0 ? `after seq ${String(raws[i - 1]!.seq)} (line ${lines[i - 1]})` : 'as the first record';
      problems.add(lines[i]!, `seq: ${String(r.seq)} comes ${prev}: records must be in order, 1, 2, 3..., none missing (reordered or cut?)`);
    }
    const t = typeof r.t === 'number' ? r.t : lastT;
    if (t < lastT) problems.add(lines[i]!, `t: ${t} µs is before the previous record's ${lastT} µs (line ${lines[i - 1]}): records must be in time order`);
    lastT = Math.max(lastT, t);
    out.push({ ...(r as unknown as OpRecord), seq, t });
  });
  return out;
}

function checked(source: string, format: Recording['format'], header: unknown, raws: readonly unknown[], lines: readonly number[]): Recording {
  const problems = new Problems(source);
  let h: RecordingHeader | null = null;
  if (header !== undefined) {
    const hp = headerProblems(header);
    for (const x of hp) problems.add(null, `smaf_recording.${x}`);
    if (hp.length === 0) h = headerOf(header as Raw);
  }
  const objects: Raw[] = [];
  raws.forEach((r, i) => {
    if (problems.full) return;
    if (!isObject(r)) return problems.add(lines[i]!, `a record is an object (client, op, fd, args, result or errno), got ${show(r)}`);
    for (const x of recordProblems(r)) problems.add(lines[i]!, x);
    objects.push(r);
  });
  problems.throwIfAny();
  const records = ordered(objects, lines, problems);
  problems.throwIfAny();
  if (h && h.ops !== records.length) {
    problems.add(lines.at(-1) ?? null, `the file holds ${records.length} records, its header says ${h.ops}: ${records.length < h.ops ? `the last ${h.ops - records.length} are missing (the file was cut?)` : 'records were added'}`);
  }
  problems.throwIfAny();
  return { source, format, header: h, records, lines };
}

/** A trace exported by smafd (Chrome trace-event JSON with `smaf_recording`). */
function fromChrome(source: string, text: string, doc: unknown): Recording {
  const elementLines = scanJson(text);
  if (!isObject(doc) || !Array.isArray(doc.traceEvents)) throw new TraceFileError(source, [`${source}:1: traceEvents: missing: a Chrome trace is an object with a traceEvents array`]);
  const raws: unknown[] = [];
  const lines: number[] = [];
  doc.traceEvents.forEach((e: unknown, i: number) => {
    if (isObject(e) && e.cat === OP_CATEGORY) {
      raws.push(e.args);
      lines.push(elementLines[i] ?? 1);
    }
  });
  if (doc.smaf_recording === undefined) {
    throw new TraceFileError(source, [`${source}: smaf_recording: missing: this trace holds no recording (exported by an older smafd, or one run with --max-recorded-ops 0); only a trace with a recording replays`]);
  }
  return checked(source, 'chrome', doc.smaf_recording, raws, lines);
}

/** One record per line; an optional header line first; blank lines and `#` comments skipped. */
function fromJsonLines(source: string, text: string): Recording {
  const raws: unknown[] = [];
  const lines: number[] = [];
  let header: unknown;
  const all = text.split('\n');
  all.forEach((line, i) => {
    const s = line.trim();
    if (s === '' || s.startsWith('#')) return;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      const cut = i === all.length - 1 || (i === all.length - 2 && all.at(-1)!.trim() === '');
      throw new TraceFileError(source, [`${source}:${i + 1}: not a JSON record${cut && !text.endsWith('\n') ? ' (the last line is cut: the file is truncated?)' : ''}: ${(e as Error).message}`]);
    }
    if (raws.length === 0 && header === undefined && isObject(v) && 'smaf_recording' in v) header = v.smaf_recording;
    else {
      raws.push(v);
      lines.push(i + 1);
    }
  });
  if (raws.length === 0 && header === undefined) throw new TraceFileError(source, [`${source}: empty: a trace holds at least one record`]);
  return checked(source, 'json-lines', header, raws, lines);
}

/**
 * Read a trace: the Chrome trace-event JSON smafd exports, or JSON Lines. TraceFileError (EINVAL)
 * listing each problem with its line and field.
 */
export function parseTraceFile(text: string, source: string): Recording {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // not one JSON document: JSON Lines (its first record parses alone), or a broken trace
    const first = text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
    if (first !== undefined && isJsonObject(first)) return fromJsonLines(source, text);
    try {
      scanJson(text);
    } catch (e) {
      if (e instanceof JsonSyntaxError) throw new TraceFileError(source, [`${source}:${e.line}:${e.column}: ${e.problem}`]);
      throw e;
    }
    throw new TraceFileError(source, [`${source}: not JSON`]);
  }
  if (isObject(doc) && 'traceEvents' in doc) return fromChrome(source, text, doc);
  return fromJsonLines(source, text);
}

function isJsonObject(line: string): boolean {
  try {
    return isObject(JSON.parse(line));
  } catch {
    return false;
  }
}
