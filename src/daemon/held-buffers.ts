/**
 * The buffers one client holds through its fds, counted as fds come and go and indexed by buffer
 * id, so that its usage (checked at every CREATE, shown by the dashboard) and "does it hold buffer
 * N" (asked for every event an introspection op looks at) cost the same with 1 fd or 1,000.
 */
import type { SmafBuffer } from '../core/index.ts';

export class HeldBuffers {
  private readonly byId = new Map<number, { readonly buffer: SmafBuffer; fds: number }>();
  private bytesHeld = 0;

  /** One more fd of `buf`. */
  add(buf: SmafBuffer): void {
    const held = this.byId.get(buf.id);
    if (held) held.fds++;
    else {
      this.byId.set(buf.id, { buffer: buf, fds: 1 });
      this.bytesHeld += buf.length;
    }
  }

  /** One fd of `buf` fewer; true when it was the client's last fd of that buffer. */
  remove(buf: SmafBuffer): boolean {
    const held = this.byId.get(buf.id);
    if (held && held.fds > 1) {
      held.fds--;
      return false;
    }
    if (held) {
      this.byId.delete(buf.id);
      this.bytesHeld -= buf.length;
    }
    return true;
  }

  /** The buffer with this id, when the client holds an fd of it. */
  get(id: number): SmafBuffer | undefined {
    return this.byId.get(id)?.buffer;
  }

  /** The distinct buffers held, in id order. */
  list(): SmafBuffer[] {
    return [...this.byId.values()].map((h) => h.buffer).sort((a, b) => a.id - b.id);
  }

  /** Distinct buffers held. */
  get buffers(): number {
    return this.byId.size;
  }

  /** Their bytes, each buffer counted once whatever its number of fds. */
  get bytes(): number {
    return this.bytesHeld;
  }
}
