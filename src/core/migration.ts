/**
 * Migration: a late attach of a device the memory does not suit moves an unpinned buffer to memory
 * that suits every device (deferred allocation's second chance). Bytes and their provenance move
 * (pages shared with a C program move without a copy: its mapping follows); the old memory is
 * scrubbed and freed.
 */
import { locate, type Device } from '../platform/index.ts';
import type { Backing } from './contracts.ts';
import type { DecisionSink } from './decisions.ts';
import type { BufferRef } from './host.ts';
import { scrub } from './scrub.ts';
import { teardownStep } from './teardown.ts';

/** The buffer's new backing, its bytes copied from `old` (which is scrubbed and freed). */
export function migrate(buf: BufferRef, old: Backing, device: Device, why: string, log: DecisionSink): Backing {
  const { core, length, id } = buf;
  const fresh = core.chooseBacking(buf.info(device), `attach of ${device.name} (migration: ${why})`, log);
  const { memory, provenance } = core.platform;
  let off = 0;
  while (off < length) {
    const src = locate(old.segments, off);
    const dst = locate(fresh.segments, off);
    const n = Math.min(src.contiguous, dst.contiguous, length - off);
    memory.move(dst.phys, src.phys, n);
    provenance.copied(dst.phys, src.phys, n);
    off += n;
  }
  scrub(core, old);
  teardownStep(buf, old.allocator, 'returning the memory the buffer moved from', () => core.releaseBacking(old, length));
  core.platform.events.emit({
    kind: 'migrate', actor: 'core', buffer: id, addr: fresh.segments[0]?.phys, length,
    message: `buffer ${id} moved from ${old.allocator} to ${fresh.allocator} so that ${device.name} can use it (${why})`,
  });
  return fresh;
}
