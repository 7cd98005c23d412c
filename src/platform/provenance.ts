/**
 * Where the bytes of each page of secure memory came from: the set of principals whose data is in
 * it. A principal is a normal-world client ("client 3", or "local" in-process) or the secure world
 * ("tee"). Zeros (scrubbed memory) belong to nobody.
 *
 * This is what makes DMA_CRC safe (docs/protocol.md, "What the normal world can observe"): a CRC is
 * computed for a principal only over pages whose content came from that principal alone, so nothing
 * it learns depends on bytes it did not supply. Labels follow the data, page by page, conservatively:
 * a write that covers a whole page replaces the page's label; a partial write adds to it. Labels
 * depend only on which operations ran, never on the bytes, so a refusal reveals nothing either.
 */

export const SECURE_WORLD = 'tee';

const EMPTY: ReadonlySet<string> = new Set();

export class Provenance {
  /** page index -> principals (pages with no entry hold data of nobody: zeros). */
  private readonly pages = new Map<number, ReadonlySet<string>>();

  constructor(private readonly pageSize: number) {}

  /** The principals whose data lies in [addr, addr+len). */
  labelOf(addr: number, len: number): ReadonlySet<string> {
    if (len <= 0 || this.pages.size === 0) return EMPTY;
    const out = new Set<string>();
    const first = Math.floor(addr / this.pageSize);
    const last = Math.floor((addr + len - 1) / this.pageSize);
    for (let p = first; p <= last; p++) for (const who of this.pages.get(p) ?? EMPTY) out.add(who);
    return out;
  }

  /**
   * Data of `who` was written at [addr, addr+len). Whole pages take exactly that label; partly
   * written pages keep what they held and add it.
   */
  written(addr: number, len: number, who: ReadonlySet<string>): void {
    if (len <= 0) return;
    const first = Math.floor(addr / this.pageSize);
    const last = Math.floor((addr + len - 1) / this.pageSize);
    for (let p = first; p <= last; p++) {
      const whole = p * this.pageSize >= addr && (p + 1) * this.pageSize <= addr + len;
      const old = this.pages.get(p);
      const label = whole || !old ? who : new Set([...old, ...who]);
      if (label.size === 0) this.pages.delete(p);
      else this.pages.set(p, label);
    }
  }

  /** Data moved from [src, src+len) to [dst, dst+len), page-aligned (a migration): labels move with it. */
  copied(dst: number, src: number, len: number): void {
    for (let off = 0; off < len; off += this.pageSize) {
      const n = Math.min(this.pageSize, len - off);
      this.written(dst + off, n, this.labelOf(src + off, n));
    }
  }

  /** The range was zeroed (scrub): its pages hold nobody's data. */
  cleared(addr: number, len: number): void {
    if (this.pages.size === 0 || len <= 0) return;
    const first = Math.floor(addr / this.pageSize);
    const last = Math.floor((addr + len - 1) / this.pageSize);
    for (let p = first; p <= last; p++) this.pages.delete(p);
  }
}
