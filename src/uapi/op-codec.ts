/**
 * Encoders and decoders of every op's request and reply, derived from its row of the op table:
 * the types (what a handler receives and returns, what a client method sends and gets) and the
 * bytes. The daemon decodes requests (EINVAL naming the op on a bad length or reserved field) and
 * encodes replies; the client encodes requests and decodes replies (EPROTO naming the op when a
 * reply does not fit its layout or its JSON schema).
 */
import type { z } from 'zod';
import { SmafError } from '../common/errors.ts';
import type { StructDef, StructValue } from './abi.ts';
import { decodeStruct, encodeStruct, nonZeroReserved, writeStruct } from './codec.ts';
import { fieldList } from './docs.ts';
import type { OpRow, OpTableRow, ReplyLayout } from './ops.ts';

type Empty = Record<string, never>;

/** What a request of the row carries, decoded (the daemon's handlers receive this). */
export type RequestValue<R extends OpRow> = R['request'] extends { kind: 'struct'; struct: infer S extends StructDef }
  ? R['request'] extends { optional: true } ? StructValue<S> | null
  : R['request'] extends { tail: string } ? StructValue<S> & { readonly data: Uint8Array }
  : StructValue<S>
  : Empty;

/** What a client gives to send a request of the row: reserved fields (and any it omits) are 0. */
export type RequestInput<R extends OpRow> = R['request'] extends { kind: 'struct'; struct: infer S extends StructDef }
  ? R['request'] extends { optional: true } ? Partial<StructValue<S>> | null
  : R['request'] extends { tail: string } ? Partial<StructValue<S>> & { readonly data: Uint8Array }
  : Partial<StructValue<S>>
  : Empty;

type PayloadValue<L extends ReplyLayout> = L extends { kind: 'struct'; struct: infer S extends StructDef } ? StructValue<S>
  : L extends { kind: 'array'; struct: infer S extends StructDef } ? readonly StructValue<S>[]
  : L extends { kind: 'bytes' } ? Uint8Array
  : L extends { kind: 'json'; schema: z.ZodType<infer T> } ? T
  : never;

/** A reply of the row: the result and, unless the row's reply is `none`, its payload. */
export type Reply<R extends OpRow> = R['reply'] extends { kind: 'none' } ? { readonly result: number }
  : { readonly result: number; readonly payload: PayloadValue<R['reply']> };

/** What the daemon's handler of a row answers: its reply and, for a row with a file out, the file. */
export type HandlerReply<R extends OpRow> = Reply<R> & (R['file'] extends { out: string } ? { readonly file: number } : unknown);

const enc = new TextEncoder();
const dec = new TextDecoder();

function checkReserved(row: OpRow, s: StructDef, bytes: Uint8Array): void {
  const bad = nonZeroReserved(s, bytes);
  // a field named just `reserved` is not named twice in the message
  if (bad.length) throw new SmafError('EINVAL', `${row.name}: reserved field${bad.join() === 'reserved' ? '' : ` ${bad.join(', ')}`} must be 0`);
}

/** Decode a request payload; EINVAL naming the op when its length or a reserved field is wrong. */
export function decodeOpRequest<R extends OpTableRow>(row: R, p: Uint8Array): RequestValue<R> {
  return decodeRequest(row, p) as RequestValue<R>; // decodeRequest follows the same layout the type is derived from
}

function decodeRequest(row: OpRow, p: Uint8Array): unknown {
  const q = row.request;
  if (q.kind === 'none') {
    if (p.length !== 0) throw new SmafError('EINVAL', `${row.name} takes 0 payload bytes, got ${p.length}`);
    return {};
  }
  const size = q.struct.size;
  if (q.optional) {
    if (p.length === 0) return null;
    if (p.length !== size) throw new SmafError('EINVAL', `${row.name} takes 0 or ${size} payload bytes (${fieldList(q.struct)}), got ${p.length}`);
  } else if (q.tail !== undefined) {
    if (p.length < size) throw new SmafError('EINVAL', `${row.name} needs at least ${size} payload bytes, got ${p.length}`);
  } else if (p.length !== size) throw new SmafError('EINVAL', `${row.name} takes ${size} payload bytes, got ${p.length}`);
  const head = p.subarray(0, size);
  checkReserved(row, q.struct, head);
  const value = decodeStruct(q.struct, head);
  return q.tail === undefined ? value : { ...value, data: p.subarray(size) };
}

/** Encode a request payload (the client). TypeError when a value does not fit its field. */
export function encodeOpRequest<R extends OpTableRow>(row: R, value: RequestInput<R>): Uint8Array {
  return encodeRequest(row, value);
}

function encodeRequest(row: OpRow, value: object | null): Uint8Array {
  const q = row.request;
  if (q.kind === 'none' || value === null) return new Uint8Array(0);
  const head = encodeStruct(q.struct, value);
  if (q.tail === undefined || !('data' in value) || !(value.data instanceof Uint8Array)) return head;
  const out = new Uint8Array(head.length + value.data.length);
  out.set(head);
  out.set(value.data, head.length);
  return out;
}

/** Encode a reply (the daemon): its result and payload bytes. */
export function encodeOpReply<R extends OpTableRow>(row: R, reply: HandlerReply<R>): { result: number; payload: Uint8Array; file?: number } {
  const payload = 'payload' in reply ? encodePayload(row.reply, reply.payload) : new Uint8Array(0);
  const file: unknown = 'file' in reply ? reply.file : undefined;
  return typeof file === 'number' ? { result: reply.result, payload, file } : { result: reply.result, payload };
}

function encodePayload(layout: ReplyLayout, v: unknown): Uint8Array {
  switch (layout.kind) {
    case 'none': return new Uint8Array(0);
    case 'bytes': return v instanceof Uint8Array ? v : new Uint8Array(0);
    case 'json': return enc.encode(JSON.stringify(v));
    case 'struct': return encodeStruct(layout.struct, v as Partial<StructValue>); // typed by Reply<R>
    case 'array': {
      const items = v as readonly Partial<StructValue>[]; // typed by Reply<R>
      const out = new Uint8Array(items.length * layout.struct.size);
      const view = new DataView(out.buffer);
      items.forEach((item, i) => writeStruct(layout.struct, item, out, view, i * layout.struct.size));
      return out;
    }
  }
}

/**
 * Decode a reply (the client) whose result is >= 0 (or the row's `jsonOnError`). EPROTO naming the
 * op when the payload does not fit the layout or the JSON does not fit the schema.
 */
export function decodeOpReply<R extends OpTableRow>(row: R, result: number, payload: Uint8Array): Reply<R> {
  if (row.reply.kind === 'none') return { result } as Reply<R>; // no payload: the reply is its result
  try {
    return { result, payload: decodePayload(row.reply, result, payload) } as Reply<R>; // decoded by the same layout
  } catch (e) {
    throw new SmafError('EPROTO', `smafd sent a malformed ${row.name} reply: ${(e as Error).message}`, { cause: e });
  }
}

function decodePayload(layout: Exclude<ReplyLayout, { kind: 'none' }>, result: number, p: Uint8Array): unknown {
  switch (layout.kind) {
    case 'bytes': {
      const want = layout.size ?? result;
      if (p.length !== want) throw new RangeError(`${want} payload bytes expected, got ${p.length}`);
      return p;
    }
    case 'struct': return decodeStruct(layout.struct, p);
    case 'array': {
      const size = layout.struct.size;
      if (p.length !== result * size) throw new RangeError(`${result} entries of ${size} bytes expected, got ${p.length} bytes`);
      return Array.from({ length: result }, (_, i) => decodeStruct(layout.struct, p.subarray(i * size, (i + 1) * size)));
    }
    case 'json': {
      let doc: unknown;
      try {
        doc = JSON.parse(dec.decode(p));
      } catch (e) {
        throw new SyntaxError(`not JSON (${(e as Error).message})`, { cause: e });
      }
      const r = layout.schema.safeParse(doc);
      if (!r.success) throw new TypeError(r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
      return r.data;
    }
  }
}
