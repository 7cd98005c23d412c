/**
 * The smafd wire protocol: frames and the op table (docs/protocol.md, "Frames" and "Tables").
 * Request: u32 length | u32 request_id | u32 op | s32 fd | payload.
 * Response: u32 length | u32 request_id | s32 result | payload.
 * `length` counts the bytes after itself. All little-endian. The ops are rows of ops.ts.
 */

export const MAX_FRAME = 16 * 1024 * 1024;
export const REQUEST_HEADER = 12; // after the length field
export const RESPONSE_HEADER = 8;
export const DEVICE_FD = -1;

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
  /** A file (smafd's descriptor) sent with the response as SCM_RIGHTS: the native socket only. */
  readonly file?: number;
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
