import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderProtocolDoc, renderTraceDoc } from '../scripts/gen-docs.ts';
import { OP_TABLE, opSummary, type OpRow } from '../src/uapi/index.ts';

test('docs/protocol.md is generated from the current uapi table (run npm run docs)', () => {
  const text = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
  assert.equal(renderProtocolDoc(text), text, 'docs/protocol.md is stale: run npm run docs');
  assert.match(text, /SMAF_IOC_CREATE \| 'S' \| 0 \| RW \| smaf_create_data \(128\) \| 0xC0805300/);
  // every op is a line of the ops table, and every payload struct has its table of offsets
  for (const row of OP_TABLE as readonly OpRow[]) {
    const o = opSummary(row);
    assert.ok(text.includes(`| ${o.op} | ${o.name} | ${o.fd} | ${o.payload} | ${o.result} |`), `${row.name} in the ops table`);
    if (row.request.kind === 'struct') assert.match(text, new RegExp(`#### ${row.request.struct.name} \\(${row.request.struct.size} bytes`));
  }
  assert.match(text, /\| 9 \| READ \| buffer \| u32 mapping, u64 offset, u32 length \| bytes read; then the bytes \|/);
  assert.match(text, /#### smaf_read_in \(16 bytes, packed\)\n\n\| offset \| type \| field \| role \| meaning \|\n\|---\|---\|---\|---\|---\|\n\| 0 \| u32 \| mapping \|[^\n]*\n\| 4 \| u64 \| offset \|/);
});

test('docs/trace.md lists every operation a recording holds, with its arguments, from the tables (run npm run docs)', () => {
  const text = readFileSync(new URL('../docs/trace.md', import.meta.url), 'utf8');
  assert.equal(renderTraceDoc(text), text, 'docs/trace.md is stale: run npm run docs');
  assert.match(text, /\| `SMAF_IOC_CREATE` \| -1 \| `length` u64, `flags` u32, `name` string \(< 64 bytes\) \|/);
  assert.match(text, /\| `WRITE` \| a buffer fd \| `mapping` u32, `offset` u64, `length` u64 \|/);
  assert.match(text, /\| `DISCONNECT` \| none \| - \|/);
});
