/**
 * fast-check arbitraries derived from the uapi tables: for any struct layout, values of its fields;
 * for any op row, valid requests, boundary requests and garbage payloads. The round-trip test and
 * the wire fuzzer use them, so a new op (one row) is fuzzed and round-tripped with no new code.
 */
import fc from 'fast-check';
import type { FieldDef, OpRow, StructDef } from '../../src/uapi/index.ts';

type FieldValue = number | bigint | Uint8Array;
type Value = Record<string, FieldValue>;

/** Plausible values for some fields (the fuzzer's hints, by name and type); others get their whole range. */
export type FieldHints = (f: FieldDef) => fc.Arbitrary<FieldValue> | undefined;

const noHints: FieldHints = () => undefined;

const MAX = { u32: 2 ** 32 - 1, s32: 2 ** 31 - 1, u64: 2n ** 64n - 1n } as const;

/** Any value of a field's type (reserved fields: 0 unless `anyReserved`). */
export function fieldArb(f: FieldDef, hints: FieldHints = noHints, anyReserved = false): fc.Arbitrary<FieldValue> {
  if (f.role === 'reserved' && !anyReserved) return f.type === 'u64' ? fc.constant(0n) : f.type === 'bytes' || f.type === 'char' ? fc.constant(new Uint8Array(f.size)) : fc.constant(0);
  const hint = hints(f);
  if (hint) return hint;
  switch (f.type) {
    case 'u32': return fc.integer({ min: 0, max: MAX.u32 });
    case 's32': return fc.integer({ min: -(2 ** 31), max: MAX.s32 });
    case 'u64': return fc.bigInt({ min: 0n, max: MAX.u64 });
    case 'bytes':
    case 'char': return fc.uint8Array({ minLength: f.size, maxLength: f.size });
  }
}

/** The edges of a field's type: 0, 1, the largest value and one below it. */
export function boundaryArb(f: FieldDef): fc.Arbitrary<FieldValue> {
  switch (f.type) {
    case 'u32': return fc.constantFrom(0, 1, MAX.u32 - 1, MAX.u32);
    case 's32': return fc.constantFrom(-(2 ** 31), -1, 0, 1, MAX.s32);
    case 'u64': return fc.constantFrom(0n, 1n, 2n ** 53n, MAX.u64 - 1n, MAX.u64);
    case 'bytes':
    case 'char': return fc.constantFrom(new Uint8Array(f.size), new Uint8Array(f.size).fill(0xff), new Uint8Array(f.size).fill(0x41));
  }
}

export function structArb(s: StructDef, field: (f: FieldDef) => fc.Arbitrary<FieldValue>): fc.Arbitrary<Value> {
  return fc.record(Object.fromEntries(s.fields.map((f) => [f.name, field(f)]))).map((v) => ({ ...v })); // a plain object, as the codec decodes
}

/** A valid request value of the row (what a handler receives): reserved fields 0, any tail. */
export function requestArb(row: OpRow, hints: FieldHints = noHints): fc.Arbitrary<object | null> {
  const q = row.request;
  if (q.kind === 'none') return fc.constant({});
  const value = structArb(q.struct, (f) => fieldArb(f, hints));
  if (q.tail !== undefined) return fc.tuple(value, fc.uint8Array({ maxLength: 4096 })).map(([v, data]) => ({ ...v, data }));
  return q.optional ? fc.option(value, { nil: null }) : value;
}

/** A request value at the edges of every field (reserved fields included: the daemon must refuse them). */
export function boundaryRequestArb(row: OpRow): fc.Arbitrary<object | null> {
  const q = row.request;
  if (q.kind === 'none') return fc.constant({});
  const value = structArb(q.struct, boundaryArb);
  return q.tail !== undefined ? value.map((v) => ({ ...v, data: new Uint8Array(0) })) : value;
}

/** A payload of the wrong length for the row (one byte short or long, empty, or random), random bytes. */
export function garbagePayloadArb(row: OpRow): fc.Arbitrary<Uint8Array> {
  const q = row.request;
  const size = q.kind === 'none' ? 0 : q.struct.size;
  const lengths = fc.constantFrom(...new Set([0, Math.max(0, size - 1), size + 1, 80]));
  return fc.oneof(lengths, fc.nat(300)).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
}
