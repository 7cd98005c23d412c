/**
 * Write generations: how many times the bytes of a buffer were written through smafd (CPU WRITEs,
 * and device DMA into it), modulo 2^31. A client that keeps a CPU copy of a buffer (the preload
 * library's memfd) asks for it at DMA_BUF_IOCTL_SYNC START: unchanged since its last copy, a
 * write-only access needs no copy in. Every path by which a client changes a buffer's bytes bumps
 * it (session.ts: WRITE, DMA_COPY); the bytes never change otherwise while the buffer lives.
 */
import type { SmafBuffer } from '../core/index.ts';

export class WriteGenerations {
  private readonly gens = new WeakMap<SmafBuffer, number>();

  bump(buf: SmafBuffer): void {
    this.gens.set(buf, ((this.gens.get(buf) ?? 0) + 1) & 0x7fffffff);
  }

  get(buf: SmafBuffer): number {
    return this.gens.get(buf) ?? 0;
  }
}
