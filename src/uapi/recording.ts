/**
 * The recording of a smafd run: every operation of every client, in order, with its arguments as
 * the op table (ops.ts) and the ioctl table (abi.ts) decode them and its outcome, so that the run
 * can be replayed in process on any platform (`smaf replay`, `smaf what-if`, the dashboard's trace
 * viewer). The file format is in docs/trace.md; this module says what one record holds.
 *
 * A request's arguments are the `in` fields of its struct, by name: u32/s32 as numbers, u64 as
 * numbers (decimal strings past 2^53), names as strings. Not recorded: the bytes of a WRITE (only
 * their `length`), IMPORT's token (a capability: the record names the `buffer` it gave instead),
 * `version` (always 0). Requests that change nothing are not recorded either, and are counted in
 * the header: ops the tables do not know (ENOTTY), requests that do not decode (EINVAL before any
 * handler runs) and the X_* introspection ops.
 */
import { isSmafError } from '../common/errors.ts';
import { findIoctl, iocSize, IOCTLS, SMAF_IOC_CREATE, type FieldDef, type IoctlName, type StructDef } from './abi.ts';
import { decodeName, decodeStruct, fitStruct, nonZeroReserved } from './codec.ts';
import { decodeOpRequest } from './op-codec.ts';
import { OP_TABLE, opRow, type OpName, type OpTableRow } from './ops.ts';
import { SESSION_OPS, type ArgValue, type RecordArgs, type SessionOpName, type Unrecorded } from './replies.ts';
import type { Request } from './wire.ts';

/** The name of a recorded operation: an op of the op table, an ioctl of the ioctl table, or a session op. */
export type RecordedOpName = OpName | IoctlName | SessionOpName;

/** How an argument is written in a record. */
export type ArgKind = 'u32' | 's32' | 'u64' | 'char';

export interface ArgSpec {
  readonly name: string;
  readonly kind: ArgKind;
  /** For `char`: the field's bytes, NUL included (a name holds at most size - 1 bytes). */
  readonly size?: number;
}

/** The name a request's tail (WRITE's bytes) is recorded under: its length. */
const TAIL_ARG = 'length';

const recorded = (f: FieldDef): boolean => (f.role === 'in' || f.role === 'inout') && f.type !== 'bytes' && f.name !== 'version';

function argSpecs(s: StructDef, tail: boolean): ArgSpec[] {
  const specs = s.fields.filter(recorded).map((f): ArgSpec => (f.type === 'char' ? { name: f.name, kind: 'char', size: f.size } : { name: f.name, kind: f.type as ArgKind }));
  if (tail) {
    if (specs.some((a) => a.name === TAIL_ARG)) throw new Error(`${s.name}: a struct with a tail may not have a field named ${TAIL_ARG}`);
    specs.push({ name: TAIL_ARG, kind: 'u64' });
  }
  return specs;
}

/** The arguments each recordable operation carries, derived from the tables (X_* ops are never recorded). */
export const RECORDED_ARGS: ReadonlyMap<RecordedOpName, readonly ArgSpec[]> = new Map<RecordedOpName, readonly ArgSpec[]>([
  ...OP_TABLE.filter((r) => !isIntrospection(r.name)).map((r): [RecordedOpName, ArgSpec[]] => {
    const q: OpTableRow['request'] = r.request;
    return [r.name, q.kind === 'none' ? [] : argSpecs(q.struct, 'tail' in q)];
  }),
  ...IOCTLS.map((d): [RecordedOpName, ArgSpec[]] => [d.name, argSpecs(d.struct, false)]),
  ...SESSION_OPS.map((n): [RecordedOpName, ArgSpec[]] => [n, []]),
]);

/** X_* ops show state and change nothing: never recorded, never replayed. */
export function isIntrospection(name: string): boolean {
  return name.startsWith('X_');
}

/** A request as a recording holds it, or why it is not recorded. */
export type Described =
  | { readonly kind: 'op'; readonly op: OpName | IoctlName; readonly args: RecordArgs }
  | { readonly kind: 'skip'; readonly why: keyof Unrecorded };

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A decoded field as a record writes it; RangeError for a name that does not decode. */
function argValue(spec: ArgSpec, v: bigint | number | Uint8Array): ArgValue {
  if (spec.kind === 'char') return decodeName(v as Uint8Array);
  if (typeof v === 'bigint') return v <= MAX_SAFE ? Number(v) : v.toString();
  return v as number;
}

function argsOf(specs: readonly ArgSpec[], value: Readonly<Record<string, bigint | number | Uint8Array>>, tail?: Uint8Array): RecordArgs {
  const out: Record<string, ArgValue> = {};
  for (const spec of specs) {
    if (spec.name === TAIL_ARG && tail !== undefined) out[TAIL_ARG] = tail.length;
    else out[spec.name] = argValue(spec, value[spec.name]!);
  }
  return out;
}

/**
 * Decode a request as smafd's dispatcher does (the same tables, the same rules: payload size,
 * reserved fields, version, NUL-terminated UTF-8 names), for the recording.
 */
export function describeRequest(req: Request): Described {
  try {
    if (req.op >= 0x100) return describeIoctl(req);
    const row = opRow(req.op);
    if (!row) return { kind: 'skip', why: 'unknown' };
    if (isIntrospection(row.name)) return { kind: 'skip', why: 'introspection' };
    const value = decodeOpRequest(row, req.payload) as Record<string, bigint | number | Uint8Array> | null;
    const tail = 'data' in (value ?? {}) ? (value as { data: Uint8Array }).data : undefined;
    return { kind: 'op', op: row.name, args: argsOf(RECORDED_ARGS.get(row.name)!, value ?? {}, tail) };
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError || isSmafError(e)) return { kind: 'skip', why: 'malformed' };
    throw e;
  }
}

/** Out fields a caller must leave 0 (smafd refuses the ioctl otherwise, before it acts). */
const ZERO_ON_INPUT: Readonly<Partial<Record<IoctlName, readonly string[]>>> = { SMAF_IOC_CREATE: ['fd'] };

function describeIoctl(req: Request): Described {
  const def = findIoctl(req.op);
  if (!def) return { kind: 'skip', why: 'unknown' };
  if (req.payload.length !== iocSize(req.op)) return { kind: 'skip', why: 'malformed' };
  const data = fitStruct(def.struct, req.payload);
  if (nonZeroReserved(def.struct, data).length) return { kind: 'skip', why: 'malformed' };
  const value = decodeStruct(def.struct, data) as Record<string, bigint | number | Uint8Array>;
  if ('version' in value && value.version !== 0n) return { kind: 'skip', why: 'malformed' };
  if (ZERO_ON_INPUT[def.name]?.some((f) => value[f] !== 0)) return { kind: 'skip', why: 'malformed' };
  return { kind: 'op', op: def.name, args: argsOf(RECORDED_ARGS.get(def.name)!, value) };
}

/** The fd SMAF_IOC_CREATE's reply carries (the caller's struct may be too short to hold it). */
export function createdFd(payload: Uint8Array): number | undefined {
  const f = SMAF_IOC_CREATE.struct.fields.find((x) => x.name === 'fd')!;
  if (payload.length < f.offset + 4) return undefined;
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getInt32(f.offset, true);
}

const ARG_TYPES: Readonly<Record<ArgKind, string>> = { u32: 'u32', s32: 's32', u64: 'u64', char: 'string' };
const TARGETS: ReadonlyMap<string, string> = new Map([
  ...OP_TABLE.map((r): [string, string] => [r.name, r.target === 'device' ? '-1' : r.target === 'buffer' ? 'a buffer fd' : '-1 or a buffer fd']),
  ...IOCTLS.map((d): [string, string] => [d.name, d.target === 'device' ? '-1' : 'a buffer fd']),
]);

/** The table of recorded operations in docs/trace.md (`npm run docs`): each op, its fd, its arguments. */
export function recordingMarkdown(): string {
  const rows = [...RECORDED_ARGS].map(([name, specs]) => {
    const args = specs.length ? specs.map((s) => `\`${s.name}\` ${s.kind === 'char' ? `string (< ${s.size} bytes)` : ARG_TYPES[s.kind]}`).join(', ') : '-';
    return `| \`${name}\` | ${TARGETS.get(name) ?? 'none'} | ${args} |`;
  });
  return ['| op | fd | args |', '|---|---|---|', ...rows].join('\n');
}
