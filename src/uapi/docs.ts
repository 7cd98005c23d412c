/** Generated documentation of the ABI (used by `smaf info --abi` and docs/protocol.md). */
import { IOCTLS, type StructDef } from './abi.ts';
import { OP_TABLE, type OpRow } from './ops.ts';
import { teeCallOut, teeParam } from './tee-abi.ts';

const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;
const typeName = (f: StructDef['fields'][number]): string => (f.type === 'bytes' || f.type === 'char' ? `u8[${f.size}]` : f.type);

/** `u32 attachment, u64 offset`: the fields of a layout, in order. */
export function fieldList(s: StructDef): string {
  return s.fields.map((f) => (f.type === 'bytes' || f.type === 'char' ? `u8 ${f.name}[${f.size}]` : `${f.type} ${f.name}`)).join(', ');
}

const FD: Readonly<Record<OpRow['target'], string>> = { device: '-1', buffer: 'buffer', either: '-1 or buffer' };

/** One op as the docs and `smaf info --abi` describe it: its fd, what it takes, what it answers. */
export interface OpSummary {
  readonly op: number;
  readonly name: string;
  readonly fd: string;
  /** Fixed payload size, or null when variable. */
  readonly payloadSize: number | null;
  readonly payload: string;
  readonly result: string;
  readonly doc: string;
}

export function opSummary(row: OpRow): OpSummary {
  const q = row.request;
  const fileIn = row.file?.in ? `; with a file (SCM_RIGHTS): ${row.file.in}` : '';
  const payload = `${q.kind === 'none' ? '-' : `${q.optional ? '- or ' : ''}${fieldList(q.struct)}${q.tail ? `, then ${q.tail}` : ''}`}${fileIn}`;
  const r = row.reply;
  const then = r.kind === 'none' ? '' : r.kind === 'array' ? `; then (${fieldList(r.struct)}) per entry` : r.kind === 'struct' ? `; then ${fieldList(r.struct)}`
    : r.kind === 'bytes' ? `; then ${r.doc}` : `; then UTF-8 JSON: ${r.doc}`;
  const operator = `${row.file?.out ? `; with a file (SCM_RIGHTS): ${row.file.out}` : ''}${row.file ? '. Native socket only, else -EOPNOTSUPP' : ''}${row.operator ? '. Admin socket only, else -EPERM' : ''}`;
  const payloadSize = q.kind === 'none' ? 0 : q.optional || q.tail ? null : q.struct.size;
  return { op: row.op, name: row.name, fd: FD[row.target], payloadSize, payload, result: `${row.result}${then}${operator}`, doc: row.doc };
}

/** Every op, summarised (`smaf info --abi --json`). */
export const OPS: readonly OpSummary[] = OP_TABLE.map(opSummary);

export function opDef(op: number): OpSummary | undefined {
  return OPS.find((o) => o.op === op);
}

function structMarkdown(s: StructDef): string {
  const rows = s.fields.map((f) => `| ${f.offset} | ${typeName(f)} | ${f.name} | ${f.role} | ${f.doc} |`);
  const packed = s.packed ? ', packed' : '';
  return [`#### ${s.name} (${s.size} bytes${packed})`, '', '| offset | type | field | role | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** The structs of the op payloads, each once, in op order; then those inside the TEE calls' bytes. */
function opStructs(): StructDef[] {
  const out = new Set<StructDef>();
  for (const row of OP_TABLE as readonly OpRow[]) {
    if (row.request.kind === 'struct') out.add(row.request.struct);
    if (row.reply.kind === 'struct' || row.reply.kind === 'array') out.add(row.reply.struct);
  }
  return [...out, teeParam, teeCallOut];
}

export function abiMarkdown(): string {
  const ioctls = IOCTLS.map((d) => `| ${d.name} | '${d.magic}' | ${d.nr} | ${d.dir} | ${d.struct.name} (${d.struct.size}) | ${hex(d.number)} | ${d.target === 'device' ? '-1 (/dev/smaf)' : 'buffer fd'} | ${d.doc} |`);
  const ops = OPS.map((o) => `| ${o.op} | ${o.name} | ${o.fd} | ${o.payload} | ${o.result} | ${o.doc} |`);
  const structs = [...new Set(IOCTLS.map((d) => d.struct))].map(structMarkdown);
  return [
    '### ioctls',
    '',
    '| ioctl | magic | nr | dir | struct (size) | number | fd | what |',
    '|---|---|---|---|---|---|---|---|',
    ...ioctls,
    '',
    '### structs (little-endian)',
    '',
    structs.join('\n\n'),
    '',
    '### ops',
    '',
    '| op | name | fd | payload in | result / payload out | what |',
    '|---|---|---|---|---|---|',
    '| an ioctl number (>= 0x100) | ioctl | see above | exactly `_IOC_SIZE(op)` bytes (else EINVAL) | the struct, updated | |',
    ...ops,
    '',
    '### op payloads (little-endian; packed: no padding)',
    '',
    opStructs().map(structMarkdown).join('\n\n'),
  ].join('\n');
}

/** Plain-text ABI listing for terminals. */
export function abiText(): string {
  const lines: string[] = [];
  for (const d of IOCTLS) {
    lines.push(`${d.name.padEnd(26)} ${hex(d.number)}  '${d.magic}' nr ${d.nr} ${d.dir.padEnd(2)} ${d.struct.name} (${d.struct.size} bytes)`);
    for (const f of d.struct.fields) lines.push(`    @${String(f.offset).padEnd(3)} ${typeName(f).padEnd(7)} ${f.name.padEnd(10)} ${f.role.padEnd(8)} ${f.doc}`);
  }
  lines.push('', 'wire ops:');
  for (const o of OPS) lines.push(`  ${String(o.op).padStart(4)} ${o.name.padEnd(10)} fd ${o.fd}; in: ${o.payload}; out: ${o.result}`);
  return lines.join('\n');
}
