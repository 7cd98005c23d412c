/**
 * The smafd wire protocol: frames and the op table (design.md, "Wire protocol, exact").
 * Request: u32 length | u32 request_id | u32 op | s32 fd | payload.
 * Response: u32 length | u32 request_id | s32 result | payload.
 * `length` counts the bytes after itself. All little-endian.
 */

export const MAX_FRAME = 16 * 1024 * 1024;
export const REQUEST_HEADER = 12; // after the length field
export const RESPONSE_HEADER = 8;
export const DEVICE_FD = -1;
/** HELLO's payload: u32 pid @0, u32 reserved @4, u8 comm[64] @8. */
export const HELLO_SIZE = 72;
export const COMM_LEN = 64;
/** SET_NAME's payload: the kernel's DMA_BUF_NAME_LEN, NUL included (so at most 31 name bytes). */
export const DMA_BUF_NAME_LEN = 32;

export interface OpDef {
  readonly op: number;
  readonly name: string;
  /** Fixed payload size, or null when variable. */
  readonly payloadSize: number | null;
  readonly payload: string;
  readonly result: string;
}

export const Op = {
  CLOSE: 1, DUP: 2, ATTACH: 3, DETACH: 4, MAP: 5, UNMAP: 6, MMAP: 7, MUNMAP: 8, READ: 9, WRITE: 10,
  EXPORT: 11, IMPORT: 12, STAT: 13, DMA_COPY: 14, DMA_CRC: 15, HELLO: 16,
  /** What DMA_BUF_SET_NAME_A/_B do on a dma-buf fd (the kernel's ioctl carries a pointer: the wire carries the bytes). */
  SET_NAME: 17,
  /** How many times the buffer's bytes were written through smafd (a CPU copy is still fresh if unchanged). */
  GENERATION: 18,
  /** Extensions for tools (not in the kernel uapi): JSON introspection, like debugfs. */
  X_STATE: 0x80, X_EXPLAIN: 0x81, X_CHECK: 0x82, X_EVENTS: 0x83, X_TRACE: 0x84,
  /** Per-process accounting (`smaf ps`, like Android's dmabuf_dump) and the dma-heaps (`smaf exec`). */
  X_PS: 0x88, X_HEAPS: 0x89,
} as const;

export const OPS: readonly OpDef[] = [
  { op: Op.CLOSE, name: 'CLOSE', payloadSize: 0, payload: '-', result: '0' },
  { op: Op.DUP, name: 'DUP', payloadSize: 0, payload: '-', result: 'new fd' },
  { op: Op.ATTACH, name: 'ATTACH', payloadSize: 64, payload: 'u8 device[64] (NUL-terminated name)', result: 'attachment id' },
  { op: Op.DETACH, name: 'DETACH', payloadSize: 4, payload: 'u32 attachment', result: '0' },
  { op: Op.MAP, name: 'MAP', payloadSize: 8, payload: 'u32 attachment, u32 direction (0 bidir, 1 to device, 2 from device)', result: 'count; then (u64 dma_addr, u64 length) per segment' },
  { op: Op.UNMAP, name: 'UNMAP', payloadSize: 4, payload: 'u32 attachment', result: '0' },
  { op: Op.MMAP, name: 'MMAP', payloadSize: 20, payload: 'u64 offset, u64 length, u32 prot (1 read, 2 write)', result: 'mapping id' },
  { op: Op.MUNMAP, name: 'MUNMAP', payloadSize: 4, payload: 'u32 mapping', result: '0' },
  { op: Op.READ, name: 'READ', payloadSize: 16, payload: 'u32 mapping, u64 offset, u32 length', result: 'bytes read; then the bytes' },
  { op: Op.WRITE, name: 'WRITE', payloadSize: null, payload: 'u32 mapping, u64 offset, then the bytes', result: 'bytes written' },
  { op: Op.EXPORT, name: 'EXPORT', payloadSize: 0, payload: '-', result: '0; then a 16-byte random token' },
  { op: Op.IMPORT, name: 'IMPORT', payloadSize: 16, payload: '16-byte token (fd = -1)', result: 'new fd' },
  { op: Op.STAT, name: 'STAT', payloadSize: 0, payload: '-', result: '0; then u64 size, u32 allocated, u32 secure, u8 allocator[64]' },
  { op: Op.DMA_COPY, name: 'DMA_COPY', payloadSize: 40, payload: 'u32 dst_attachment, s32 src_fd, u32 src_attachment, u32 transform, u64 src_offset, u64 dst_offset, u64 length (fd = the destination buffer)', result: 'bytes copied' },
  { op: Op.DMA_CRC, name: 'DMA_CRC', payloadSize: 24, payload: 'u32 attachment, u32 reserved, u64 offset, u64 length', result: '0; then u32 crc32 (IEEE) of the bytes' },
  { op: Op.HELLO, name: 'HELLO', payloadSize: 72, payload: 'u32 pid, u32 reserved (0), u8 comm[64] (NUL-terminated command name) (fd = -1)', result: '0 (who this client says it is: shown by smaf info, ps and the dashboard; not verified)' },
  { op: Op.SET_NAME, name: 'SET_NAME', payloadSize: DMA_BUF_NAME_LEN, payload: 'u8 name[32] (NUL-terminated, at most 31 bytes; DMA_BUF_SET_NAME)', result: '0 (the name shows in explain, state, ps, the dashboard and the event log)' },
  { op: Op.GENERATION, name: 'GENERATION', payloadSize: 0, payload: '-', result: 'the write generation of the buffer: WRITEs and DMA writes into it so far, modulo 2^31 (unchanged = a CPU copy taken at that generation is still current)' },
  { op: Op.X_STATE, name: 'X_STATE', payloadSize: null, payload: '- or u32 offset, u32 limit (a page of buffers, at most 500) (fd = -1)', result: "0; then UTF-8 JSON: platform, allocators, regions, one page of buffers, events. A client sees only the buffers it holds; the admin socket sees all (extension)" },
  { op: Op.X_CHECK, name: 'X_CHECK', payloadSize: 0, payload: '- (fd = -1)', result: '0 when every invariant holds, else -EIO; then UTF-8 JSON of the checks and of how close each limit is. Admin socket only, else -EPERM (extension)' },
  { op: Op.X_EVENTS, name: 'X_EVENTS', payloadSize: 40, payload: 'u64 after (sequence number; 0 = oldest kept), u64 since (ms since the epoch; 0 = any), u32 kinds (bit mask in the order of EVENT_KINDS; 0 = all), u32 limit (1..1000), u32 client (0 = any), u32 buffer (0 = any), u32 flags (1 = the newest `limit`), u32 reserved (0) (fd = -1)', result: 'number of events; then UTF-8 JSON {events, matched, more, next, oldest}: filtered and paged over the whole journal; on the client socket, only the events of buffers this connection holds (extension)' },
  { op: Op.X_TRACE, name: 'X_TRACE', payloadSize: 8, payload: 'u64 since (ms since the epoch; 0 = the whole journal) (fd = -1)', result: '0; then UTF-8 Chrome trace-event JSON of the journal (Perfetto, chrome://tracing). Admin socket only, else -EPERM (extension)' },
  { op: Op.X_EXPLAIN, name: 'X_EXPLAIN', payloadSize: 4, payload: 'u32 buffer id (fd = -1), or u32 0 with a buffer fd', result: '0; then UTF-8 JSON explain of that buffer: one this client holds (else -ENOENT), any on the admin socket (extension)' },
  { op: Op.X_PS, name: 'X_PS', payloadSize: 0, payload: '- (fd = -1)', result: '0; then UTF-8 JSON: every client process (pid, comm), the buffers it holds (size, name, allocator, mapped), totals per process and per allocator. Admin socket only, else -EPERM (extension, operator)' },
  { op: Op.X_HEAPS, name: 'X_HEAPS', payloadSize: 0, payload: '- (fd = -1)', result: '0; then UTF-8 JSON: the dma-heaps /dev/dma_heap shows (name, allocator, secure) (extension)' },
];

export function opDef(op: number): OpDef | undefined {
  return OPS.find((o) => o.op === op);
}

export interface Request {
  readonly id: number;
  readonly op: number;
  readonly fd: number;
  readonly payload: Uint8Array;
}

export interface Response {
  readonly id: number;
  readonly result: number;
  readonly payload: Uint8Array;
}

export function encodeRequest(r: Request): Uint8Array {
  const out = new Uint8Array(4 + REQUEST_HEADER + r.payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, REQUEST_HEADER + r.payload.length, true);
  v.setUint32(4, r.id >>> 0, true);
  v.setUint32(8, r.op >>> 0, true);
  v.setInt32(12, r.fd, true);
  out.set(r.payload, 16);
  return out;
}

export function encodeResponse(r: Response): Uint8Array {
  const out = new Uint8Array(4 + RESPONSE_HEADER + r.payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, RESPONSE_HEADER + r.payload.length, true);
  v.setUint32(4, r.id >>> 0, true);
  v.setInt32(8, r.result, true);
  out.set(r.payload, 12);
  return out;
}

/** Why a stream must be dropped: the frame cannot be delimited safely. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/**
 * Splits a byte stream into frames. `push` returns the complete frames; throws FrameError for a
 * length shorter than the header or longer than MAX_FRAME (the connection must then be closed).
 *
 * Memory is proportional to the frame being received, whatever the pieces it arrives in: once its
 * length is known, one buffer of that size is filled (so 16 MiB in 1-byte pieces is copied once and
 * holds no per-piece objects), and frames that arrive whole are handed out as views of the chunk.
 */
export class FrameReader {
  /** Up to 3 bytes of a length field split across chunks. */
  private head = new Uint8Array(4);
  private headLen = 0;
  /** The frame being filled (length field excluded), and how much of it has arrived. */
  private partial: Uint8Array | null = null;
  private filled = 0;

  constructor(private readonly header: number) {}

  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.partial) {
        const n = Math.min(this.partial.length - this.filled, chunk.length - at);
        this.partial.set(chunk.subarray(at, at + n), this.filled);
        this.filled += n;
        at += n;
        if (this.filled === this.partial.length) {
          frames.push(this.partial);
          this.partial = null;
        }
        continue;
      }
      if (this.headLen === 0 && chunk.length - at >= 4) {
        const len = new DataView(chunk.buffer, chunk.byteOffset + at, 4).getUint32(0, true);
        this.validate(len);
        if (chunk.length - at >= 4 + len) {
          frames.push(chunk.subarray(at + 4, at + 4 + len)); // whole in this chunk: a view, no copy
          at += 4 + len;
          continue;
        }
        this.partial = new Uint8Array(len);
        this.filled = 0;
        at += 4;
        continue;
      }
      // a length field split across chunks
      const n = Math.min(4 - this.headLen, chunk.length - at);
      this.head.set(chunk.subarray(at, at + n), this.headLen);
      this.headLen += n;
      at += n;
      if (this.headLen === 4) {
        const len = new DataView(this.head.buffer).getUint32(0, true);
        this.validate(len);
        this.headLen = 0;
        this.partial = new Uint8Array(len);
        this.filled = 0;
      }
    }
    return frames;
  }

  private validate(len: number): void {
    if (len < this.header) throw new FrameError(`frame length ${len} is shorter than its ${this.header}-byte header`);
    if (len > MAX_FRAME) throw new FrameError(`frame length ${len} is over the ${MAX_FRAME}-byte limit`);
  }

  /**
   * Memory held for an incomplete frame: the whole buffer of a frame whose length has arrived (it is
   * allocated when the length arrives), or the bytes of a split length field.
   */
  get pending(): number {
    return this.partial ? this.partial.length : this.headLen;
  }

  /** Bytes of the incomplete frame that have arrived. */
  get received(): number {
    return this.partial ? this.filled : this.headLen;
  }
}

export function parseRequest(frame: Uint8Array): Request {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return { id: v.getUint32(0, true), op: v.getUint32(4, true), fd: v.getInt32(8, true), payload: frame.subarray(REQUEST_HEADER) };
}

export function parseResponse(frame: Uint8Array): Response {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return { id: v.getUint32(0, true), result: v.getInt32(4, true), payload: frame.subarray(RESPONSE_HEADER) };
}
