/**
 * Memory leaving a buffer is scrubbed before its allocator gets it back: no data outlives a buffer.
 * Pages shared with a C program (its memfd) are zeroed there too, then stop being shared, so that
 * neither the next owner of the memory nor a program that kept the file sees the old bytes.
 */
import type { Backing } from './contracts.ts';
import type { BufferHost } from './host.ts';

/** Zero the memory and clear whose data it held (the platform's own bookkeeping: no plugin runs). */
export function scrub(core: BufferHost, b: Backing): void {
  const { memory, provenance } = core.platform;
  memory.zeroAndDetach(b.segments);
  for (const s of b.segments) provenance.cleared(s.phys, s.length);
}
