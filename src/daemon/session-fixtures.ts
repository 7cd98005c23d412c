/** Raw requests for the tests that drive ClientSession without a socket (one definition for all). */
import { smafErrorFromErrno } from '../common/errors.ts';
import {
  decodeOpReply, encodeOpRequest, encodeStruct, opRowNamed, SMAF_IOC_CREATE, type OpName, type Reply, type Request, type RequestInput, type Response, type RowOf,
} from '../uapi/index.ts';

let rid = 1;

/** A request with a fresh id. */
export const req = (op: number, fd: number, payload: Uint8Array = new Uint8Array(0)): Request => ({ id: rid++, op, fd, payload });

/** Little-endian u32 fields, back to back. */
export function u32(...v: number[]): Uint8Array {
  const b = new Uint8Array(v.length * 4);
  v.forEach((x, i) => new DataView(b.buffer).setUint32(i * 4, x, true));
  return b;
}

/** SMAF_IOC_CREATE of `len` bytes (O_RDWR). */
export const create = (len: number): Request => req(SMAF_IOC_CREATE.number, -1, encodeStruct(SMAF_IOC_CREATE.struct, { length: BigInt(len), flags: 2 }));

/** The fd a CREATE answer carries in its struct. */
export const fdOf = (r: { payload: Uint8Array }): number => new DataView(r.payload.buffer, r.payload.byteOffset).getInt32(24, true);

/**
 * An op of the table on a session, as the client's `op()` sends it: the reply decoded, or the
 * error as a SmafError (its errno and message).
 */
export function call<K extends OpName>(s: { handle(r: Request): Response }, name: K, fd: number, input: RequestInput<RowOf<K>>): Reply<RowOf<K>> {
  const row = opRowNamed(name);
  const r = s.handle(req(row.op, fd, encodeOpRequest(row, input)));
  if (r.result < 0) throw smafErrorFromErrno(-r.result, new TextDecoder().decode(r.payload));
  return decodeOpReply(row, r.result, r.payload);
}
