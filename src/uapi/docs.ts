/** Generated documentation of the ABI (used by `smaf info --abi` and docs/protocol.md). */
import { IOCTLS, type StructDef } from './abi.ts';
import { OPS } from './wire.ts';

const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(8, '0')}`;

export function structMarkdown(s: StructDef): string {
  const rows = s.fields.map((f) => `| ${f.offset} | ${f.type === 'bytes' ? `u8[${f.size}]` : f.type} | ${f.name} | ${f.role} | ${f.doc} |`);
  return [`#### ${s.name} (${s.size} bytes)`, '', '| offset | type | field | role | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

export function abiMarkdown(): string {
  const ioctls = IOCTLS.map((d) => `| ${d.name} | '${d.magic}' | ${d.nr} | ${d.dir} | ${d.struct.name} (${d.struct.size}) | ${hex(d.number)} | ${d.target === 'device' ? '-1 (/dev/smaf)' : 'buffer fd'} | ${d.doc} |`);
  const ops = OPS.map((o) => `| ${o.op} | ${o.name} | ${o.payload} | ${o.result} |`);
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
    '| op | name | payload in | result / payload out |',
    '|---|---|---|---|',
    '| an ioctl number (>= 0x100) | ioctl | exactly `_IOC_SIZE(op)` bytes (else EINVAL) | the struct, updated |',
    ...ops,
  ].join('\n');
}

/** Plain-text ABI listing for terminals. */
export function abiText(): string {
  const lines: string[] = [];
  for (const d of IOCTLS) {
    lines.push(`${d.name.padEnd(26)} ${hex(d.number)}  '${d.magic}' nr ${d.nr} ${d.dir.padEnd(2)} ${d.struct.name} (${d.struct.size} bytes)`);
    for (const f of d.struct.fields) lines.push(`    @${String(f.offset).padEnd(3)} ${(f.type === 'bytes' ? `u8[${f.size}]` : f.type).padEnd(7)} ${f.name.padEnd(10)} ${f.role.padEnd(8)} ${f.doc}`);
  }
  lines.push('', 'wire ops:');
  for (const o of OPS) lines.push(`  ${String(o.op).padStart(4)} ${o.name.padEnd(10)} in: ${o.payload}; out: ${o.result}`);
  return lines.join('\n');
}
