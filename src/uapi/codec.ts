/**
 * Encode and decode uapi structs from the layout table. 64-bit fields are bigint; byte arrays
 * are Uint8Array; malformed input throws RangeError/TypeError (converted to EINVAL at the boundary).
 */
import type { StructDef, StructValue } from './abi.ts';

type AnyValue = Record<string, bigint | number | Uint8Array>;

const U64_MAX = 2n ** 64n - 1n;

export function decodeStruct<S extends StructDef>(def: S, bytes: Uint8Array): StructValue<S> {
  if (bytes.length !== def.size) throw new RangeError(`${def.name} is ${def.size} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: AnyValue = {};
  for (const f of def.fields) {
    switch (f.type) {
      case 'u32': out[f.name] = view.getUint32(f.offset, true); break;
      case 's32': out[f.name] = view.getInt32(f.offset, true); break;
      case 'u64': out[f.name] = view.getBigUint64(f.offset, true); break;
      case 'bytes':
      case 'char': out[f.name] = bytes.slice(f.offset, f.offset + f.size); break;
    }
  }
  return out as StructValue<S>; // built field by field from the same layout the type is derived from
}

export function encodeStruct<S extends StructDef>(def: S, value: Partial<StructValue<S>>): Uint8Array {
  const bytes = new Uint8Array(def.size);
  writeStruct(def, value, bytes, new DataView(bytes.buffer), 0);
  return bytes;
}

/** Encode `value` at `at` in `bytes` (whose DataView is `view`): an array of structs takes one buffer. */
export function writeStruct<S extends StructDef>(def: S, value: Partial<StructValue<S>>, bytes: Uint8Array, view: DataView, at: number): void {
  for (const f of def.fields) {
    const v = (value as Partial<AnyValue>)[f.name];
    if (v === undefined) continue;
    const o = at + f.offset;
    switch (f.type) {
      case 'u32':
      case 's32': {
        if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${def.name}.${f.name} must be an integer`);
        if (f.type === 'u32') view.setUint32(o, v, true);
        else view.setInt32(o, v, true);
        break;
      }
      case 'u64': {
        const b = typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : null;
        if (b === null || b < 0n || b > U64_MAX) throw new TypeError(`${def.name}.${f.name} must be a u64`);
        view.setBigUint64(o, b, true);
        break;
      }
      case 'bytes':
      case 'char': {
        // a string may be shorter than its field (the rest is NUL); raw bytes (a token) fill it exactly
        const fits = v instanceof Uint8Array && (f.type === 'char' ? v.length <= f.size : v.length === f.size);
        if (!fits) throw new TypeError(`${def.name}.${f.name} must be ${f.type === 'char' ? 'at most' : 'exactly'} ${f.size} bytes`);
        bytes.set(v, o);
        break;
      }
    }
  }
}

/** Bytes of a NUL-terminated string field. RangeError when the name does not fit with its NUL. */
export function encodeName(name: string, size: number): Uint8Array {
  const raw = new TextEncoder().encode(name);
  if (raw.length >= size) throw new RangeError(`name "${name}" is longer than ${size - 1} bytes`);
  if (raw.includes(0)) throw new RangeError('name contains a NUL byte');
  const out = new Uint8Array(size);
  out.set(raw);
  return out;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A NUL-terminated string field; RangeError when there is no NUL or it is not UTF-8. */
export function decodeName(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  if (end < 0) throw new RangeError('name is not NUL-terminated');
  if (end === 0) return '';
  try {
    return strictUtf8.decode(bytes.subarray(0, end));
  } catch {
    throw new RangeError('name is not valid UTF-8');
  }
}

/**
 * Fit a caller's struct to ours as the kernel's dma-heap ioctl does: a smaller one is zero-filled,
 * extra bytes of a larger one are ignored.
 */
export function fitStruct(def: StructDef, bytes: Uint8Array): Uint8Array {
  if (bytes.length === def.size) return bytes;
  const out = new Uint8Array(def.size);
  out.set(bytes.subarray(0, Math.min(bytes.length, def.size)));
  return out;
}

/** Non-zero reserved fields, by name. */
export function nonZeroReserved(def: StructDef, bytes: Uint8Array): string[] {
  return def.fields
    .filter((f) => f.role === 'reserved' && bytes.subarray(f.offset, f.offset + f.size).some((b) => b !== 0))
    .map((f) => f.name);
}
