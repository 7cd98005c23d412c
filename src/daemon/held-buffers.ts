/**
 * The buffers one client holds through its fds, counted as fds come and go, so that its usage
 * (checked at every CREATE, shown by the dashboard) costs the same with 1 fd or 1,000.
 */
import type { SmafBuffer } from '../core/index.ts';

export class HeldBuffers {
  private readonly fdsOf = new Map<SmafBuffer, number>();
  private bytesHeld = 0;

  /** One more fd of `buf`. */
  add(buf: SmafBuffer): void {
    const n = this.fdsOf.get(buf) ?? 0;
    if (n === 0) this.bytesHeld += buf.length;
    this.fdsOf.set(buf, n + 1);
  }

  /** One fd of `buf` fewer; true when it was the client's last fd of that buffer. */
  remove(buf: SmafBuffer): boolean {
    const n = this.fdsOf.get(buf) ?? 0;
    if (n > 1) {
      this.fdsOf.set(buf, n - 1);
      return false;
    }
    if (n === 1) {
      this.fdsOf.delete(buf);
      this.bytesHeld -= buf.length;
    }
    return true;
  }

  /** Whether some fd holds `buf`. */
  has(buf: SmafBuffer): boolean {
    return this.fdsOf.has(buf);
  }

  /** Distinct buffers held. */
  get buffers(): number {
    return this.fdsOf.size;
  }

  /** Their bytes, each buffer counted once whatever its number of fds. */
  get bytes(): number {
    return this.bytesHeld;
  }
}
