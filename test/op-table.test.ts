/**
 * Every op of the table round-trips through the codecs derived from its row: a request a client
 * encodes is what the daemon decodes, a reply the daemon encodes is what the client decodes. Bad
 * lengths and reserved bits are EINVAL naming the op; a reply that does not fit its row or its JSON
 * schema is EPROTO naming the op; every row has a handler.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isSmafError } from '../src/common/errors.ts';
import { OP_HANDLERS } from '../src/daemon/op-handlers.ts';
import {
  decodeOpReply, decodeOpRequest, encodeOpReply, encodeOpRequest, OP_TABLE, opRowNamed, type OpRow, type OpTableRow, type ReplyLayout,
} from '../src/uapi/index.ts';
import { boundaryArb, fieldArb, garbagePayloadArb, requestArb, structArb } from './helpers/wire-arbitraries.ts';

// the codecs are typed per row; this test drives every row through the same loop, untyped
const rows: readonly OpRow[] = OP_TABLE;
const enc = (row: OpRow, v: object | null): Uint8Array => encodeOpRequest(row as OpTableRow, v as never);
const decodeRequest = (row: OpRow, p: Uint8Array): unknown => decodeOpRequest(row as OpTableRow, p);
const encodeReply = (row: OpRow, r: object) => encodeOpReply(row as OpTableRow, r as never);
const decodeReply = (row: OpRow, result: number, p: Uint8Array): unknown => decodeOpReply(row as OpTableRow, result, p);

test('every request round-trips: the bytes a client encodes decode to the same value in the daemon', () => {
  for (const row of rows) {
    fc.assert(fc.property(requestArb(row), (v) => {
      const bytes = enc(row, v);
      if (row.request.kind === 'struct' && !row.request.tail && v !== null) assert.equal(bytes.length, row.request.struct.size, row.name);
      assert.deepEqual(decodeRequest(row, bytes), v, row.name);
    }), { numRuns: 50 });
  }
});

/** A reply payload of the layout, and the result that goes with it. */
function replyArb(layout: ReplyLayout): fc.Arbitrary<{ result: number; payload?: unknown }> | null {
  switch (layout.kind) {
    case 'none': return fc.nat().map((result) => ({ result }));
    case 'struct': return structArb(layout.struct, (f) => fieldArb(f)).map((payload) => ({ result: 0, payload }));
    case 'array': return fc.array(structArb(layout.struct, (f) => fieldArb(f)), { maxLength: 8 }).map((payload) => ({ result: payload.length, payload }));
    case 'bytes': return fc.uint8Array({ minLength: layout.size ?? 0, maxLength: layout.size ?? 64 }).map((payload) => ({ result: layout.size === undefined ? payload.length : 0, payload }));
    case 'json': return null; // valid JSON replies come from a real daemon: test/op-table.e2e.test.ts
  }
}

test('every binary reply round-trips: what the daemon encodes, the client decodes', () => {
  for (const row of rows) {
    const arb = replyArb(row.reply);
    if (!arb) continue;
    fc.assert(fc.property(arb, (r) => {
      const out = encodeReply(row, r);
      assert.deepEqual(decodeReply(row, out.result, out.payload), r, row.name);
    }), { numRuns: 50 });
  }
});

const fails = (errno: string, re: RegExp) => (e: unknown) => isSmafError(e, errno as never) && re.test((e as Error).message);

test('a payload of the wrong length is EINVAL naming the op; so is a reserved field that is not 0', () => {
  for (const row of rows) {
    const q = row.request;
    fc.assert(fc.property(garbagePayloadArb(row), (p) => {
      const ok = q.kind === 'none' ? p.length === 0 : q.tail ? p.length >= q.struct.size : p.length === q.struct.size || (q.optional === true && p.length === 0);
      if (ok) return;
      assert.throws(() => decodeRequest(row, p), fails('EINVAL', new RegExp(`^${row.name} `)), `${row.name}, ${p.length} bytes`);
    }), { numRuns: 30 });
    if (q.kind !== 'struct') continue;
    for (const f of q.struct.fields.filter((x) => x.role === 'reserved')) {
      const p = new Uint8Array(q.struct.size);
      p[f.offset] = 1;
      assert.throws(() => decodeRequest(row, p), fails('EINVAL', new RegExp(`^${row.name}: reserved field${f.name === 'reserved' ? '' : ` ${f.name}`} must be 0$`)));
    }
  }
});

test('boundary values of every field encode and decode exactly (64-bit lengths included)', () => {
  for (const row of rows) {
    const q = row.request;
    if (q.kind !== 'struct') continue;
    fc.assert(fc.property(structArb(q.struct, (f) => (f.role === 'reserved' ? fieldArb(f) : boundaryArb(f))), (v) => {
      const value = q.tail ? { ...v, data: new Uint8Array(0) } : v;
      assert.deepEqual(decodeRequest(row, enc(row, value)), value, row.name);
    }), { numRuns: 20 });
  }
});

test('a reply that does not fit its row is EPROTO naming the op, never a crash later', () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  assert.throws(() => decodeOpReply(opRowNamed('X_STATE'), 0, bytes('{"time": "now"}')), fails('EPROTO', /malformed X_STATE reply: .*time/));
  assert.throws(() => decodeOpReply(opRowNamed('X_PS'), 0, bytes('not json')), fails('EPROTO', /malformed X_PS reply: not JSON/));
  assert.throws(() => decodeOpReply(opRowNamed('X_HEAPS'), 0, bytes('[{"name": 7}]')), fails('EPROTO', /X_HEAPS reply: 0\.name/));
  assert.throws(() => decodeOpReply(opRowNamed('X_EXPLAIN'), 0, bytes('{}')), fails('EPROTO', /X_EXPLAIN/));
  assert.throws(() => decodeOpReply(opRowNamed('STAT'), 0, new Uint8Array(79)), fails('EPROTO', /malformed STAT reply: smaf_stat_out is 80 bytes, got 79/));
  assert.throws(() => decodeOpReply(opRowNamed('MAP'), 2, new Uint8Array(16)), fails('EPROTO', /MAP reply: 2 entries of 16 bytes expected, got 16/));
  assert.throws(() => decodeOpReply(opRowNamed('EXPORT'), 0, new Uint8Array(15)), fails('EPROTO', /EXPORT reply: 16 payload bytes expected/));
  assert.throws(() => decodeOpReply(opRowNamed('READ'), 10, new Uint8Array(9)), fails('EPROTO', /READ reply/));
  assert.throws(() => decodeOpReply(opRowNamed('X_EVENTS'), 0, bytes('{"events":[{"kind":"nope"}],"matched":0,"more":false,"next":0,"oldest":0}')), fails('EPROTO', /X_EVENTS reply: events\.0/));
});

test('every row has a handler and every handler a row; op numbers and names are unique', () => {
  assert.deepEqual(Object.keys(OP_HANDLERS).sort(), rows.map((r) => r.name).sort());
  assert.equal(new Set(rows.map((r) => r.op)).size, rows.length);
  assert.ok(rows.every((r) => r.op > 0 && r.op < 0x100), 'op numbers stay below the ioctl numbers (>= 0x100)');
});
