/**
 * The /dev/smaf uapi as data: struct layouts and the ioctl table. This one table drives the codec,
 * the daemon's dispatcher, `smaf info --abi` and the generated protocol docs; no offset is written
 * anywhere else.
 */

/** `char` is a NUL-terminated string field (bytes in TypeScript, `char[]` in C); `bytes` raw bytes. */
export type FieldType = 'u32' | 's32' | 'u64' | 'bytes' | 'char';
export type FieldRole = 'in' | 'out' | 'inout' | 'reserved';

/** A field as written in a layout: its offset is computed, its size given only for byte arrays. */
export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  readonly size?: number;
  readonly role: FieldRole;
  readonly doc: string;
}

export interface FieldDef extends FieldSpec {
  readonly offset: number;
  /** Bytes; fixed by the type except for `bytes` and `char`. */
  readonly size: number;
}

/**
 * A struct layout. `F` keeps the field names and types at the type level, so that the values the
 * codec decodes and encodes are typed from the layout (`StructValue<typeof smafInfo>`).
 */
export interface StructDef<F extends readonly FieldSpec[] = readonly FieldSpec[]> {
  readonly name: string;
  readonly size: number;
  readonly fields: readonly FieldDef[];
  /** Fields are back to back with no alignment (a wire payload, `__attribute__((packed))` in C). */
  readonly packed: boolean;
  /** Type-level only: the field specs as written. */
  readonly spec?: F;
}

/** The TypeScript value of a field type: 64-bit fields are bigint, byte arrays Uint8Array. */
export type FieldValue<T extends FieldType> = T extends 'u64' ? bigint : T extends 'bytes' | 'char' ? Uint8Array : number;

/** The value of a struct: one property per field, typed from its layout. */
export type StructValue<S extends StructDef = StructDef> =
  S extends StructDef<infer F> ? { [K in F[number] as K['name']]: FieldValue<K['type']> } : never;

const SIZES: Readonly<Record<Exclude<FieldType, 'bytes' | 'char'>, number>> = { u32: 4, s32: 4, u64: 8 };

/**
 * Lay out fields in order, checking that they tile the struct exactly. A `packed` struct may hold
 * a u64 at any offset (wire payloads: READ's `u32 mapping, u64 offset`); an ioctl struct may not.
 */
export function struct<const F extends readonly FieldSpec[]>(name: string, size: number, fields: F, options: { packed?: boolean } = {}): StructDef<F> {
  let offset = 0;
  const out: FieldDef[] = [];
  const packed = options.packed ?? false;
  for (const f of fields) {
    const s = f.type === 'bytes' || f.type === 'char' ? f.size : SIZES[f.type];
    if (s === undefined || s <= 0) throw new Error(`${name}.${f.name}: a byte array needs a size`);
    if (!packed && f.type === 'u64' && offset % 8 !== 0) throw new Error(`${name}.${f.name}: u64 at unaligned offset ${offset}`);
    out.push({ ...f, offset, size: s });
    offset += s;
  }
  if (offset !== size) throw new Error(`${name}: fields cover ${offset} bytes, struct is ${size}`);
  return { name, size, fields: out, packed };
}

export const SMAF_NAME_LEN = 64;

export const smafCreateData = struct('smaf_create_data', 128, [
  { name: 'version', type: 'u64', role: 'in', doc: 'structure version, must be 0' },
  { name: 'length', type: 'u64', role: 'in', doc: 'buffer length in bytes (rounded up to the page size)' },
  { name: 'flags', type: 'u32', role: 'in', doc: 'SMAF_RDWR (0x2) | SMAF_CLOEXEC (0x80000)' },
  { name: 'reserved0', type: 'u32', role: 'reserved', doc: 'must be 0' },
  { name: 'fd', type: 's32', role: 'out', doc: 'the new buffer fd (must be 0 on input)' },
  { name: 'reserved1', type: 'u32', role: 'reserved', doc: 'must be 0' },
  { name: 'name', type: 'char', size: SMAF_NAME_LEN, role: 'in', doc: 'allocator name hint, NUL-terminated; empty = any' },
  { name: 'reserved2', type: 'bytes', size: 32, role: 'reserved', doc: 'must be 0' },
]);

export const smafSecureFlag = struct('smaf_secure_flag', 64, [
  { name: 'version', type: 'u64', role: 'in', doc: 'structure version, must be 0' },
  { name: 'fd', type: 's32', role: 'in', doc: 'buffer fd' },
  { name: 'reserved0', type: 'u32', role: 'reserved', doc: 'must be 0' },
  { name: 'secure', type: 'u32', role: 'inout', doc: '0 or 1 (out for GET, in for SET)' },
  { name: 'reserved1', type: 'bytes', size: 44, role: 'reserved', doc: 'must be 0' },
]);

export const smafInfo = struct('smaf_info', 128, [
  { name: 'version', type: 'u64', role: 'in', doc: 'structure version, must be 0' },
  { name: 'index', type: 'u32', role: 'in', doc: 'allocator index, 0..count-1' },
  { name: 'reserved0', type: 'u32', role: 'reserved', doc: 'must be 0' },
  { name: 'count', type: 'u32', role: 'out', doc: 'number of allocators' },
  { name: 'reserved1', type: 'u32', role: 'reserved', doc: 'must be 0' },
  { name: 'name', type: 'char', size: SMAF_NAME_LEN, role: 'out', doc: 'allocator name, NUL-terminated' },
  { name: 'reserved2', type: 'bytes', size: 40, role: 'reserved', doc: 'must be 0' },
]);

export const dmaBufSync = struct('dma_buf_sync', 8, [
  { name: 'flags', type: 'u64', role: 'in', doc: 'DMA_BUF_SYNC_READ 1 | WRITE 2, START 0 | END 4' },
]);

// _IOC encoding (asm-generic/ioctl.h)
export const IOC_WRITE = 1;
export const IOC_READ = 2;

export function ioc(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}

function iocDir(cmd: number): number {
  return (cmd >>> 30) & 3;
}
function iocType(cmd: number): number {
  return (cmd >>> 8) & 0xff;
}
function iocNr(cmd: number): number {
  return cmd & 0xff;
}
export function iocSize(cmd: number): number {
  return (cmd >>> 16) & 0x3fff;
}

export type IoctlTarget = 'device' | 'buffer';

export interface IoctlDef<N extends string = string, S extends StructDef = StructDef> {
  readonly name: N;
  readonly magic: string;
  readonly nr: number;
  readonly dir: 'R' | 'W' | 'RW';
  readonly struct: S;
  /** `device`: on /dev/smaf (fd -1); `buffer`: on a buffer fd. */
  readonly target: IoctlTarget;
  readonly number: number;
  readonly doc: string;
}

function ioctl<const N extends string, S extends StructDef>(name: N, magic: string, nr: number, dir: 'R' | 'W' | 'RW', s: S, target: IoctlTarget, doc: string): IoctlDef<N, S> {
  const d = dir === 'RW' ? IOC_READ | IOC_WRITE : dir === 'R' ? IOC_READ : IOC_WRITE;
  return { name, magic, nr, dir, struct: s, target, number: ioc(d, magic.charCodeAt(0), nr, s.size), doc };
}

export const SMAF_IOC_CREATE = ioctl('SMAF_IOC_CREATE', 'S', 0, 'RW', smafCreateData, 'device', 'create a buffer (no memory yet); returns its fd');
export const SMAF_IOC_GET_SECURE_FLAG = ioctl('SMAF_IOC_GET_SECURE_FLAG', 'S', 1, 'RW', smafSecureFlag, 'device', 'read the secure flag of a buffer fd');
export const SMAF_IOC_SET_SECURE_FLAG = ioctl('SMAF_IOC_SET_SECURE_FLAG', 'S', 2, 'RW', smafSecureFlag, 'device', 'set the secure flag (only before the buffer has memory)');
export const SMAF_IOC_GET_INFO = ioctl('SMAF_IOC_GET_INFO', 'S', 3, 'RW', smafInfo, 'device', 'allocator count and the name of allocator `index`');
export const DMA_BUF_IOCTL_SYNC = ioctl('DMA_BUF_IOCTL_SYNC', 'b', 0, 'W', dmaBufSync, 'buffer', 'bracket CPU access (begin/end_cpu_access)');

/** The ioctl table: one row per ioctl (the daemon's handlers are keyed by its names). */
export const IOCTLS = [SMAF_IOC_CREATE, SMAF_IOC_GET_SECURE_FLAG, SMAF_IOC_SET_SECURE_FLAG, SMAF_IOC_GET_INFO, DMA_BUF_IOCTL_SYNC] as const;
export type IoctlRow = (typeof IOCTLS)[number];
export type IoctlName = IoctlRow['name'];
export type IoctlOf<K extends IoctlName> = Extract<IoctlRow, { name: K }>;

export function ioctlNamed<K extends IoctlName>(name: K): IoctlOf<K> {
  return IOCTLS.find((d): d is IoctlOf<K> => d.name === name)!;
}

export const DMA_BUF_SYNC_READ = 1n;
export const DMA_BUF_SYNC_WRITE = 2n;
export const DMA_BUF_SYNC_END = 4n;
export const DMA_BUF_SYNC_VALID = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE | DMA_BUF_SYNC_END;

/**
 * Find the ioctl a command number asks for, as the kernel's dma-heap does: by type and nr; the size
 * encoded in the command may differ from ours (older or newer callers).
 */
export function findIoctl(cmd: number): IoctlRow | undefined {
  return IOCTLS.find((d) => iocType(cmd) === d.magic.charCodeAt(0) && iocNr(cmd) === d.nr && iocDir(cmd) === iocDir(d.number));
}
