/** Memory leaving a buffer is scrubbed before its allocator gets it back: no data outlives a buffer. */
import type { Backing } from './contracts.ts';
import type { BufferHost } from './host.ts';

export function scrubAndFree(core: BufferHost, b: Backing, length: number): void {
  const { memory, provenance } = core.platform;
  for (const s of b.segments) {
    memory.zero(s.phys, s.length);
    provenance.cleared(s.phys, s.length);
  }
  core.releaseBacking(b, length);
}
