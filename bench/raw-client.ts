/** A bare protocol client for the benchmarks: one outstanding frame at a time, no decoding. */
import { connect, type Socket } from 'node:net';
import { encodeRequest, FrameReader } from '../src/uapi/index.ts';

/** A bare client: one outstanding frame at a time, resolves with the response frame. */
export class RawRtt {
  private readonly reader = new FrameReader(8);
  private waiting: ((f: Uint8Array) => void) | null = null;
  private id = 1;
  constructor(private readonly sock: Socket) {
    sock.on('data', (chunk) => {
      for (const f of this.reader.push(chunk)) {
        const w = this.waiting;
        this.waiting = null;
        w?.(f);
      }
    });
  }
  static open(path: string): Promise<RawRtt> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new RawRtt(s)));
      s.once('error', reject);
    });
  }
  send(op: number, fd: number, payload: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.sock.write(encodeRequest({ id: this.id++, op, fd, payload }));
    });
  }
  /** Send bytes as they are (a benchmark's flood of pipelined frames). */
  writeRaw(bytes: Uint8Array): void {
    this.sock.write(bytes);
  }
  close(): void {
    this.sock.destroy();
  }
}

