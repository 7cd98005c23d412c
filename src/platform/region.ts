/**
 * Physical memory regions and the pools that hand them out: a page pool for system RAM (scattered
 * pages) and a contiguous pool (bitmap) for CMA, carveouts and the secure carveout.
 */
import { Bitmap } from './bitmap.ts';
import type { SgSegment } from './sg-table.ts';
import { mergeSegments } from './sg-table.ts';

/**
 * `reserved`: memory no allocator may hand out (firmware, secure monitor, remote processors: the
 * device tree's `no-map` and other reserved-memory ranges). It has no pool; it is shown, never used.
 */
export type RegionKind = 'system' | 'cma' | 'carveout' | 'secure-carveout' | 'reserved';
export const REGION_KINDS: readonly RegionKind[] = ['system', 'cma', 'carveout', 'secure-carveout', 'reserved'];

export interface MemoryRegion {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly kind: RegionKind;
  /** Why the region exists (a reserved range's owner, a pool's origin in the device tree). */
  readonly description?: string;
  /** Device-tree node the region comes from. */
  readonly node?: string;
}

export interface RegionStats {
  readonly name: string;
  readonly kind: RegionKind;
  readonly base: number;
  readonly size: number;
  /** Bytes the pool can hand out (size minus ranges reserved by nested regions). */
  readonly capacity: number;
  readonly inUse: number;
  readonly peak: number;
  readonly free: number;
  readonly largestFree: number;
  /** 1 - largestFree/free: 0 when the free memory is one block. */
  readonly fragmentation: number;
  readonly allocations: number;
  readonly failures: number;
  /** The region's description, when it has one (why a reserved range is reserved). */
  readonly description?: string;
}

/** Statistics of a reserved region: nothing can ever be handed out of it. */
export function reservedRegionStats(region: MemoryRegion): RegionStats {
  return {
    name: region.name, kind: region.kind, base: region.base, size: region.size,
    capacity: 0, inUse: 0, peak: 0, free: 0, largestFree: 0, fragmentation: 0, allocations: 0, failures: 0,
    ...(region.description !== undefined ? { description: region.description } : {}),
  };
}

/** Occupied ranges of a pool, for the memory map. */
export interface Occupancy {
  readonly base: number;
  readonly length: number;
}

abstract class Pool {
  protected readonly bitmap: Bitmap;
  protected peakPages = 0;
  protected allocations = 0;
  protected failures = 0;
  protected reservedPages = 0;

  constructor(readonly region: MemoryRegion, readonly pageSize: number) {
    this.bitmap = new Bitmap(region.size / pageSize);
  }

  protected get usedPages(): number {
    return this.bitmap.setCount - this.reservedPages;
  }

  protected noteAlloc(ok: boolean): void {
    if (ok) {
      this.allocations++;
      this.peakPages = Math.max(this.peakPages, this.usedPages);
    } else this.failures++;
  }

  get capacity(): number {
    return (this.bitmap.bits - this.reservedPages) * this.pageSize;
  }

  get inUse(): number {
    return this.usedPages * this.pageSize;
  }

  stats(): RegionStats {
    const free = this.capacity - this.inUse;
    const largestFree = this.bitmap.largestClearRun() * this.pageSize;
    return {
      name: this.region.name, kind: this.region.kind, base: this.region.base, size: this.region.size,
      capacity: this.capacity, inUse: this.inUse, peak: this.peakPages * this.pageSize, free, largestFree,
      fragmentation: free === 0 ? 0 : 1 - largestFree / free,
      allocations: this.allocations, failures: this.failures,
      ...(this.region.description !== undefined ? { description: this.region.description } : {}),
    };
  }

  /** Occupied ranges (reserved nested regions excluded), merged. */
  occupancy(): Occupancy[] {
    const out: Occupancy[] = [];
    const n = this.bitmap.bits;
    let pos = 0;
    while (pos < n) {
      const s = this.bitmap.nextSet(pos, n);
      if (s < 0) break;
      const z = this.bitmap.nextClear(s, n);
      const end = z < 0 ? n : z;
      out.push({ base: this.region.base + s * this.pageSize, length: (end - s) * this.pageSize });
      pos = end;
    }
    return this.withoutReserved(out);
  }

  protected withoutReserved(ranges: Occupancy[]): Occupancy[] {
    return ranges;
  }
}

/** Contiguous ranges from a CMA pool or carveout, first fit with alignment under an address limit. */
export class ContiguousPool extends Pool {
  /**
   * Allocate `bytes` (a multiple of the page size) aligned to `align` bytes, ending at or below
   * `maxAddr` (inclusive). Returns the physical base, or null when no such range is free.
   */
  allocate(bytes: number, align: number, maxAddr: number): number | null {
    const pages = bytes / this.pageSize;
    const alignPages = Math.max(1, align / this.pageSize);
    const limitPages = Math.min(this.bitmap.bits, Math.floor((maxAddr + 1 - this.region.base) / this.pageSize));
    // alignment is of the physical address, not of the index in the pool
    const alignOffset = (this.region.base / this.pageSize) % alignPages;
    const start = limitPages >= pages ? this.bitmap.findZeroArea(pages, alignPages, 0, limitPages, alignOffset) : -1;
    if (start < 0) {
      this.noteAlloc(false);
      return null;
    }
    this.bitmap.set(start, pages);
    this.noteAlloc(true);
    return this.region.base + start * this.pageSize;
  }

  free(phys: number, bytes: number): void {
    this.bitmap.clear((phys - this.region.base) / this.pageSize, bytes / this.pageSize);
  }

  /** Largest free block that ends at or below maxAddr (for match() decisions and explain). */
  largestFreeBelow(maxAddr: number): number {
    const limitPages = Math.min(this.bitmap.bits, Math.floor((maxAddr + 1 - this.region.base) / this.pageSize));
    return limitPages <= 0 ? 0 : this.bitmap.largestClearRun(0, limitPages) * this.pageSize;
  }
}

/**
 * System RAM as scattered pages. Nested reserved regions (CMA, carveouts) are excluded. Free pages
 * sit on a stack seeded in a scrambled 64 KiB-group order (inside 8 MiB zones) and returned LIFO,
 * like a buddy allocator after some uptime: allocations come back as several segments.
 */
export class PagePool extends Pool {
  /**
   * Pages freed and not yet taken again, as runs (LIFO: the top run's first page comes out first):
   * grows with the segments freed, never with the region's size or a buffer's page count.
   */
  private readonly returned: { first: number; n: number }[] = [];
  private returnedPages = 0;
  /** Position in the scrambled sequence of pages never handed out yet, and how many remain. */
  private cursor = 0;
  private untouched: number;
  private readonly reserved: readonly { base: number; size: number }[];
  private readonly groups: number;

  constructor(region: MemoryRegion, pageSize: number, reserved: readonly { base: number; size: number }[]) {
    super(region, pageSize);
    this.reserved = reserved;
    for (const r of reserved) {
      const start = (r.base - region.base) / pageSize;
      const n = r.size / pageSize;
      this.bitmap.set(start, n);
      this.reservedPages += n;
    }
    this.groups = Math.ceil(this.bitmap.bits / GROUP_PAGES);
    this.untouched = this.bitmap.bits - this.reservedPages;
  }

  /**
   * The k-th page of the never-used sequence: 64 KiB groups, scattered (bit-reversed order) inside
   * 8 MiB zones, zones in address order, pages ascending in a group. Allocations come back as several
   * segments, yet free memory does not shatter across all of RAM. Computed, not stored: -1 past the end.
   */
  private virtualPage(k: number): number {
    for (;;) {
      const slot = Math.floor(k / GROUP_PAGES);
      const zone = Math.floor(slot / ZONE_GROUPS);
      if (zone * ZONE_GROUPS >= this.groups) return -1;
      const g = zone * ZONE_GROUPS + reverseBits(slot % ZONE_GROUPS, ZONE_BITS);
      const p = g * GROUP_PAGES + (k % GROUP_PAGES);
      if (g < this.groups && p < this.bitmap.bits) return p;
      // a slot past the end of the last, partial zone or group: skip to the next slot
      k = (slot + 1) * GROUP_PAGES;
      this.cursor = k;
    }
  }

  /**
   * The next run of pages never handed out, at most `max` long, contiguous inside one 64 KiB group
   * (reserved pages end a run), or null. Costs a group, not a page, at a time.
   */
  private nextUntouchedRun(max: number): { first: number; n: number } | null {
    while (this.untouched > 0) {
      const p = this.virtualPage(this.cursor);
      if (p < 0) return null;
      // the rest of this group: pages p, p+1, ... in the order virtualPage gives them
      const left = Math.min(max, GROUP_PAGES - (this.cursor % GROUP_PAGES), this.bitmap.bits - p);
      let n = 0;
      while (n < left && !this.bitmap.test(p + n)) n++;
      if (n === 0) {
        this.cursor++; // a reserved page: skip it
        continue;
      }
      this.cursor += n;
      this.untouched -= n;
      return { first: p, n };
    }
    return null;
  }

  protected override withoutReserved(ranges: Occupancy[]): Occupancy[] {
    let out = ranges;
    for (const r of this.reserved) {
      const next: Occupancy[] = [];
      for (const o of out) {
        const end = o.base + o.length;
        if (end <= r.base || o.base >= r.base + r.size) next.push(o);
        else {
          if (o.base < r.base) next.push({ base: o.base, length: r.base - o.base });
          if (end > r.base + r.size) next.push({ base: r.base + r.size, length: end - (r.base + r.size) });
        }
      }
      out = next;
    }
    return out;
  }

  /** All-or-nothing: `bytes` as scattered pages (merged into segments), or null if not enough free. */
  allocate(bytes: number): SgSegment[] | null {
    let need = bytes / this.pageSize;
    if (need > this.freePages) {
      this.noteAlloc(false);
      return null;
    }
    const segs: SgSegment[] = [];
    while (need > 0) {
      const run = this.takeRun(need);
      this.bitmap.set(run.first, run.n);
      segs.push({ phys: this.region.base + run.first * this.pageSize, length: run.n * this.pageSize });
      need -= run.n;
    }
    this.noteAlloc(true);
    return mergeSegments(segs);
  }

  /** The next run of free pages, at most `max`: freed ones first (LIFO), then never-used ones. */
  private takeRun(max: number): { first: number; n: number } {
    const top = this.returned.at(-1);
    if (top) {
      const n = Math.min(max, top.n);
      const run = { first: top.first, n };
      top.first += n;
      top.n -= n;
      if (top.n === 0) this.returned.pop();
      this.returnedPages -= n;
      return run;
    }
    return this.nextUntouchedRun(max)!; // freePages said there are enough
  }

  free(segments: readonly SgSegment[]): void {
    // pushed back in reverse so that the same pages come back in the same order (LIFO)
    for (let s = segments.length - 1; s >= 0; s--) {
      const seg = segments[s] as SgSegment;
      const first = (seg.phys - this.region.base) / this.pageSize;
      const n = seg.length / this.pageSize;
      this.bitmap.clear(first, n);
      this.returned.push({ first, n });
      this.returnedPages += n;
    }
  }

  get freePages(): number {
    return this.returnedPages + this.untouched;
  }
}

const GROUP_PAGES = 16;
const ZONE_GROUPS = 128;
const ZONE_BITS = 7;

function reverseBits(v: number, bits: number): number {
  let r = 0;
  for (let i = 0; i < bits; i++) r = (r << 1) | ((v >>> i) & 1);
  return r;
}
